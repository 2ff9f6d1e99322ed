"""Finding the rules that broke a page: a recording replayed with subsets of the rules that fired on it.

    replay = Replay(engine, records, Expectation("text", "Three years ago"))
    result = find_culprits(replay, progress=print)
    result.status, [(c.rule.text, c.rule.list, c.rule.line, c.exception) for c in result.culprits]

`Replay` decides the recorded requests and rewrites the recorded page once with every rule, noting
which rules fired (`NetworkEngine.fired`: every rule that blocks, redirects or modifies a request;
the rewriter's rule hits: every cosmetic rule that removed or changed an element). Those rules, and
only those, are the candidates. A subset is tried by switching the others off (`Engine.subset`:
network rules by id, cosmetic ones by list and line), never by building an engine again.

`Search` is delta debugging (Zeller's ddmin) driven by answers: it names the subset to try, is told
whether the page is still broken with it, and ends with a smallest set of rules that breaks the
page (one rule, or rules that break it only together); when other rules still break it with those
off, it searches again among the rest. The same `Search` runs offline (`find_culprits`, answered
by the replay) and live (`LiveBisect`, answered by the user reloading the page in the proxy).

Each culprit gets an exception for the page's site only (`@@...$domain=site`, `site#@#selector`,
`site#@#+js(...)`); `verify` builds the engine again with them and checks that the expectation then
holds and that every other rule still fires.

Scriptlets and styles put into a page act in a browser only: a replay cannot tell whether they break
it, so they are named (`Result.untried`) but not tried; the live bisection tries them.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..html import charset
from ..html.replace import replace_body
from ..html.rewrite import parse, rewrite_page
from ..network.rules import options_start, split_options
from ..request import host_of, registrable_domain
from .recordings import ANSWERED_ACTIONS, Record

NETWORK = "network"
COSMETIC = "cosmetic"  # element hiding, HTML filters, attribute edits: what the rewriter applies
SCRIPTLET = "scriptlet"
STYLE = "style"
EXPECTATIONS = ("text", "selector", "allowed")
MAX_ROUNDS = 8  # searches after the first, when other rules still break the page with the culprits off

Progress = Callable[[str], None]


class CulpritError(Exception):
    """The search cannot run: the recording does not hold what the expectation needs, or the lists are unusable."""


@dataclass(frozen=True, slots=True)
class FiredRule:
    """A rule that fired on the page: what it is, where it is written, and (network rules) its id in the engine."""

    kind: str  # NETWORK, COSMETIC, SCRIPTLET or STYLE
    text: str
    list: str
    line: int
    rid: int | None = None

    @property
    def place(self) -> tuple[str, int]:
        return (self.list, self.line)

    def where(self) -> str:
        return f"{self.list}:{self.line}"


@dataclass(frozen=True, slots=True)
class Expectation:
    """What should be true of the page: its text contains `value`, an element matches it, or requests pass."""

    kind: str  # "text", "selector" or "allowed"
    value: str

    def __post_init__(self):
        if self.kind not in EXPECTATIONS:
            raise ValueError(f"unknown expectation {self.kind!r} (expected one of {', '.join(EXPECTATIONS)})")
        if not self.value.strip():
            raise ValueError("the expectation needs a value")
        if self.kind == "selector":
            import soupsieve

            try:
                soupsieve.compile(self.value)
            except Exception as e:  # soupsieve raises its own SelectorSyntaxError and ValueError
                raise ValueError(f"not a CSS selector: {self.value!r} ({e})") from None

    def describe(self) -> str:
        if self.kind == "text":
            return f"the page's text contains {self.value!r}"
        if self.kind == "selector":
            return f"the page has an element matching {self.value!r}"
        return f"every request whose URL contains {self.value!r} is let through"


# --- replaying a recording ---------------------------------------------------------------------------


class Replay:
    """A recording decided and rewritten by an engine, with the rules that fired, and subsets tried on it."""

    def __init__(self, engine, records: Iterable[Record], expectation: Expectation, page_url: str | None = None):
        self.engine = _in_process(engine)
        self.expectation = expectation
        exchanges = [r for r in records if r.is_exchange and r.request is not None]
        self.page = _find_page(exchanges, page_url, required=expectation.kind != "allowed")
        if expectation.kind != "allowed" and self.page.action == "rewritten" and (self.page.removed or self.page.selectors):
            raise CulpritError(f"the recording holds {self.page.url} as dejunk rewrote it ({self.page.removed or 'some'} "
                               "elements already removed): record the page again with dejunk stepping aside on its "
                               "site (dejunk.allow SITE), or use dejunk.bisect.start SITE in the proxy")
        if expectation.kind == "allowed":
            self.targets = [r for r in exchanges if expectation.value in r.url]
            if not self.targets:
                raise CulpritError(f"no request in the recording has {expectation.value!r} in its URL")
        else:
            self.targets = [self.page]
        page_url = self.page.url if self.page is not None else (page_url or self.targets[0].request.source_url
                                                                 or self.targets[0].url)
        self.page_url = page_url
        self.site = registrable_domain(host_of(page_url)) or host_of(page_url)
        self.replays = 0  # pages rewritten or requests decided anew, for the curious
        self._memo: dict[tuple[frozenset, frozenset], tuple[bool, str]] = {}
        self.fired: list[FiredRule] = []
        self.untried: list[FiredRule] = []
        self._fired_by_target: list[tuple[int, ...]] = []
        self._collect()

    def _collect(self) -> None:
        network = self.engine.network
        seen: dict[int, FiredRule] = {}
        for record in self.targets:
            rids = network.fired(record.request)
            self._fired_by_target.append(rids)
            for rid in rids:
                if rid not in seen:
                    name, line = network.rule_origin(rid)
                    seen[rid] = FiredRule(NETWORK, network.rule_text(rid), name, line, rid)
        fired = sorted(seen.values(), key=lambda r: (r.list, r.line))
        if self.page is not None and self.expectation.kind != "allowed":
            result, rules = self._rewrite(self.engine)
            cosmetic: dict[tuple[str, int], FiredRule] = {}
            for hit in result.rule_hits if result is not None else ():
                cosmetic.setdefault((hit.list, hit.line), FiredRule(COSMETIC, hit.rule, hit.list, hit.line))
            fired.extend(sorted(cosmetic.values(), key=lambda r: r.place))
            if rules is not None and result is not None and result.injected:
                for text, (name, line) in zip(rules.injected_rules, rules.injected_at):
                    kind = SCRIPTLET if "+js(" in text else STYLE
                    self.untried.append(FiredRule(kind, text, name, line))
        self.fired = fired

    def holds(self, applied: Iterable[FiredRule]) -> tuple[bool, str]:
        """Whether the expectation holds with only `applied` of the fired rules (and every rule that did not fire).

        Returns (holds, why not)."""
        applied = set(applied)
        off = [rule for rule in self.fired if rule not in applied]
        network_off = frozenset(r.rid for r in off if r.kind == NETWORK)
        cosmetic_off = frozenset(r.place for r in off if r.kind != NETWORK)
        key = (network_off, cosmetic_off)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._holds(self.engine.subset(network_off, cosmetic_off), network_off)
        return found

    def _holds(self, engine, network_off: frozenset[int]) -> tuple[bool, str]:
        if self.expectation.kind == "allowed":
            for record, rids in zip(self.targets, self._fired_by_target):
                if not rids:
                    continue  # nothing blocked it with every rule on
                self.replays += 1
                decision = engine.check_request(record.request)
                if decision.blocked:
                    how = "redirected" if decision.redirect else "blocked"
                    return False, f"{record.url} is {how} by {decision.filter} ({decision.list}:{decision.line})"
            return True, ""
        result, _ = self._rewrite(engine)
        if result is None:
            decision = engine.check_request(self.page.request)
            return False, f"the page itself is blocked by {decision.filter} ({decision.list}:{decision.line})"
        return self._check_document(result.body)

    def _rewrite(self, engine):
        """(RewriteResult, PageRules) of the page with this engine; (None, None) when the engine blocks the page."""
        page = self.page
        self.replays += 1
        decision = engine.check_request(page.request)
        if decision.blocked:
            return None, None
        body = page.page
        content_type = page.content_type or "text/html"
        if decision.replace:
            body = replace_body(body, content_type, decision.replace).body
        rules = engine.cosmetic(page.url)
        if rules is None:
            return _Unchanged(body), None
        return rewrite_page(body, url=page.url, content_type=content_type, rules=rules), rules

    def _check_document(self, body: bytes) -> tuple[bool, str]:
        content_type = self.page.content_type or "text/html"
        _, text, clean = charset.decode_page(body, content_type)
        if not clean:
            text = re.sub("[\udc80-\udcff]", "\ufffd", text)
        soup = parse(text)
        if self.expectation.kind == "selector":
            if soup.select_one(self.expectation.value) is not None:
                return True, ""
            return False, f"no element matches {self.expectation.value!r}"
        wanted = _normalized(self.expectation.value)
        if wanted in _normalized(visible_text(soup)):
            return True, ""
        return False, f"the page's text lacks {self.expectation.value!r}"


class _Unchanged:
    def __init__(self, body: bytes):
        self.body = body
        self.rule_hits = ()
        self.injected = ()


def _in_process(engine):
    """The engine with its generic cosmetic index in memory (a proxy's engine keeps it in a file for workers)."""
    store = getattr(engine, "cosmetic_store", None)
    generic = getattr(store, "generic", None)
    if generic is not None and hasattr(generic, "load") and not hasattr(generic, "rules"):
        return engine.with_cosmetic_store(store.with_generic(generic.load()))
    return engine


def _find_page(exchanges: list[Record], page_url: str | None, required: bool) -> Record | None:
    """The document at `page_url` (default: the first HTML document recorded with its body)."""
    documents = [r for r in exchanges if r.page is not None]
    if page_url:
        for record in documents:
            if record.url == page_url:
                return record
        for record in exchanges:
            if record.url == page_url:
                if not required:
                    return None
                why = ("dejunk answered it when it was recorded" if record.action in ANSWERED_ACTIONS
                       else "the recording holds no HTML body for it")
                raise CulpritError(f"{page_url} cannot be replayed: {why}")
        if required:
            raise CulpritError(f"{page_url} is not in the recording")
        return None
    if documents:
        return documents[0]
    if required:
        raise CulpritError("the recording holds no HTML document with its body (give --url, or record the page load)")
    return None


_HIDDEN_TAGS = ("script", "style", "noscript", "template", "head", "title")


def visible_text(soup) -> str:
    """The text a reader sees: everything but scripts, styles, templates and the head."""
    for element in soup.find_all(_HIDDEN_TAGS):
        element.decompose()
    return soup.get_text(" ")


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


# --- delta debugging -----------------------------------------------------------------------------------


class Search:
    """ddmin over candidate rules, driven by answers: try `subset`, then `answer(broken)`, until `done`.

    It first tries no rule at all (the page must then be fine, or filtering is not the cause), then
    narrows down to a smallest set that still breaks the page. The same subset is never asked twice.
    """

    def __init__(self, candidates: Sequence, max_rounds: int = MAX_ROUNDS):
        self.candidates = tuple(candidates)
        self.max_rounds = max_rounds
        self.culprits: list = []
        self.status = "searching"  # then "found", "not_filtering" (broken with no rule) or "incomplete"
        self.steps = 0  # subsets tried (answers given)
        self.done = False
        self.subset: tuple | None = None
        self._answers: dict[frozenset, bool] = {}
        self._run = self._search()
        self._advance(None)

    def answer(self, broken: bool) -> None:
        """Whether the page is broken with only `subset` of the candidates applied."""
        if self.done:
            raise RuntimeError("the search is over")
        self.steps += 1
        self._answers[frozenset(self.subset)] = broken
        self._advance(broken)

    def _advance(self, broken) -> None:
        try:
            subset = self._run.send(broken) if broken is not None else next(self._run)
            while frozenset(subset) in self._answers:
                subset = self._run.send(self._answers[frozenset(subset)])
        except StopIteration:
            self.done = True
            self.subset = None
            return
        self.subset = tuple(subset)

    def _search(self):
        if (yield ()):
            self.status = "not_filtering"
            return
        remaining = list(self.candidates)
        for _ in range(self.max_rounds):
            found = yield from _ddmin(remaining)
            self.culprits.extend(found)
            remaining = [c for c in remaining if c not in found]
            if not remaining or not (yield tuple(remaining)):
                self.status = "found"
                return
        self.status = "incomplete"


def _ddmin(items: list):
    """Zeller's ddmin as a generator: yields subsets, is sent whether each still fails; returns a 1-minimal one."""
    n = 2
    while len(items) >= 2:
        chunks = _split(items, n)
        reduced = False
        for chunk in chunks:
            if (yield tuple(chunk)):
                items, n, reduced = chunk, 2, True
                break
        if not reduced and n > 2:  # with two chunks a complement is the other chunk, just tried
            for i in range(len(chunks)):
                complement = [x for j, chunk in enumerate(chunks) if j != i for x in chunk]
                if (yield tuple(complement)):
                    items, n, reduced = complement, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), 2 * n)
    return list(items)


