"""Event records (the `dejunk_events` JSON Lines log) and the counters behind `dejunk.stats`.

Every event is one JSON object per line with at least `event` and `time` (ISO 8601, UTC):

    {"event":"blocked","time":...,"url":...,"host":...,"type":...,"rule":...,"list":...,"line":...}
    {"event":"policy","time":...,"policy":"connect|image|cookie","host":...,"pattern":...}
    {"event":"upstream_error","time":...,"host":...,"port":...,"kind":...,"message":...}
    {"event":"client_abort","time":...,"host":...,"url":...,"message":...}  (the client left mid-flow)
    {"event":"header_removed","time":...,"url":...,"host":...,"header":...,"rule":...,"list":...,"line":...}
    {"event":"replaced","time":...,"url":...,"host":...,"rules":[...],"bytes_before":...,"bytes_after":...}
    {"event":"not_replaced","time":...,"url":...,"host":...,"reason":...,"rules":[...]}  (sent as it came)
    {"event":"addon_error","time":...,"where":...,"message":...}
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO

TOP_HOSTS = 10


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_of(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


RECENT_ACTIONS = ("blocked", "redirected", "allowed", "exception", "allowed_site", "policy")
_RECENT_FIELDS = ("id", "time", "url", "type", "site", "action", "rule", "list", "line")


class RecentLog:
    """The latest decided requests, newest last, in a ring of `size` (the dashboard's log, like uBO's logger).

    Each request costs one tuple appended on the event loop; dicts are made only when read.
    """

    def __init__(self, size: int = 500, clock: Callable[[], float] = time.time):
        self._entries: deque[tuple] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self._clock = clock

    def add(self, url: str, type: str, site: str, action: str, rule: str | None = None,  # noqa: A002 (the field)
            list: str | None = None, line: int | None = None) -> None:  # noqa: A002
        self._entries.append((next(self._ids), self._clock(), url, type, site, action, rule, list, line))

    def latest(self, limit: int = 100, since_id: int = 0) -> list[dict]:
        """At most `limit` entries newer than `since_id`, newest first."""
        found = []
        # list() of a deque copies it in one step (no other thread can append meanwhile).
        for entry in reversed(list(self._entries)):
            if entry[0] <= since_id or len(found) >= limit:
                break
            record = dict(zip(_RECENT_FIELDS, entry))
            record["time"] = iso_of(entry[1])
            found.append(record)
        return found


class EventLog:
    """Appends events to a JSON Lines file; without a path it only keeps nothing."""

    def __init__(self, path: str | None = None):
        self.path = path
        self._file: IO[str] | None = None
        self._lock = threading.Lock()  # rewrites finish in worker threads
        if path:
            # Line-buffered: each event reaches the file when it happens, for tail -f and tests.
            self._file = open(path, "a", encoding="utf-8", buffering=1)

    def write(self, event: str, **fields) -> dict:
        """Record one event; returns the record. An unwritable log raises OSError to the caller."""
        record = {"event": event, "time": now_iso(), **fields}
        if self._file is not None:
            line = json.dumps(record, ensure_ascii=False, default=str)
            with self._lock:
                self._file.write(line + "\n")
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Stats:
    """Counts by kind, and per kind the hosts involved (the busiest ones; the rest as "other hosts").

    Totals are exact. Per kind at most `host_limit` hosts are counted by name: when a new host
    would pass that, the less busy half is folded into one "other hosts" count, so memory stays
    bounded (a few hundred kilobytes per kind) however many hosts a proxy sees, and a busy host is
    kept. A host folded away and seen again starts a new count.
    """

    def __init__(self, host_limit: int = 1000):
        self.counts: Counter = Counter()
        self.hosts: dict[str, Counter] = defaultdict(Counter)
        self.other_hosts: Counter = Counter()  # by kind: what folded hosts had counted
        self.host_limit = host_limit

    def add(self, kind: str, host: str | None = None, n: int = 1) -> None:
        self.counts[kind] += n
        if host:
            hosts = self.hosts[kind]
            if host not in hosts and len(hosts) >= self.host_limit:
                hosts = self._fold(kind, hosts)
            hosts[host] += n

    def _fold(self, kind: str, hosts: Counter) -> Counter:
        kept = hosts.most_common(self.host_limit // 2)
        self.other_hosts[kind] += sum(hosts.values()) - sum(n for _, n in kept)
        self.hosts[kind] = Counter(dict(kept))
        return self.hosts[kind]

    def to_dict(self) -> dict:
        return {
            "counts": dict(sorted(self.counts.items())),
            "top_hosts": {kind: dict(c.most_common(TOP_HOSTS)) for kind, c in sorted(self.hosts.items())},
            "other_hosts": dict(sorted(self.other_hosts.items())),
        }

    def summary(self) -> str:
        """A short plain-text report: counts by kind, then the top hosts of each kind."""
        if not self.counts:
            return "dejunk: no requests seen"
        lines = ["dejunk summary:"]
        for kind, n in sorted(self.counts.items()):
            lines.append(f"  {kind}: {n}")
        for kind, hosts in sorted(self.hosts.items()):
            if kind == "requests":
                continue
            top = ", ".join(f"{host} ({n})" for host, n in hosts.most_common(TOP_HOSTS))
            other = self.other_hosts[kind]
            lines.append(f"  top hosts, {kind}: {top}" + (f"; {other} more on less busy hosts" if other else ""))
        return "\n".join(lines)


@dataclass(slots=True)
class Failure:
    """One cause of failure in dejunk's own code: where, what, how often, and how much is unreported."""

    where: str
    error: str
    count: int = 0
    unreported: int = 0
    last_report: float = 0.0
    last_seen: float = 0.0


class FailureLog:
    """Failures in dejunk's own code, by cause: each counted, logged first, then as counts.

    `add` says what to log: the first failure of a cause at once (with its traceback), then the
    failures since, as a count, at most once every `interval` seconds while they go on; `flush`
    gives the counts not yet reported (at shutdown, in the status). A cause is where it happened,
    the exception's type and the first 200 characters of its message.
    """

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic, limit: int = 1000):
        self.interval = interval
        self._clock = clock
        self._limit = limit
        self.causes: dict[tuple[str, str], Failure] = {}
        self.total = 0

    def add(self, where: str, error: BaseException) -> tuple[Failure, int]:
        """Count one failure; returns its cause and how many of its failures to log now (0: none)."""
        text = f"{type(error).__name__}: {error}"[:200]
        key = (where, text)
        now = self._clock()
        self.total += 1
        failure = self.causes.get(key)
        if failure is None:
            failure = Failure(where, text)
            if len(self.causes) < self._limit:
                self.causes[key] = failure
        failure.count += 1
        failure.unreported += 1
        failure.last_seen = now
        if failure.count > 1 and now - failure.last_report < self.interval:
            return failure, 0
        return failure, self._report(failure, now)

    def flush(self) -> list[tuple[Failure, int]]:
        """(cause, count) for each cause with failures not yet logged, which count as logged now."""
        now = self._clock()
        return [(f, self._report(f, now)) for f in self.causes.values() if f.unreported]

    @staticmethod
    def _report(failure: Failure, now: float) -> int:
        count, failure.unreported, failure.last_report = failure.unreported, 0, now
        return count

    def describe(self) -> list[str]:
        """One line per cause, most frequent first."""
        return [f"{f.where}: {f.error} ({f.count}×)" for f in sorted(self.causes.values(), key=lambda f: -f.count)]
