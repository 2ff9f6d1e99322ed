"""`StateStore`: what dejunk keeps across restarts (sites allowed, site overrides, subscriptions, settings, statistics).

Config changes (allow, overrides, subscriptions) are written at once, each bumping `version()`, so a
reader can tell cheaply that it must re-read. Statistics are counted in memory (`count`, called
per flow on the event loop) and written by a writer thread every `flush_interval` seconds and at
`close()`: per-minute buckets kept a day, per-hour buckets kept 90 days, and top tables (blocked
hosts, rules, upstream failures) kept to their `TOP_LIMIT` busiest entries. Each process tags its
statistics rows with its `worker` name; reads sum over workers. The SQL is portable (upserts and
placeholders come from the backend: `sqlite`).
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
import weakref
from collections import Counter
from datetime import datetime, timezone

from .postgres import is_postgres, open_postgres
from .sqlite import open_sqlite

# The addon's logger (it makes every message printable: paths may hold anything).
logger = logging.getLogger("dejunk")

SCHEMA_VERSION = 1
# Portable DDL (SQLite and PostgreSQL): times are Unix seconds of a bucket's start.
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS allowed (site TEXT PRIMARY KEY, added TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS overrides (site TEXT NOT NULL, policy TEXT NOT NULL, value TEXT NOT NULL, "
    "PRIMARY KEY (site, policy))",
    "CREATE TABLE IF NOT EXISTS subscriptions (url TEXT PRIMARY KEY, added TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS minutes (worker TEXT NOT NULL, t BIGINT NOT NULL, requests BIGINT NOT NULL, "
    "blocked BIGINT NOT NULL, bytes_saved BIGINT NOT NULL, PRIMARY KEY (worker, t))",
    "CREATE TABLE IF NOT EXISTS hours (worker TEXT NOT NULL, t BIGINT NOT NULL, requests BIGINT NOT NULL, "
    "blocked BIGINT NOT NULL, bytes_saved BIGINT NOT NULL, PRIMARY KEY (worker, t))",
    "CREATE TABLE IF NOT EXISTS totals (worker TEXT PRIMARY KEY, requests BIGINT NOT NULL, blocked BIGINT NOT NULL, "
    "bytes_saved BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS top_hosts (worker TEXT NOT NULL, name TEXT NOT NULL, n BIGINT NOT NULL, "
    "PRIMARY KEY (worker, name))",
    "CREATE TABLE IF NOT EXISTS top_rules (worker TEXT NOT NULL, name TEXT NOT NULL, n BIGINT NOT NULL, "
    "PRIMARY KEY (worker, name))",
    "CREATE TABLE IF NOT EXISTS upstream_errors (worker TEXT NOT NULL, name TEXT NOT NULL, n BIGINT NOT NULL, "
    "PRIMARY KEY (worker, name))",
)
POLICIES = ("connect", "image", "cookie")
VALUES = ("accept", "reject")
MINUTES_KEPT = 24 * 60  # per-minute buckets: a day
HOURS_KEPT = 90 * 24  # per-hour buckets: 90 days
TOP_LIMIT = 1000  # entries kept per top table and worker (pruned once a quarter more came in)
TEXT_LIMIT = 1000  # characters of a rule or host kept
FLUSH_SECONDS = 2.0
PRUNE_SECONDS = 60.0
_TOP_TABLES = {"hosts": "top_hosts", "rules": "top_rules", "errors": "upstream_errors"}


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class StateStore:
    """The state folder's database; every method is thread-safe."""

    def __init__(self, backend, *, worker: str = "", problem: str | None = None, clock=time.time,
                 flush_interval: float = FLUSH_SECONDS):
        self.backend = backend
        self.worker = worker
        self.problem = problem  # why the store is not (or not the one) it should be, said once as a warning
        self._clock = clock
        self._db_lock = threading.RLock()  # the connection; held by a flush from swap to commit
        self._count_lock = threading.Lock()  # the counts not yet written
        self._minutes: dict[int, list[int]] = {}  # minute start -> [requests, blocked, bytes_saved]
        self._bucket: list[int] | None = None  # the current minute's, in _minutes
        self._bucket_ends = 0.0
        self._tops = {name: Counter() for name in _TOP_TABLES}
        self._write_failed_at = None  # when a failed write was last said
        self._pruned_at = None
        self._closed = False
        rows = backend.rows("SELECT value FROM settings WHERE key = ?", ("since",))
        self._since: str | None = rows[0][0] if rows else None
        self._since_new = False
        self._stop = threading.Event()
        self._writer = None
        if flush_interval:
            # The thread holds the store weakly: a store dropped without close() lets it end.
            self._writer = threading.Thread(target=_write_loop, args=(weakref.ref(self), self._stop, flush_interval),
                                            name="dejunk-state-writer", daemon=True)
            self._writer.start()

    @classmethod
    def open(cls, folder: str, *, worker: str = "", clock=time.time, flush_interval: float = FLUSH_SECONDS) -> StateStore:
        """The store in `<folder>/state.db`; a file that cannot be used is moved aside (never raises for it)."""
        if is_postgres(folder):  # dejunk_state=postgresql://...: proxies on several machines share it
            backend, problem = open_postgres(folder, _prepare)
        else:
            backend, problem = open_sqlite(folder, _prepare, clock)
        return cls(backend, worker=worker, problem=problem, clock=clock, flush_interval=flush_interval)

    @property
    def location(self) -> str:
        return self.backend.location

    @property
    def persistent(self) -> bool:
        return self.backend.persistent

    # --- config: allowed sites, overrides, subscriptions, settings -------------------------------

    def _change(self, sql: str, params: tuple) -> bool:
        """Run one config change; the version grows if it changed anything."""
        with self._db_lock, self.backend.transaction():
            changed = self.backend.run(sql, params) > 0
            if changed:
                self.backend.run("UPDATE counters SET n = n + 1 WHERE name = ?", ("version",))
        return changed

    def version(self) -> int:
        with self._db_lock:
            return int(self.backend.rows("SELECT n FROM counters WHERE name = ?", ("version",))[0][0])

    def allowed(self) -> list[str]:
        with self._db_lock:
            return [site for (site,) in self.backend.rows("SELECT site FROM allowed ORDER BY site")]

    def allow(self, site: str) -> bool:
        site = _site(site)
        return self._change(self.backend.insert_new_sql("allowed", ("site", "added"), ("site",)),
                            (site, iso(self._clock())))

    def unallow(self, site: str) -> bool:
        return self._change("DELETE FROM allowed WHERE site = ?", (_site(site),))

    def overrides(self) -> dict[str, dict[str, str]]:
        with self._db_lock:
            rows = self.backend.rows("SELECT site, policy, value FROM overrides ORDER BY site, policy")
        found: dict[str, dict[str, str]] = {}
        for site, policy, value in rows:
            found.setdefault(site, {})[policy] = value
        return found

    def set_override(self, site: str, policy: str, value: str | None) -> bool:
        """Set (or with None, remove) one policy's verdict for a site and its subdomains; whether it changed."""
        site = _site(site)
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r} (known: {', '.join(POLICIES)})")
        if value is None:
            return self._change("DELETE FROM overrides WHERE site = ? AND policy = ?", (site, policy))
        if value not in VALUES:
            raise ValueError(f"a policy's value is accept or reject, not {value!r}")
        with self._db_lock:
            same = self.backend.rows("SELECT 1 FROM overrides WHERE site = ? AND policy = ? AND value = ?",
                                     (site, policy, value))
            if same:
                return False
            return self._change(self.backend.put_sql("overrides", ("site", "policy", "value"), ("site", "policy")),
                                (site, policy, value))

    def subscriptions(self) -> list[str]:
        with self._db_lock:
            return [url for (url,) in self.backend.rows("SELECT url FROM subscriptions ORDER BY added, url")]

    def add_subscription(self, url: str) -> bool:
        url = _text(url, "a list URL or path")
        return self._change(self.backend.insert_new_sql("subscriptions", ("url", "added"), ("url",)),
                            (url, iso(self._clock())))

    def remove_subscription(self, url: str) -> bool:
        return self._change("DELETE FROM subscriptions WHERE url = ?", (url.strip(),))

    def get(self, key: str) -> str | None:
        with self._db_lock:
            rows = self.backend.rows("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def put(self, key: str, value: str) -> None:
        with self._db_lock, self.backend.transaction():
            self.backend.run(self.backend.put_sql("settings", ("key", "value"), ("key",)), (key, str(value)))

    # --- statistics --------------------------------------------------------------------------------

    def count(self, requests: int = 0, blocked: int = 0, bytes_saved: int = 0, *, blocked_host: str | None = None,
              rule: str | None = None, upstream_error: str | None = None) -> None:
        """Count a flow's outcome in memory (cheap: called per flow); the writer thread writes it."""
        now = self._clock()
        with self._count_lock:
            bucket = self._bucket
            if now >= self._bucket_ends or bucket is None:
                minute = int(now // 60) * 60
                bucket = self._minutes.get(minute)
                if bucket is None:
                    bucket = self._minutes[minute] = [0, 0, 0]
                # The minute's bucket stays at hand until it ends (or a flush takes it).
                self._bucket, self._bucket_ends = bucket, minute + 60
            bucket[0] += requests
            bucket[1] += blocked
            bucket[2] += bytes_saved
            if blocked_host:
                self._tops["hosts"][blocked_host[:TEXT_LIMIT]] += 1
            if rule:
                self._tops["rules"][rule[:TEXT_LIMIT]] += 1
            if upstream_error:
                self._tops["errors"][upstream_error] += 1
            if self._since is None:
                self._since, self._since_new = iso(now), True

    def flush(self) -> None:
        """Write the counts taken so far (the writer thread does this every few seconds)."""
        with self._db_lock:
            if self._closed:
                return
            with self._count_lock:
                minutes, self._minutes, self._bucket = self._minutes, {}, None
                tops, self._tops = self._tops, {name: Counter() for name in _TOP_TABLES}
                since, self._since_new = (self._since if self._since_new else None), False
            now = self._clock()
            prune = self._pruned_at is None or now - self._pruned_at >= PRUNE_SECONDS
            if not minutes and not since and not prune:
                return
            try:
                with self.backend.transaction():
                    self._write(minutes, tops, since)
                    if prune:
                        self._prune(now)
            except self.backend.Error as e:
                self._keep(minutes, tops, since)
                if self._write_failed_at is None or now - self._write_failed_at >= 60:
                    self._write_failed_at = now
                    logger.warning(f"dejunk: cannot write statistics to {self.location}: {e} (kept in memory; "
                                   "retrying)")
                return
            if prune:
                self._pruned_at = now

    def _write(self, minutes: dict, tops: dict, since: str | None) -> None:
        backend, worker = self.backend, self.worker
        counts = ("requests", "blocked", "bytes_saved")
        if minutes:
            backend.run_many(backend.add_sql("minutes", ("worker", "t"), counts),
                             [(worker, t, *bucket) for t, bucket in minutes.items()])
            hours: dict[int, list[int]] = {}
            for t, bucket in minutes.items():
                into = hours.setdefault(t // 3600 * 3600, [0, 0, 0])
                for i in range(3):
                    into[i] += bucket[i]
            backend.run_many(backend.add_sql("hours", ("worker", "t"), counts),
                             [(worker, t, *bucket) for t, bucket in hours.items()])
            total = [sum(b[i] for b in minutes.values()) for i in range(3)]
            backend.run(backend.add_sql("totals", ("worker",), counts), (worker, *total))
        for name, table in _TOP_TABLES.items():
            found = tops[name]
            if not found:
                continue
            backend.run_many(backend.add_sql(table, ("worker", "name"), ("n",)),
                             [(worker, key, n) for key, n in found.items()])
            held = backend.rows(f"SELECT COUNT(*) FROM {table} WHERE worker = ?", (worker,))[0][0]
            if held > TOP_LIMIT + TOP_LIMIT // 4:
                backend.run(f"DELETE FROM {table} WHERE worker = ? AND name NOT IN (SELECT name FROM {table} "
                            "WHERE worker = ? ORDER BY n DESC, name LIMIT ?)", (worker, worker, TOP_LIMIT))
        if since:
            backend.run(backend.insert_new_sql("settings", ("key", "value"), ("key",)), ("since", since))

    def _prune(self, now: float) -> None:
        minute = int(now // 60) * 60
        self.backend.run("DELETE FROM minutes WHERE t < ?", (minute - MINUTES_KEPT * 60,))
        self.backend.run("DELETE FROM hours WHERE t < ?", (minute // 3600 * 3600 - HOURS_KEPT * 3600,))

    def _keep(self, minutes: dict, tops: dict, since: str | None) -> None:
        """Put counts a failed write could not take back among those to write (tops kept bounded)."""
        with self._count_lock:
            for t, bucket in minutes.items():
                into = self._minutes.setdefault(t, [0, 0, 0])
                for i in range(3):
                    into[i] += bucket[i]
            for name, found in tops.items():
                merged = self._tops[name]
                merged.update(found)
                if len(merged) > TOP_LIMIT:
                    self._tops[name] = Counter(dict(merged.most_common(TOP_LIMIT)))
            if since:
                self._since_new = True

    def totals(self) -> dict:
        with self._db_lock:
            row = self.backend.rows("SELECT SUM(requests), SUM(blocked), SUM(bytes_saved) FROM totals")[0]
            with self._count_lock:
                pending = [sum(b[i] for b in self._minutes.values()) for i in range(3)]
                since = self._since
            rows = self.backend.rows("SELECT value FROM settings WHERE key = ?", ("since",))
        if rows and (since is None or rows[0][0] < since):
            since = rows[0][0]  # another worker counted first
        written = [int(n or 0) for n in row]
        return {"requests": written[0] + pending[0], "blocked": written[1] + pending[1],
                "bytes_saved": written[2] + pending[2], "since": since}

    def history(self, range: str = "hour") -> list[dict]:  # noqa: A002 (the API's word)
        """Requests and blocked per minute for the last hour, or per hour for the last 7 days; zero-filled."""
        if range not in ("hour", "days"):
            raise ValueError(f"range is hour or days, not {range!r}")
        step, count, table = (60, 60, "minutes") if range == "hour" else (3600, 7 * 24, "hours")
        last = int(self._clock() // step) * step
        first = last - (count - 1) * step
        with self._db_lock:
            rows = self.backend.rows(f"SELECT t, SUM(requests), SUM(blocked) FROM {table} WHERE t >= ? GROUP BY t",
                                     (first,))
            with self._count_lock:
                pending = [(t, b[0], b[1]) for t, b in self._minutes.items()]
        buckets = {t: [0, 0] for t in builtins.range(first, last + step, step)}
        for t, requests, blocked in [*rows, *pending]:
            bucket = buckets.get(int(t) // step * step)
            if bucket is not None:
                bucket[0] += int(requests or 0)
                bucket[1] += int(blocked or 0)
        return [{"t": iso(t), "requests": r, "blocked": b} for t, (r, b) in buckets.items()]

    def _top(self, name: str, n: int | None) -> list[list]:
        table = _TOP_TABLES[name]
        with self._db_lock:
            rows = self.backend.rows(f"SELECT name, SUM(n) FROM {table} GROUP BY name")
            with self._count_lock:
                pending = dict(self._tops[name])
        found = Counter({key: int(total) for key, total in rows})
        found.update(pending)
        return [[key, total] for key, total in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    def top_blocked_hosts(self, n: int = 10) -> list[list]:
        return self._top("hosts", n)

    def top_rules(self, n: int = 10) -> list[list]:
        return self._top("rules", n)

    def upstream_errors(self) -> dict[str, int]:
        return dict(self._top("errors", None))

    def close(self) -> None:
        """Write what is counted, stop the writer and close the database (once)."""
        self._stop.set()
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join(timeout=10)
        with self._db_lock:
            if self._closed:
                return
            self.flush()
            self._closed = True
            self.backend.close()


def _write_loop(ref, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        store = ref()
        if store is None:
            return
        try:
            store.flush()
        except Exception:  # the thread must go on: the next flush tries again
            logger.warning("dejunk: writing statistics failed", exc_info=True)
        del store


def _prepare(backend) -> None:
    """Create the tables and counters a fresh database lacks."""
    with backend.transaction():
        for statement in SCHEMA:
            backend.run(statement)
        insert = backend.insert_new_sql("counters", ("name", "n"), ("name",))
        backend.run(insert, ("version", 0))
        backend.run(insert, ("schema", SCHEMA_VERSION))


def _text(value: str, what: str) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value or len(value) > TEXT_LIMIT:
        raise ValueError(f"expected {what} of 1 to {TEXT_LIMIT} characters")
    return value


def _site(site: str) -> str:
    """A site as kept: lower case, no trailing dot."""
    site = _text(site, "a host name or pattern").lower().rstrip(".")
    if not site:
        raise ValueError("expected a host name or pattern, not only dots")
    return site