def _split(items: list, n: int) -> list[list]:
    size, extra = divmod(len(items), n)
    chunks, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        if end > start:
            chunks.append(items[start:end])
        start = end
    return chunks


# --- exceptions ---------------------------------------------------------------------------------------

_COSMETIC_MARKER = re.compile(r"#@?(?:\$\?|\?|\$|%)?#|\$@?\$")
# Options an exception for one site does not take over from the rule it undoes.
_DROPPED_OPTIONS = ("domain", "from", "important", "badfilter", "redirect")


def exception_for(rule: FiredRule, site: str) -> str:
    """The rule that undoes `rule` on `site` only (for an `$important` block, the only way: `$badfilter`)."""
    text = rule.text
    if rule.kind != NETWORK:
        marker = _COSMETIC_MARKER.search(text)
        separator = marker.group(0)
        return f"{site}{separator[0]}@{separator[1:]}{text[marker.end():]}"
    if text.startswith("0.0.0.0 "):
        return f"@@||{text.split()[1]}^$domain={site}"
    at = options_start(text)
    pattern = text if at < 0 else text[:at]
    options = [] if at < 0 else split_options(text[at + 1:])
    names = [o.strip().split("=", 1)[0].lower() for o in options]
    if "important" in names:
        return f"{text}$badfilter" if at < 0 else f"{text},badfilter"
    kept = [o.strip().replace(",", "\\,") for o, name in zip(options, names) if name not in _DROPPED_OPTIONS]
    return f"@@{pattern}${','.join([*kept, f'domain={site}'])}"


