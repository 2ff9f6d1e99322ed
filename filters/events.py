"""Event records (the `dejunk_events` JSON Lines log) and the counters behind `dejunk.stats`.

Every event is one JSON object per line with at least `event` and `time` (ISO 8601, UTC):

    {"event":"blocked","time":...,"url":...,"host":...,"type":...,"rule":...,"list":...,"line":...}
    {"event":"policy","time":...,"policy":"connect|image|cookie","host":...,"pattern":...}
    {"event":"upstream_error","time":...,"host":...,"port":...,"kind":...,"message":...}
    {"event":"addon_error","time":...,"where":...,"message":...}
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import IO

TOP_HOSTS = 10


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    """Counts by kind, and per kind the hosts involved."""

    def __init__(self):
        self.counts: Counter = Counter()
        self.hosts: dict[str, Counter] = defaultdict(Counter)

    def add(self, kind: str, host: str | None = None, n: int = 1) -> None:
        self.counts[kind] += n
        if host:
            self.hosts[kind][host] += n

    def to_dict(self) -> dict:
        return {
            "counts": dict(sorted(self.counts.items())),
            "top_hosts": {kind: dict(c.most_common(TOP_HOSTS)) for kind, c in sorted(self.hosts.items())},
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
            lines.append(f"  top hosts, {kind}: {top}")
        return "\n".join(lines)


class ErrorOnce:
    """Remembers which error causes were already logged, so each is logged once, not per flow."""

    def __init__(self, limit: int = 1000):
        self._seen: set[tuple[str, str, str]] = set()
        self._limit = limit

    def first_time(self, where: str, error: BaseException) -> bool:
        key = (where, type(error).__name__, str(error)[:200])
        if key in self._seen:
            return False
        if len(self._seen) < self._limit:
            self._seen.add(key)
        return True
