"""The engine builder's short cuts give what the plain way gives, on the corpus' full list set.

The builder reads each option string once (a cache shared by the rules that repeat it), scans a
pattern once for its tokens and pairs, works out a rule's `$badfilter` identity only when its
text could have one that a `$badfilter` rule names, and builds no `NetworkRule` for the rules it
files. Each test holds one of those against the plain computation on every network line of
EasyList, EasyPrivacy, uBO filters and the hosts list.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from filters.lists.syntax import read_list
from filters.network import rules
from filters.network.engine import NetworkEngine
from filters.network.rules import (
    RuleError,
    parse_network_rule,
    parse_rule_fields,
    pattern_bigrams,
    pattern_tokens,
    rule_keys,
)

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