@dataclass(slots=True)
class Culprit:
    rule: FiredRule
    exception: str


@dataclass(slots=True)
class Verification:
    """What the exceptions did once added to the lists."""

    holds: bool
    why: str = ""
    stopped: list[FiredRule] = field(default_factory=list)  # other rules that no longer fire
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.holds and not self.stopped


@dataclass(slots=True)
class Result:
    status: str  # "found", "holds" (fine with every rule), "not_filtering" (broken with none), "incomplete"
    culprits: list[Culprit] = field(default_factory=list)
    steps: int = 0
    fired: list[FiredRule] = field(default_factory=list)
    untried: list[FiredRule] = field(default_factory=list)
    why: str = ""  # how the page is broken with every rule
    site: str = ""
    page_url: str = ""
    verification: Verification | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """The JSON document scripts/culprit.py prints with --json."""
        document = {
            "culprits": [{"rule": c.rule.text, "list": c.rule.list, "line": c.rule.line, "kind": c.rule.kind,
                          "exception": c.exception} for c in self.culprits],
            "steps": self.steps,
            "status": self.status,
            "site": self.site,
            "page": self.page_url,
            "fired": len(self.fired),
            "untried": [{"rule": r.text, "list": r.list, "line": r.line, "kind": r.kind} for r in self.untried],
            "broken": self.why,
            "seconds": round(self.seconds, 2),
        }
        if self.verification is not None:
            document["verified"] = {"ok": self.verification.ok, "holds": self.verification.holds,
                                    "why": self.verification.why,
                                    "stopped": [f"{r.text} ({r.where()})" for r in self.verification.stopped]}
        return document


