"""The engine builder's short cuts give what the plain way gives, on the corpus' full list set.

The network builder reads each option string once (a cache shared by the rules that repeat it), scans a
pattern once for its tokens and pairs, works out a rule's `$badfilter` identity only when its
text could have one that a `$badfilter` rule names, builds no `NetworkRule` for the rules it
files, files runs of plain `||host^` lines at once and `||host^$options` lines by what their option
string gives; the cosmetic store makes no rule object for `domains##.class` lines. Each test holds one of
those against the plain computation on every line of EasyList, EasyPrivacy, uBO filters and the
hosts list.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from filters.lists.syntax import read_list
from filters.network import rules
from filters.network import engine as engine_module
from filters.network.engine import NetworkEngine, index_numbers
from filters.network.index import INDEXES
from filters.network.rules import (
    RuleError,
    parse_network_rule,
    parse_rule_fields,
    pattern_bigrams,
    pattern_tokens,
    rule_keys,
)
from tests.test_engine import index_contents

pytestmark = pytest.mark.corpus

FULL_SET = ["easylist.txt", "easyprivacy.txt", "ublock-filters.txt", "hosts.txt"]


@pytest.fixture(scope="module")
def lists(corpus):
    return [read_list(str(corpus / "lists" / name)) for name in FULL_SET]


@pytest.fixture(scope="module")
def network_lines(lists):
    return [text for filter_list in lists for _, text in filter_list.network]


def _outcome(text):
    try:
        rule = parse_network_rule(text)
    except RuleError as e:
        return ("refused", e.reason, e.unsupported)
    return rule


def test_options_read_once_give_what_a_fresh_read_gives(network_lines):
    # Lines with the options of others, and pattern errors before option ones, as the cache must keep their order.
    lines = network_lines + [text + ",~image,image" for text in network_lines[::50]] + [
        "||$image,~image", "@@/ad.$elemhide,image", "/ad.$removeparam=/[/", "||[::1$removeparam=/[/",
    ]
    warm = [_outcome(text) for text in lines]
    cold = []
    for text in lines:
        rules._OPTIONS.clear()
        cold.append(_outcome(text))
    assert len(warm) > 40_000
    assert warm == cold
    refused = {outcome[1] for outcome in warm if isinstance(outcome, tuple)}
    assert "|| without a host" in refused and "the type options exclude every request type" in refused


def test_fields_are_the_rule(network_lines):
    for text in network_lines:
        try:
            fields = parse_rule_fields(text)
        except RuleError:
            continue
        rule = parse_network_rule(text)
        names = rule.__dataclass_fields__
        assert {name: getattr(rule, name) for name in names} == {name: getattr(fields, name) for name in names}
        assert (fields.host_only, fields.page_flags, fields.identity()) == (rule.host_only, rule.page_flags,
                                                                            rule.identity())


def test_every_rule_is_filed_where_index_numbers_says(lists):
    # The hot path reads a matched rule's part after a block (`$important`, exception, redirect) from
    # `index_numbers`, not from the indexes: both must agree, the builder's short cuts included.
    engine = NetworkEngine(lists)
    filed: dict[int, set[int]] = {}
    for n, name in enumerate(INDEXES):
        index = getattr(engine, name)
        buckets = [hit for _, hit in index.host_items()]
        buckets += [*index.by_token.values(), *index.by_domain.values(), *index.always.values()]
        for hit in buckets:
            for rid in (hit,) if isinstance(hit, int) else hit:
                filed.setdefault(rid, set()).add(n)
    checked = 0
    for rid in range(engine.rule_count):
        text = engine.rule_text(rid)
        if text.startswith("0.0.0.0 "):
            continue  # a hosts-file entry: a plain block, nothing else
        assert filed.get(rid, set()) == set(index_numbers(parse_network_rule(text))), (rid, text)
        checked += 1
    assert checked > 40_000


def _plain_keys(rule):
    """Tokens and pairs the way they were first written: each token run found with its span, then paired."""
    if rule.regex is not None:
        return pattern_tokens(rule), []
    if rule.hostname is not None:
        pattern, first_left, last_right = rule.rest.lower(), False, rule.anchor_end
    else:
        pattern = rule.pattern.lower()
        first_left = rule.anchor_start != 0
        last_right = rule.anchor_end or (rule.anchor_start == 2 and re.fullmatch(r"[A-Za-z0-9._\-\u0080-\U0010ffff]*",
                                                                                 pattern) is not None)
    runs = []
    for m in re.finditer(r"[a-z0-9]+", pattern):
        start, end = m.span()
        left = first_left if start == 0 else pattern[start - 1] != "*"
        right = last_right if end == len(pattern) else pattern[end] != "*"
        runs.append((m.group(), start, end, left, right))
    tokens = [run for run, _, _, left, right in runs if left and right]
    pairs = []
    for (a, _, a_end, a_left, a_right), (b, b_start, _, b_left, b_right) in zip(runs, runs[1:]):
        if a_left and a_right and b_left and "*" not in pattern[a_end:b_start] and (b_right or len(b) >= 4):
            pairs.append((a, b[:4]))
    return tokens, pairs


def test_one_scan_gives_the_tokens_and_pairs(network_lines):
    checked = 0
    for text in network_lines + ["/ads/vtracker*", "/ads/*/image/*", "|https://a1.b2*c3^d4|", "||x.example/ab*cd/ef"]:
        try:
            rule = parse_network_rule(text)
        except RuleError:
            continue
        assert rule_keys(rule) == _plain_keys(rule) == (pattern_tokens(rule), pattern_bigrams(rule)), text
        checked += 1
    assert checked > 20_000


def test_badfilter_cancels_rules_whatever_their_option_order(lists, network_lines):
    # A `$badfilter` twin, options reversed, for every tenth rule with options: exactly those go.
    targets = []
    for text in network_lines[::10]:
        try:
            rule = parse_network_rule(text)
        except RuleError:
            continue
        at = rule.text.rfind("$")
        if at > 0 and not rule.badfilter and rule.replace is None and "$" not in rule.text[:at]:
            targets.append(rule.text)
    twins = [text[: text.rfind("$")] + "$" + ",".join(["badfilter", *reversed(text[text.rfind("$") + 1 :].split(","))])
             for text in targets]
    extra = dataclasses.replace(lists[0], name="twins", path="twins", network=list(enumerate(twins, 1)), cosmetic=[])
    with_twins = NetworkEngine([*lists, extra])
    without = NetworkEngine(lists)
    kept = {with_twins.rule_text(rid) for rid in range(with_twins.rule_count)}
    before = {without.rule_text(rid) for rid in range(without.rule_count)}
    assert len(targets) > 500
    assert before - kept == set(targets)
    assert kept <= before


def test_plain_host_rules_filed_in_runs_as_one_by_one(lists, monkeypatch):
    # The parser keeps long runs of plain `||host^` block rules whole, and `add_list` finds the shorter ones
    # among the other lines; each run is filed at once. Against the same
    # lists with every line filed on its own, and with `$badfilter` twins for every 7th plain rule and for
    # 100 in a row (runs lose some rules, or many): the same rules in force, with the same ids, texts and
    # origins, and the same rule decides each plain host.
    def is_plain(text):
        return engine_module._SIMPLE_HOST.fullmatch(text) is not None and not text.startswith("@@")

    plain = [text for filter_list in lists for _, text in filter_list.network if is_plain(text)]
    texts = [text for _, text in lists[0].network]
    start = next(k for k in range(len(texts)) if all(map(is_plain, texts[k : k + 100])))
    whole_run = texts[start : start + 100]
    twins = [text + "$badfilter" for text in sorted(set(plain[::7]) | set(whole_run))]
    extra = dataclasses.replace(lists[0], name="twins", path="twins", network=list(enumerate(twins, 1)), cosmetic=[])
    chosen = [*lists, extra]
    in_runs = NetworkEngine(chosen)
    assert sum(len(filter_list.network.runs) for filter_list in lists) > 100  # the parser's runs
    # One by one: the lines as a plain list (no runs from the parser), no run found in them by the builder, and
    # every `||host^$options` line parsed in full.
    monkeypatch.setattr(engine_module, "_SIMPLE_BLOCKS", re.compile("(?!)"))
    monkeypatch.setattr(engine_module, "_HOST_WITH_OPTIONS", re.compile("(?!)"))
    one_by_one = NetworkEngine([dataclasses.replace(filter_list, network=list(filter_list.network))
                                for filter_list in chosen])
    assert in_runs.skipped == one_by_one.skipped and in_runs.skipped["removed by $badfilter"] >= len(twins)
    assert in_runs.rule_count == one_by_one.rule_count
    assert index_contents(in_runs) == index_contents(one_by_one)
    for rid in range(in_runs.rule_count):
        assert in_runs.rule_text(rid) == one_by_one.rule_text(rid)
        assert in_runs.rule_origin(rid) == one_by_one.rule_origin(rid)
    cancelled = {text[:-len("$badfilter")] for text in twins}
    kept = {in_runs.rule_text(rid) for rid in range(in_runs.rule_count)}
    assert cancelled.isdisjoint(kept)
    for text in plain[::3]:
        url = "https://" + text[2:-1] + "/x.gif"
        decided = in_runs.check(url, "https://page.example/", "image")
        assert decided == one_by_one.check(url, "https://page.example/", "image"), text
        assert decided.blocked or text in cancelled or decided.rule is not None, text


def _reference_store(lists):
    """The cosmetic store made the plain way: every line through `parse_rule`, rule objects, `RuleIndex(compact=True)`."""
    from filters.cosmetic.injected import InjectedException, InjectedRule
    from filters.cosmetic.rules import (
        _RESPONSE_HEADER,
        CosmeticException,
        CosmeticStore,
        RuleIndex,
        RuleTable,
        RuleTexts,
        parse_rule,
    )
    from filters.cosmetic.selectors import SelectorError, Unsupported
    from filters.lists.syntax import BadLine

    store = CosmeticStore()
    generic, specific_rules, specific, exceptions = [], [], {}, {}
    injected_rules, injected_trust, injected, injected_exceptions = [], [], {}, {}
    seen = set()
    for filter_list in lists:
        for line_no, text in filter_list.cosmetic:
            if _RESPONSE_HEADER.search(text):
                continue
            try:
                parsed = parse_rule(text, filter_list.name, line_no, with_plan=False, trusted=filter_list.trusted)
            except Unsupported as skip:
                store.skipped[skip.reason] += 1
                continue
            except SelectorError as error:
                store.skipped["bad cosmetic rule"] += 1
                store.bad_lines.append(BadLine(filter_list.name, line_no, text, str(error)))
                continue
            if isinstance(parsed, (CosmeticException, InjectedException)):
                into = exceptions if isinstance(parsed, CosmeticException) else injected_exceptions
                for domain in parsed.domains or ("",):
                    into.setdefault(domain, []).append(parsed)
                store.in_force[filter_list.name] += 1
                continue
            injected_rule = isinstance(parsed, InjectedRule)
            identity = (parsed.kind, parsed.key if injected_rule else parsed.selector, parsed.domains, parsed.excluded)
            if identity in seen:
                store.skipped["duplicate cosmetic rule"] += 1
                continue
            seen.add(identity)
            store.rule_count += 1
            store.in_force[filter_list.name] += 1
            if injected_rule:
                for domain in parsed.domains or ("",):
                    injected.setdefault(domain, []).append(len(injected_rules))
                injected_rules.append(parsed)
                injected_trust.append(filter_list.trusted)
            elif parsed.generic:
                generic.append(parsed)
            else:
                for domain in parsed.domains:
                    specific.setdefault(domain, []).append(len(specific_rules))
                specific_rules.append(parsed)
    store.specific = RuleTable.of(RuleTexts.of(specific_rules), specific)
    store.exceptions = {domain: tuple(found) for domain, found in exceptions.items()}
    everywhere = {e.key for e in store.exceptions.get("", ()) if not e.excluded}
    kept = [rule for rule in generic if rule.key not in everywhere]
    if len(kept) < len(generic):
        store.skipped["cosmetic rule excepted everywhere"] += len(generic) - len(kept)
        for rule in generic:
            if rule.key in everywhere:
                store.in_force[rule.list] -= 1
    store.generic = RuleIndex(kept, compact=True)
    named = {e.key for found in store.exceptions.values() for e in found}
    by_key, excluded, with_path = {}, {}, []
    for number, rule in enumerate(kept):
        if rule.key in named:
            by_key.setdefault(rule.key, []).append(number)
        for domain in rule.excluded:
            excluded.setdefault(domain, []).append(number)
        if rule.plan.path is not None:
            with_path.append((number, rule.plan.path))
    store.generic_numbers_by_key = {k: tuple(v) for k, v in by_key.items()}
    store.generic_excluded = {k: tuple(v) for k, v in excluded.items()}
    store.generic_with_path = tuple(with_path)
    store.injected = RuleTable.of(RuleTexts.of(injected_rules, injected_trust), injected)
    store.injected_exceptions = {domain: tuple(found) for domain, found in injected_exceptions.items()}
    return store


def _store_state(store):
    """Everything a store holds, as plain comparable data."""
    def texts(rules):
        return (rules.text, list(rules.offsets), list(rules.lines), list(rules.list_ids), rules.list_names,
                rules.untrusted)

    def table(found):
        return texts(found.rules), {key: list(found.numbers(key)) for key in found}

    generic = store.generic
    return {
        "generic": (texts(generic.rules), generic.by_class, generic.by_id, generic.by_tag, generic.by_attribute,
                    generic.anywhere, generic.gate_attributes, generic.fingerprint),
        "specific": table(store.specific),
        "injected": table(store.injected),
        "rest": (store.exceptions, store.injected_exceptions, store.generic_numbers_by_key, store.generic_excluded,
                 store.generic_with_path, dict(store.skipped), [str(bad) for bad in store.bad_lines], store.rule_count,
                 dict(store.in_force)),
    }


def test_cosmetic_store_is_the_plain_build(lists):
    from filters.cosmetic.rules import CosmeticStore

    store, reference = CosmeticStore.from_lists(lists), _reference_store(lists)
    assert len(store.generic) > 10_000 and len(store.specific) > 5_000
    built, expected = _store_state(store), _store_state(reference)
    for part in expected:
        assert built[part] == expected[part], part


def test_hosts_list_in_bulk_is_read_as_line_by_line(corpus):
    from tests.lists.test_syntax import TestLargeHostsFiles

    text = (corpus / "lists" / "hosts.txt").read_text(encoding="utf-8")
    result = TestLargeHostsFiles()._same(text)
    assert len(result.hosts) > 50_000
