"""Reports on recorded traffic: what dejunk blocked, what it saved, what failed, what a list update changes.

Pure functions over `filters.reports.recordings.Record`s; results are plain data classes, turned into
JSON by `report_to_dict` (the keys are documented in docs/report.md) and into HTML by
`filters.reports.report_html`.

Bytes are the upstream response sizes the recording holds. A request dejunk blocked was never
fetched when it was recorded live, so its size is known only when the recording is a replay of a
capture that had it (see `recordings.fill_sizes`); unknown sizes are counted, never guessed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

from ..cosmetic.rules import CosmeticStore
from ..html.rewrite import rewrite_page
from ..network.decision import Decision
from ..lists.syntax import read_list, resolve_path
from .recordings import Problem, Record

REPORT_VERSION = 1
TOP = 20
# Bucket widths for "over time" series: the smallest that keeps a series within MAX_BUCKETS.
BUCKET_SECONDS = (1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BUCKETS = 60
BLOCKING_ACTIONS = ("blocked", "redirected")
# Actions the network lists never decide: a replay with other lists leaves them as recorded.
NOT_LIST_ACTIONS = ("policy_connect", "allowed_site")
UNKNOWN_LIST = "(unknown list)"


@dataclass(slots=True)
class Totals:
    """Counts over the whole input."""

    requests: int = 0  # exchanges (flows, HAR entries); event logs record no allowed requests
    bytes: int = 0  # upstream bytes of all exchanges whose size is known, blocked ones included
    bytes_unknown: int = 0  # exchanges whose size is not known
    blocked: int = 0  # blocked or redirected requests (exchanges and blocked events)
    redirected: int = 0
    blocked_bytes: int = 0  # what the blocked requests would have cost
    blocked_bytes_unknown: int = 0  # blocked requests whose size is not known
    allowed: int = 0
    allowed_bytes: int = 0
    exceptions: int = 0  # requests a blocking rule matched but an exception allowed
    pages_rewritten: int = 0
    elements_removed: int = 0
    rewrite_bytes_saved: int = 0
    rewrite_errors: int = 0
    policy_actions: int = 0
    allowed_site: int = 0
    upstream_failures: int = 0
    addon_errors: int = 0
    events: int = 0

    @property
    def saved_share(self) -> float | None:
        """Share of the known bytes that blocking saved."""
        return self.blocked_bytes / self.bytes if self.bytes else None


@dataclass(slots=True)
class ListRow:
    """What one filter list did: the requests it blocked and the bytes they would have cost."""

    list: str
    blocked: int = 0
    bytes: int = 0
    bytes_unknown: int = 0
    rules: int = 0  # distinct rules of the list that blocked something


@dataclass(slots=True)
class HostRow:
    host: str
    requests: int = 0  # exchanges; blocked events are counted in `blocked` only
    blocked: int = 0
    bytes: int = 0
    blocked_bytes: int = 0
    allowed_bytes: int = 0
    blocked_bytes_unknown: int = 0  # blocked requests whose size is not known


@dataclass(slots=True)
class RuleRow:
    """Hits of one rule; `kind` is `block` or `exception`."""

    rule: str
    list: str | None
    line: int | None
    kind: str
    hits: int = 0
    bytes: int = 0
    bytes_unknown: int = 0  # hits whose size is not known (every exception hit: nothing is sized for it)


@dataclass(slots=True)
class TypeRow:
    type: str
    requests: int = 0
    blocked: int = 0
    bytes: int = 0
    blocked_bytes: int = 0
    bytes_unknown: int = 0  # exchanges whose size is not known
    blocked_bytes_unknown: int = 0  # blocked requests whose size is not known


@dataclass(slots=True)
class PolicyRow:
    policy: str  # connect, image, cookie
    host: str
    pattern: str | None
    count: int = 0


@dataclass(slots=True)
class FailureHostRow:
    host: str
    count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class TimeBucket:
    start: str  # ISO 8601, UTC
    count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Failures:
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_host: list[FailureHostRow] = field(default_factory=list)
    bucket_seconds: int = 0
    over_time: list[TimeBucket] = field(default_factory=list)
    untimed: int = 0  # failures without a time


@dataclass(slots=True)
class PageRow:
    url: str
    removed: int = 0
    bytes_before: int | None = None
    bytes_after: int | None = None


@dataclass(slots=True)
class Rewrites:
    pages: int = 0
    elements_removed: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    errors: int = 0
    selectors: dict[str, int] = field(default_factory=dict)  # rule text -> pages it removed elements from
    top_pages: list[PageRow] = field(default_factory=list)


@dataclass(slots=True)
class InputSummary:
    path: str
    role: str  # "input", or "recorded" for a capture that only supplies sizes
    format: str
    records: int
    problems: int
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Verdict:
    """One side of a comparison: what a list set decided for a request."""

    blocked: bool
    rule: str | None = None
    list: str | None = None
    line: int | None = None
    exception: str | None = None
    exception_list: str | None = None
    exception_line: int | None = None
    text: str = ""

    @classmethod
    def of(cls, decision: Decision) -> Verdict:
        return cls(
            blocked=decision.blocked,
            rule=decision.filter,
            list=decision.list,
            line=decision.line,
            exception=decision.exception,
            exception_list=decision.exception_list,
            exception_line=decision.exception_line,
            text=decision.describe(),
        )


@dataclass(slots=True)
class ChangedRequest:
    url: str
    type: str
    host: str
    source_url: str | None
    bytes: int | None
    before: Verdict
    after: Verdict


@dataclass(slots=True)
class RuleChange:
    """A rule responsible for changed requests, with how many and what they weigh."""

    rule: str
    list: str | None
    line: int | None
    requests: int = 0
    bytes: int = 0


@dataclass(slots=True)
class PageChange:
    url: str
    removed_before: int
    removed_after: int
    selectors_added: list[str] = field(default_factory=list)
    selectors_dropped: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PagesCompared:
    available: bool
    reason: str = ""  # why pages were not compared
    pages: int = 0
    removed_before: int = 0
    removed_after: int = 0
    changed: list[PageChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Comparison:
    """The same traffic decided by two list sets."""

    lists_before: list[str]
    lists_after: list[str]
    requests: int = 0
    blocked_before: int = 0
    blocked_after: int = 0
    blocked_bytes_before: int = 0
    blocked_bytes_after: int = 0
    newly_blocked_count: int = 0
    newly_allowed_count: int = 0
    newly_blocked_bytes: int = 0
    newly_allowed_bytes: int = 0
    rule_changed: int = 0  # blocked on both sides, by a different rule
    newly_blocked: list[ChangedRequest] = field(default_factory=list)
    newly_allowed: list[ChangedRequest] = field(default_factory=list)
    rules_newly_blocking: list[RuleChange] = field(default_factory=list)
    rules_no_longer_blocking: list[RuleChange] = field(default_factory=list)
    pages: PagesCompared = field(default_factory=lambda: PagesCompared(available=False))


@dataclass(slots=True)
class Report:
    generated: str
    decided_by: str  # "recorded" (what dejunk did) or "lists" (decided anew with `lists`)
    lists: list[str]
    inputs: list[InputSummary]
    problems: list[Problem]
    notes: list[str]
    totals: Totals
    per_list: list[ListRow]
    hosts: list[HostRow]  # by bytes, largest first
    top_blocked_hosts: list[HostRow]
    rules: list[RuleRow]
    types: list[TypeRow]
    policies: list[PolicyRow]
    failures: Failures
    rewrites: Rewrites
    compare: Comparison | None = None


# --- deciding anew --------------------------------------------------------------------------------


def decide_records(records: Iterable[Record], engine) -> tuple[list[Record], list[str]]:
    """The records with every exchange's network decision taken from `engine` instead of the recording.

    Blocked events are left out: an event log names only the requests that were blocked, so it
    cannot be decided anew. Returns the records and notes saying what was left out.
    """
    decided: list[Record] = []
    dropped_events = 0
    for record in records:
        if not record.is_exchange:
            if record.action in BLOCKING_ACTIONS:
                dropped_events += 1
                continue
            decided.append(record)
            continue
        if record.action in NOT_LIST_ACTIONS or record.request is None:
            decided.append(record)
            continue
        decision = engine.check_request(record.request)
        if decision.blocked:
            action = "redirected" if decision.redirect else "blocked"
            decided.append(
                replace(record, action=action, rule=decision.filter, list=decision.list, line=decision.line, exception=None)
            )
        else:
            action = None if record.action in BLOCKING_ACTIONS else record.action
            decided.append(replace(record, action=action, rule=None, list=None, line=None, exception=decision.exception))
    notes = []
    if dropped_events:
        notes.append(
            f"{plural(dropped_events, 'blocked event')} from event logs {'was' if dropped_events == 1 else 'were'} "
            "left out: an event log names only blocked requests, so it cannot be decided anew with other lists"
        )
    return decided, notes


# --- the report -----------------------------------------------------------------------------------


def build_report(
    records: Iterable[Record],
    *,
    inputs: Sequence[InputSummary] = (),
    problems: Sequence[Problem] = (),
    notes: Sequence[str] = (),
    decided_by: str = "recorded",
    lists: Sequence[str] = (),
    top: int = TOP,
    generated: str | None = None,
) -> Report:
    """Count everything the report shows, in one pass over the records."""
    totals = Totals()
    per_list: dict[str, ListRow] = {}
    list_rules: dict[str, set] = defaultdict(set)
    hosts: dict[str, HostRow] = {}
    rules: dict[tuple, RuleRow] = {}
    types: dict[str, TypeRow] = {}
    policies: dict[tuple, PolicyRow] = {}
    failure_kinds: Counter = Counter()
    failure_hosts: dict[str, FailureHostRow] = {}
    failure_times: list[tuple[float, str]] = []
    failures_untimed = 0
    rewrites = Rewrites()
    selectors: Counter = Counter()
    pages: list[PageRow] = []

    for record in records:
        blocked = record.action in BLOCKING_ACTIONS
        size = record.size
        if record.is_exchange:
            totals.requests += 1
            host = hosts.get(record.host) or hosts.setdefault(record.host, HostRow(record.host))
            host.requests += 1
            kind = types.get(record.type) or types.setdefault(record.type, TypeRow(record.type))
            kind.requests += 1
            if size is None:
                totals.bytes_unknown += 1
                kind.bytes_unknown += 1
            else:
                totals.bytes += size
                host.bytes += size
                kind.bytes += size
            if blocked:
                _count_blocked(host, kind, size)
            else:
                totals.allowed += 1
                if size is not None:
                    totals.allowed_bytes += size
                    host.allowed_bytes += size
        else:
            totals.events += 1
            if blocked:
                host = hosts.get(record.host) or hosts.setdefault(record.host, HostRow(record.host))
                kind = types.get(record.type) or types.setdefault(record.type, TypeRow(record.type))
                _count_blocked(host, kind, size)

        if blocked:
            totals.blocked += 1
            totals.redirected += record.action == "redirected"
            list_name = record.list or UNKNOWN_LIST
            row = per_list.get(list_name) or per_list.setdefault(list_name, ListRow(list_name))
            row.blocked += 1
            if size is None:
                totals.blocked_bytes_unknown += 1
                row.bytes_unknown += 1
            else:
                totals.blocked_bytes += size
                row.bytes += size
            if record.rule:
                list_rules[list_name].add((record.rule, record.line))
                _rule_row(rules, record.rule, record.list, record.line, "block", size)
        if record.exception and not blocked:
            totals.exceptions += 1
            _rule_row(rules, record.exception, None, None, "exception", None)

        action = record.action or ""
        if action.startswith("policy_"):
            totals.policy_actions += 1
            key = (action[len("policy_") :], record.host, record.pattern)
            policy = policies.get(key) or policies.setdefault(key, PolicyRow(*key))
            policy.count += 1
        elif action == "allowed_site":
            totals.allowed_site += 1
        elif action == "upstream_error":
            totals.upstream_failures += 1
            failure = record.failure or "unknown"
            failure_kinds[failure] += 1
            row = failure_hosts.get(record.host) or failure_hosts.setdefault(record.host, FailureHostRow(record.host))
            row.count += 1
            row.kinds[failure] = row.kinds.get(failure, 0) + 1
            if record.time is None:
                failures_untimed += 1
            else:
                failure_times.append((record.time, failure))
        elif action == "addon_error":
            totals.addon_errors += 1
        elif action == "rewrite_error":
            totals.rewrite_errors += 1
            rewrites.errors += 1
        elif action == "rewritten":
            removed = record.removed or 0
            rewrites.pages += 1
            rewrites.elements_removed += removed
            if record.bytes_before is not None and record.bytes_after is not None:
                rewrites.bytes_before += record.bytes_before
                rewrites.bytes_after += record.bytes_after
            selectors.update(set(record.selectors))
            pages.append(PageRow(record.url, removed, record.bytes_before, record.bytes_after))

    totals.pages_rewritten = rewrites.pages
    totals.elements_removed = rewrites.elements_removed
    totals.rewrite_bytes_saved = rewrites.bytes_before - rewrites.bytes_after
    for name, row in per_list.items():
        row.rules = len(list_rules[name])
    rewrites.selectors = dict(selectors.most_common(top))
    rewrites.top_pages = sorted(pages, key=lambda p: (-p.removed, p.url))[:top]
    host_rows = sorted(hosts.values(), key=lambda h: (-h.bytes, -h.requests, h.host))
    return Report(
        generated=generated or _iso(datetime.now(timezone.utc).timestamp()),
        decided_by=decided_by,
        lists=list(lists),
        inputs=list(inputs),
        problems=list(problems),
        notes=list(notes),
        totals=totals,
        per_list=sorted(per_list.values(), key=lambda r: (-r.blocked, -r.bytes, r.list)),
        hosts=host_rows,
        top_blocked_hosts=sorted(
            (h for h in hosts.values() if h.blocked), key=lambda h: (-h.blocked, -h.blocked_bytes, h.host)
        )[:top],
        rules=sorted(rules.values(), key=lambda r: (-r.hits, -r.bytes, r.rule)),
        types=sorted(types.values(), key=lambda t: (-t.requests, -t.blocked, t.type)),
        policies=sorted(policies.values(), key=lambda p: (-p.count, p.policy, p.host)),
        failures=_failures(failure_kinds, failure_hosts, failure_times, failures_untimed),
        rewrites=rewrites,
    )


def _count_blocked(host: HostRow, kind: TypeRow, size: int | None) -> None:
    host.blocked += 1
    kind.blocked += 1
    if size is None:
        host.blocked_bytes_unknown += 1
        kind.blocked_bytes_unknown += 1
    else:
        host.blocked_bytes += size
        kind.blocked_bytes += size


def _rule_row(rules: dict, rule: str, list_name: str | None, line: int | None, kind: str, size: int | None) -> None:
    key = (rule, list_name, line, kind)
    row = rules.get(key) or rules.setdefault(key, RuleRow(rule, list_name, line, kind))
    row.hits += 1
    if size is None:
        row.bytes_unknown += 1
    else:
        row.bytes += size


def _failures(kinds: Counter, hosts: dict[str, FailureHostRow], times: list[tuple[float, str]], untimed: int) -> Failures:
    result = Failures(
        total=sum(kinds.values()),
        by_kind=dict(kinds.most_common()),
        by_host=sorted(hosts.values(), key=lambda h: (-h.count, h.host)),
        untimed=untimed,
    )
    if not times:
        return result
    first, last = min(t for t, _ in times), max(t for t, _ in times)
    width = bucket_width(last - first)
    start = first - first % width
    buckets = [TimeBucket(_iso(start + i * width)) for i in range(int((last - start) // width) + 1)]
    for when, kind in times:
        bucket = buckets[int((when - start) // width)]
        bucket.count += 1
        bucket.kinds[kind] = bucket.kinds.get(kind, 0) + 1
    result.bucket_seconds = width
    result.over_time = buckets
    return result


def bucket_width(span_seconds: float) -> int:
    """The bucket width (seconds) that shows a span in at most MAX_BUCKETS buckets."""
    for width in BUCKET_SECONDS:
        if span_seconds / width < MAX_BUCKETS:
            return width
    return int(span_seconds // (MAX_BUCKETS - 1)) + 1


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- list-update canary ---------------------------------------------------------------------------

# (page body, page URL, Content-Type) -> (elements removed, rule texts that matched)
PageRewriter = Callable[[bytes, str, str], tuple[int, Sequence[str]]]


def compare(
    records: Iterable[Record],
    before,
    after,
    *,
    lists_before: Sequence[str],
    lists_after: Sequence[str],
    rewriters: tuple[PageRewriter, PageRewriter] | None = None,
    pages_unavailable: str = "",
    top: int | None = None,
) -> Comparison:
    """Decide every exchange with two engines (`before`, `after`) and collect what differs.

    With `rewriters` (one per list set), every recorded page is rewritten with both and the pages
    whose removed elements differ are listed; otherwise `pages_unavailable` says why not.
    """
    result = Comparison(lists_before=list(lists_before), lists_after=list(lists_after))
    newly_blocking: dict[tuple, RuleChange] = {}
    no_longer_blocking: dict[tuple, RuleChange] = {}
    page_records: list[Record] = []
    for record in records:
        if not record.is_exchange or record.request is None:
            continue
        if record.page is not None:
            page_records.append(record)
        result.requests += 1
        old, new = before.check_request(record.request), after.check_request(record.request)
        size = record.size or 0
        result.blocked_before += old.blocked
        result.blocked_after += new.blocked
        result.blocked_bytes_before += size if old.blocked else 0
        result.blocked_bytes_after += size if new.blocked else 0
        if old.blocked == new.blocked:
            if old.blocked and (old.filter, old.list) != (new.filter, new.list):
                result.rule_changed += 1
            continue
        change = ChangedRequest(
            url=record.url,
            type=record.type,
            host=record.host,
            source_url=record.request.source_url,
            bytes=record.size,
            before=Verdict.of(old),
            after=Verdict.of(new),
        )
        if new.blocked:
            result.newly_blocked_count += 1
            result.newly_blocked_bytes += size
            result.newly_blocked.append(change)
            _rule_change(newly_blocking, new, size)
        else:
            result.newly_allowed_count += 1
            result.newly_allowed_bytes += size
            result.newly_allowed.append(change)
            _rule_change(no_longer_blocking, old, size)
    if top is not None:
        result.newly_blocked = result.newly_blocked[:top]
        result.newly_allowed = result.newly_allowed[:top]
    order = lambda r: (-r.requests, -r.bytes, r.rule)  # noqa: E731
    result.rules_newly_blocking = sorted(newly_blocking.values(), key=order)
    result.rules_no_longer_blocking = sorted(no_longer_blocking.values(), key=order)
    if rewriters is None:
        result.pages = PagesCompared(available=False, reason=pages_unavailable or "no page rewriter given")
    else:
        result.pages = compare_pages(page_records, *rewriters)
    return result


def _rule_change(table: dict, decision: Decision, size: int) -> None:
    key = (decision.filter, decision.list, decision.line)
    row = table.get(key) or table.setdefault(key, RuleChange(decision.filter or "", decision.list, decision.line))
    row.requests += 1
    row.bytes += size


def page_rewriter(paths: Sequence[str], engine=None) -> PageRewriter:
    """A PageRewriter applying the cosmetic filters of the lists `paths`, as the proxy would."""
    if engine is not None and hasattr(engine, "cosmetic"):
        rules_for = engine.cosmetic  # the engine applies $elemhide/$generichide exceptions itself
    else:
        rules_for = CosmeticStore.from_lists([read_list(resolve_path(p)) for p in paths]).page_rules

    def rewrite_one(body: bytes, url: str, content_type: str) -> tuple[int, Sequence[str]]:
        result = rewrite_page(body, url=url, content_type=content_type, rules=rules_for(url))
        return result.removed, [str(s) for s in result.selectors]

    return rewrite_one


MAX_PAGE_ERRORS = 20


def compare_pages(pages: Iterable[Record], before: PageRewriter, after: PageRewriter) -> PagesCompared:
    """Rewrite each recorded page with both rewriters; list those whose removed elements differ."""
    result = PagesCompared(available=True)
    for record in pages:
        content_type = record.content_type or "text/html"
        try:
            removed_before, selectors_before = before(record.page, record.url, content_type)
            removed_after, selectors_after = after(record.page, record.url, content_type)
        except Exception as e:  # one page the rewriter cannot handle must not end the comparison
            if len(result.errors) < MAX_PAGE_ERRORS:
                result.errors.append(f"{record.url}: {type(e).__name__}: {e}")
            continue
        result.pages += 1
        result.removed_before += removed_before
        result.removed_after += removed_after
        old, new = set(selectors_before), set(selectors_after)
        if removed_before != removed_after or old != new:
            result.changed.append(
                PageChange(record.url, removed_before, removed_after, sorted(new - old), sorted(old - new))
            )
    return result


# --- output ---------------------------------------------------------------------------------------


def report_to_dict(report: Report) -> dict:
    """The report as one JSON-ready document (keys documented in docs/report.md)."""
    document = {"dejunk_report": REPORT_VERSION, **asdict(report)}
    document["problems"] = [{**asdict(p), "text": str(p)} for p in report.problems]
    document["totals"]["saved_share"] = report.totals.saved_share
    return document


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 page`, `2 pages`: a count with its noun in the right number."""
    return f"{count:,} {noun if count == 1 else plural_noun or noun + 's'}"