def find_culprits(replay: Replay, progress: Progress | None = None) -> Result:
    """The smallest sets of fired rules that break the page, with their exceptions (not yet verified)."""
    started = time.perf_counter()
    say = progress or (lambda line: None)
    result = Result("holds", fired=list(replay.fired), untried=list(replay.untried), site=replay.site,
                    page_url=replay.page_url)
    network = sum(r.kind == NETWORK for r in replay.fired)
    say(f"{len(replay.fired)} rule{'' if len(replay.fired) == 1 else 's'} fired ({network} network, "
        f"{len(replay.fired) - network} cosmetic)"
        + (f"; {len(replay.untried)} scriptlet and style rules act in a browser only and are not tried"
           if replay.untried else ""))
    holds, why = replay.holds(replay.fired)
    result.why = why
    if holds:
        say(f"with every rule: {replay.expectation.describe()}: nothing to find")
        result.seconds = time.perf_counter() - started
        return result
    say(f"with every rule: {why}")
    search = Search(replay.fired)
    while not search.done:
        subset = search.subset
        holds, _ = replay.holds(subset)
        say(f"step {search.steps + 1}: {len(subset)} of {len(replay.fired)} rules: {'fine' if holds else 'broken'}")
        search.answer(not holds)
    result.steps = search.steps
    result.status = search.status
    result.culprits = [Culprit(rule, exception_for(rule, replay.site)) for rule in search.culprits]
    result.seconds = time.perf_counter() - started
    return result


def verify(result: Result, replay: Replay, engine_with_exceptions) -> Verification:
    """Replay with the exceptions added: the expectation must hold and every other fired rule still fire."""
    started = time.perf_counter()
    check = Replay(engine_with_exceptions, _records_of(replay), replay.expectation, replay.page_url if replay.page
                   else None)
    holds, why = check.holds(check.fired)
    culprits = {c.rule.place for c in result.culprits}
    now = {rule.place for rule in check.fired}
    let_through = _let_through(replay, check)
    stopped = [rule for rule in replay.fired
               if rule.place not in culprits and rule.place not in now and rule.place not in let_through]
    return Verification(holds, why, stopped, time.perf_counter() - started)


def _records_of(replay: Replay) -> list[Record]:
    records = list(replay.targets)
    if replay.page is not None and replay.page not in records:
        records.insert(0, replay.page)
    return records


def _let_through(before: Replay, after: Replay) -> set[tuple[str, int]]:
    """Places of network rules that fired only on requests the exceptions now let through (they cannot fire there)."""
    places: set[tuple[str, int]] = set()
    kept: set[tuple[str, int]] = set()
    network = before.engine.network
    for rids, rids_after in zip(before._fired_by_target, after._fired_by_target):
        target = places if rids and not rids_after else kept
        target.update(network.rule_origin(rid) for rid in rids)
    return places - kept


def verify_with_lists(result: Result, replay: Replay, paths: Sequence[str], untrusted: Sequence[str] = ()) -> Verification:
    """`verify` with an engine built from the list files `paths` plus the exceptions (as a list of their own)."""
    from ..engine import Engine

    with tempfile.TemporaryDirectory(prefix="dejunk-culprit-") as folder:
        extra = os.path.join(folder, "exceptions.txt")
        with open(extra, "w", encoding="utf-8") as f:
            f.write("".join(f"{c.exception}\n" for c in result.culprits))
        engine = Engine.from_lists([*paths, extra], untrusted=untrusted)
    return verify(result, replay, engine)