def known_size(known_bytes: int, unknown: int, count: int) -> str | None:
    """`known_bytes` in human units, or None when none of the `count` requests' sizes is known."""
    if count and unknown >= count:
        return None
    return human_size(known_bytes)


def human_size(n: float) -> str:
    """Bytes in B, kB, MB or GB (powers of 1000)."""
    for unit in ("B", "kB", "MB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def render_text(report: Report, rows: int = 10) -> str:
    """A short plain-text summary for the terminal."""
    t = report.totals
    lines = [f"requests: {_requests_text(t)}; events: {t.events:,}", f"blocked: {_blocked_text(t)}"]
    lines.append(
        f"pages rewritten: {t.pages_rewritten:,}, elements removed: {t.elements_removed:,}; "
        f"policy actions: {t.policy_actions:,}; upstream failures: {t.upstream_failures:,}"
    )
    if report.decided_by == "lists":
        lines.insert(0, f"decided anew with: {', '.join(report.lists)}")
    if report.per_list:
        lines.append("per list:")
        lines += [
            f"  {r.list}: {r.blocked:,} blocked, {_size_text(r.bytes, r.bytes_unknown, r.blocked)}"
            for r in report.per_list[:rows]
        ]
    if report.top_blocked_hosts:
        lines.append("top blocked hosts:")
        lines += [
            f"  {h.host or '(no host)'}: {h.blocked:,} "
            f"({_size_text(h.blocked_bytes, h.blocked_bytes_unknown, h.blocked)})"
            for h in report.top_blocked_hosts[:rows]
        ]
    if report.failures.total:
        kinds = ", ".join(f"{k} {n:,}" for k, n in report.failures.by_kind.items())
        lines.append(f"upstream failures: {kinds}")
    comparison = report.compare
    if comparison is not None:
        lines.append(
            f"compare: blocked {comparison.blocked_before:,} -> {comparison.blocked_after:,}; "
            f"newly blocked {comparison.newly_blocked_count:,} ({human_size(comparison.newly_blocked_bytes)}), "
            f"newly allowed {comparison.newly_allowed_count:,} ({human_size(comparison.newly_allowed_bytes)}), "
            f"blocked by another rule {comparison.rule_changed:,}"
        )
        for label, changes in (("newly blocked", comparison.newly_blocked), ("newly allowed", comparison.newly_allowed)):
            for change in changes[:rows]:
                lines.append(f"  {label}: {change.url} ({change.type})")
                lines.append(f"    before: {change.before.text}")
                lines.append(f"    after:  {change.after.text}")
        pages = comparison.pages
        if pages.available:
            lines.append(
                f"pages compared: {pages.pages:,}; removed elements changed on {plural(len(pages.changed), 'page')}"
            )
        else:
            lines.append(f"pages not compared: {pages.reason}")
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _size_text(known_bytes: int, unknown: int, count: int) -> str:
    size = known_size(known_bytes, unknown, count)
    return "size unknown" if size is None else size


def _requests_text(t: Totals) -> str:
    """`1,196 (28.5 MB)`, with how many are of unknown size; just the count when there are none."""
    if not t.requests:
        return "0"
    known = t.requests - t.bytes_unknown
    sizes = [f"{human_size(t.bytes)} known"] if known else []
    if t.bytes_unknown:
        sizes.append(f"{t.bytes_unknown:,} of unknown size")
    return f"{t.requests:,} ({', '.join(sizes)})"


def _blocked_text(t: Totals) -> str:
    """`152 requests, 3.2 MB saved (11.3% of the known bytes)`, saying what is not known."""
    text = plural(t.blocked, "request")
    if not t.blocked:
        return text
    if t.blocked_bytes_unknown >= t.blocked:
        return f"{text} (size unknown)"
    text += f", {human_size(t.blocked_bytes)} saved"
    if t.saved_share is not None:
        text += f" ({t.saved_share:.1%} of the known bytes)"
    if t.blocked_bytes_unknown:
        text += f"; {t.blocked_bytes_unknown:,} blocked of unknown size"
    return text