# --- the live search (the proxy's dejunk.bisect.start) --------------------------------------------------


class LiveBisect:
    """`git bisect` for a live site: the proxy applies subsets of the rules that fired on it, the user judges.

    First every rule applies and the rules that fire on the site's pages and their requests are
    noted (`collecting`); after the user says the page is broken, `Search` names the subsets to try,
    each applied to that site only (`engine` routes the site's requests and pages to the subset and
    everything else to the engine as it was), until the culprit is named.
    """

    def __init__(self, engine, site: str):
        site = site.strip().lower().lstrip(".")
        if site.startswith(("http://", "https://")):
            site = host_of(site)
        if not site or "/" in site:
            raise ValueError("give the site as a host name, such as example.com")
        self.base = engine
        self.site = site
        self.phase = "collecting"  # then "searching", then "done"
        self.fired: dict[tuple[str, int], FiredRule] = {}
        self.search: Search | None = None
        self.current = engine  # the engine the site gets now
        self.result: Result | None = None
        self.engine = self._routing_engine()

    def on_site(self, host: str) -> bool:
        return host == self.site or host.endswith("." + self.site)

    def _routing_engine(self):
        """An engine like the base one whose answers for the site come from `decide` and `page_rules`."""
        base = self.base
        engine = type(base).__new__(type(base))
        engine.__setstate__(base.__getstate__())
        base_check, base_cosmetic = base.check_request, base.cosmetic
        site, dotted = self.site, "." + self.site

        def check_request(request):
            host = request.source_host or request.host
            if host == site or host.endswith(dotted):
                return self.decide(request)
            return base_check(request)

        def cosmetic(url: str):
            host = host_of(url)
            if host == site or host.endswith(dotted):
                return self.page_rules(url)
            return base_cosmetic(url)

        engine.check_request = check_request
        engine.cosmetic = cosmetic
        return engine

    def decide(self, request):
        if self.phase != "collecting":
            return self.current.check_request(request)
        decision = self.base.check_request(request)
        if decision.blocked or decision.removeparam_url or decision.csp or decision.replace:
            network = self.base.network
            for rid in network.fired(request):
                name, line = network.rule_origin(rid)
                self.fired.setdefault((name, line), FiredRule(NETWORK, network.rule_text(rid), name, line, rid))
        return decision

    def page_rules(self, url: str):
        rules = self.current.cosmetic(url)
        if self.phase == "collecting" and rules is not None:
            for text, (name, line) in zip(rules.injected_rules, rules.injected_at):
                kind = SCRIPTLET if "+js(" in text else STYLE
                self.fired.setdefault((name, line), FiredRule(kind, text, name, line))
        return rules

    def note_page(self, url: str, texts: Sequence[str], places: Sequence[Sequence]) -> None:
        """The cosmetic rules that removed or changed elements of a page of the site (from its rewrite)."""
        if self.phase != "collecting" or not self.on_site(host_of(url)):
            return
        for text, place in zip(texts, places):
            name, line = str(place[0]), int(place[1])
            self.fired.setdefault((name, line), FiredRule(COSMETIC, str(text), name, line))

    def start_message(self) -> str:
        return (f"bisecting {self.site}: reload its broken page now, with every rule on, then say dejunk.bisect.bad "
                f"(or dejunk.bisect.good if it works after all); dejunk.bisect.stop ends it")

    def answer(self, broken: bool) -> str:
        """The user's verdict on the page as it is now; returns what to do next (or the culprit)."""
        if self.phase == "done":
            return "the bisection is over: dejunk.bisect.start SITE begins another"
        if self.phase == "collecting":
            if not broken:
                return self._finish(Result("holds", site=self.site, fired=self._fired_list()))
            if not self.fired:
                return (f"no rule has fired on {self.site} since dejunk.bisect.start: reload the page (through this "
                        f"proxy) and say dejunk.bisect.bad again, or dejunk.bisect.stop")
            self.phase = "searching"
            self.search = Search(self._fired_list())
        else:
            self.search.answer(broken)
        if self.search.done:
            return self._finish(self._search_result())
        self._apply(self.search.subset)
        subset = self.search.subset
        return (f"step {self.search.steps + 1}: {len(subset)} of the {len(self.search.candidates)} rules that fired on "
                f"{self.site} apply now; reload the page and say dejunk.bisect.good or dejunk.bisect.bad")

    def _fired_list(self) -> list[FiredRule]:
        return sorted(self.fired.values(), key=lambda rule: rule.place)

    def _apply(self, subset: Sequence[FiredRule]) -> None:
        applied = set(subset)
        off = [rule for rule in self.search.candidates if rule not in applied]
        self.current = self.base.subset(frozenset(r.rid for r in off if r.kind == NETWORK),
                                        frozenset(r.place for r in off if r.kind != NETWORK))

    def _search_result(self) -> Result:
        search = self.search
        result = Result(search.status, steps=search.steps, fired=list(search.candidates), site=self.site)
        result.culprits = [Culprit(rule, exception_for(rule, self.site)) for rule in search.culprits]
        return result

    def _finish(self, result: Result) -> str:
        self.phase = "done"
        self.current = self.base
        self.result = result
        return describe_live(result)

    def stop(self) -> None:
        self.phase = "done"
        self.current = self.base


def describe_live(result: Result) -> str:
    """The end of a live bisection in words."""
    if result.status == "holds":
        return f"{result.site} works with every rule: no rule to find; bisection over"
    if result.status == "not_filtering":
        return (f"{result.site} is broken even with none of the {len(result.fired)} rules that fired on it: filtering "
                f"is not the cause (or the rule did not fire on the first load); bisection over")
    culprits = "; ".join(f"{c.rule.text} ({c.rule.where()})" for c in result.culprits)
    exceptions = "  ".join(c.exception for c in result.culprits)
    more = " (the search stopped early: more rules may break it)" if result.status == "incomplete" else ""
    return (f"{result.site}: culprit{'s together' if len(result.culprits) > 1 else ''} after {result.steps} steps: "
            f"{culprits}; add to your filters: {exceptions}{more}; bisection over")


def describe_replayed(result: Result, expectation: Expectation) -> str:
    """A search over a recording, in words (what scripts/culprit.py prints)."""
    lines = []
    many = len(result.culprits) > 1
    if result.status == "holds":
        lines.append(f"{expectation.describe()} with every rule: no rule breaks it ({len(result.fired)} rules fired)")
    elif result.status == "not_filtering":
        lines.append(f"broken even with none of the {len(result.fired)} rules that fired ({result.why}): "
                     "filtering is not the cause")
        if result.untried:
            lines.append(f"({len(result.untried)} scriptlet and style rules act in a browser only: "
                         "dejunk.bisect.start in the proxy tries them)")
    else:
        lines.append(f"{result.page_url}: {result.why}")
        lines.append(f"culprit{'s, together' if many else ''} ({result.steps} replays of the {len(result.fired)} "
                     f"rules that fired, {result.seconds:.1f} s):")
        lines.extend(f"  {c.rule.text}    ({c.rule.where()})" for c in result.culprits)
        lines.append(f"exception{'s' if many else ''} for {result.site}:")
        lines.extend(f"  {c.exception}" for c in result.culprits)
        check = result.verification
        if check is not None:
            if check.ok:
                lines.append(f"checked: with {'them' if many else 'it'}, {expectation.describe()}, and every other "
                             "rule still fires")
            elif not check.holds:
                lines.append(f"CHECK FAILED: with the exception{'s' if many else ''} the page is still broken: "
                             f"{check.why}")
            else:
                lines.append("CHECK: with the exceptions these other rules no longer fire: "
                             + "; ".join(f"{r.text} ({r.where()})" for r in check.stopped))
        if result.status == "incomplete":
            lines.append("the search stopped after several rounds: more rules may break the page")
    return "\n".join(lines)
