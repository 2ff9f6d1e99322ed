"""The state store: config kept across close/open, statistics buckets and pruning, damaged files, threads."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest

from filters.state import store as store_module
from filters.state.store import StateStore

START = 1_780_000_020.0  # a fixed moment, 20 s into a minute


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now


def opened(folder, clock=None, **kwargs) -> StateStore:
    # No writer thread unless a test wants one: flushes happen when the test says.
    kwargs.setdefault("flush_interval", 0)
    return StateStore.open(str(folder), clock=clock or Clock(), **kwargs)


def rows(folder, sql: str) -> list[tuple]:
    with sqlite3.connect(folder / "state.db") as db:
        return db.execute(sql).fetchall()


def test_config_survives_close_and_open(tmp_path, state_backend):
    store = opened(tmp_path)
    assert store.persistent and store.problem is None
    if state_backend == "sqlite":
        assert store.location == str(tmp_path / "state.db")
    assert store.allow("News.Example.") is True and store.allow("news.example") is False
    assert store.allow("*.shop.test") is True
    store.set_override("example.org", "cookie", "reject")
    store.set_override("example.org", "image", "accept")
    assert store.add_subscription(" https://lists.test/a.txt ") is True
    assert store.add_subscription("https://lists.test/a.txt") is False
    store.put("myfilters_path", "/somewhere/my.txt")
    store.close()
    again = opened(tmp_path)
    assert again.allowed() == ["*.shop.test", "news.example"]
    assert again.overrides() == {"example.org": {"cookie": "reject", "image": "accept"}}
    assert again.subscriptions() == ["https://lists.test/a.txt"]
    assert again.get("myfilters_path") == "/somewhere/my.txt" and again.get("nothing") is None
    if state_backend == "sqlite":
        assert (tmp_path / "state.db").exists()
        assert rows(tmp_path, "PRAGMA journal_mode") == [("wal",)]
    again.close()


def test_unallow_override_removal_and_subscription_removal(tmp_path):
    store = opened(tmp_path)
    store.allow("a.test")
    assert store.unallow("A.TEST") is True and store.unallow("a.test") is False and store.allowed() == []
    store.set_override("site.test", "connect", "reject")
    store.set_override("site.test", "image", "reject")
    store.set_override("site.test", "connect", None)
    assert store.overrides() == {"site.test": {"image": "reject"}}
    store.set_override("site.test", "image", None)  # no key left: the site is gone
    assert store.overrides() == {}
    store.add_subscription("https://l.test/x.txt")
    assert store.remove_subscription("https://l.test/x.txt") is True
    assert store.remove_subscription("https://l.test/x.txt") is False and store.subscriptions() == []
    with pytest.raises(ValueError, match="unknown policy"):
        store.set_override("site.test", "script", "reject")
    with pytest.raises(ValueError, match="accept or reject"):
        store.set_override("site.test", "image", "block")
    with pytest.raises(ValueError):
        store.allow("  ")
    store.close()


def test_version_grows_on_every_config_change_and_only_then(tmp_path):
    store = opened(tmp_path)
    seen = [store.version()]
    for change in (lambda: store.allow("a.test"), lambda: store.set_override("a.test", "image", "reject"),
                   lambda: store.set_override("a.test", "image", "accept"), lambda: store.add_subscription("u"),
                   lambda: store.remove_subscription("u"), lambda: store.unallow("a.test")):
        assert change() is True
        seen.append(store.version())
    assert seen == sorted(set(seen)) and len(seen) == 7
    # No change, no new version: allowing twice, an override set to what it is, removing what is absent.
    store.allow("b.test")
    now = store.version()
    store.allow("b.test")
    store.set_override("a.test", "image", "accept")
    store.unallow("absent.test")
    store.count(requests=1)
    store.flush()
    store.put("since-like", "x")
    assert store.version() == now
    # Another store on the same file sees the change at once.
    other = opened(tmp_path)
    other.allow("c.test")
    assert store.version() == now + 1 and "c.test" in store.allowed()
    other.close()
    store.close()


def test_counts_fill_minute_and_hour_buckets_and_history_includes_unwritten_counts(tmp_path):
    clock = Clock()
    store = opened(tmp_path, clock)
    store.count(requests=3, blocked=1, bytes_saved=500, blocked_host="ads.test", rule="||ads.test^")
    clock.now += 60
    store.count(requests=2, blocked=2, blocked_host="ads.test", rule="||ads.test^")
    store.count(blocked=0, upstream_error="dns")
    hour = store.history("hour")
    assert len(hour) == 60 and all(set(h) == {"t", "requests", "blocked"} for h in hour)
    assert hour[-2:] == [{"t": "2026-05-28T20:27:00Z", "requests": 3, "blocked": 1},
                         {"t": "2026-05-28T20:28:00Z", "requests": 2, "blocked": 2}]
    assert sum(h["requests"] for h in hour) == 5  # zero-filled elsewhere
    assert store.totals() == {"requests": 5, "blocked": 3, "bytes_saved": 500, "since": "2026-05-28T20:27:00Z"}
    store.flush()
    assert store.history("hour") == hour  # the same once written
    days = store.history("days")
    assert len(days) == 7 * 24 and days[-1] == {"t": "2026-05-28T20:00:00Z", "requests": 5, "blocked": 3}
    assert rows(tmp_path, "SELECT t, requests, blocked, bytes_saved FROM minutes ORDER BY t") == [
        (1780000020 // 60 * 60, 3, 1, 500), (1780000020 // 60 * 60 + 60, 2, 2, 0)]
    assert rows(tmp_path, "SELECT requests, blocked FROM hours") == [(5, 3)]
    assert store.top_blocked_hosts() == [["ads.test", 2]] and store.top_rules() == [["||ads.test^", 2]]
    assert store.upstream_errors() == {"dns": 1}
    # Counted again after the flush: written and unwritten add up.
    store.count(requests=1, blocked=1, blocked_host="ads.test", rule="||other^")
    assert store.top_blocked_hosts() == [["ads.test", 3]]
    assert store.top_rules(1) == [["||ads.test^", 2]]
    assert store.totals()["requests"] == 6
    store.close()


def test_statistics_survive_close_and_open_and_since_stays_the_first_count(tmp_path):
    clock = Clock()
    store = opened(tmp_path, clock)
    store.count(requests=4, blocked=1, blocked_host="ads.test")
    store.close()  # close writes what is counted
    clock.now += 3600
    again = opened(tmp_path, clock)
    again.count(requests=1)
    assert again.totals() == {"requests": 5, "blocked": 1, "bytes_saved": 0, "since": "2026-05-28T20:27:00Z"}
    assert again.top_blocked_hosts() == [["ads.test", 1]]
    assert again.history("days")[-2:] == [{"t": "2026-05-28T20:00:00Z", "requests": 4, "blocked": 1},
                                          {"t": "2026-05-28T21:00:00Z", "requests": 1, "blocked": 0}]
    again.close()


def test_old_buckets_are_pruned_a_day_of_minutes_and_90_days_of_hours(tmp_path):
    clock = Clock()
    store = opened(tmp_path, clock)
    store.count(requests=1)
    store.flush()
    clock.now += 23 * 3600
    store.count(requests=1)
    store.flush()
    assert len(rows(tmp_path, "SELECT * FROM minutes")) == 2
    clock.now += 2 * 3600  # the first minute is now 25 hours old
    store.count(requests=1)
    store.flush()
    assert [n for (n,) in rows(tmp_path, "SELECT requests FROM minutes")] == [1, 1]
    assert len(rows(tmp_path, "SELECT * FROM hours")) == 3
    clock.now += 89 * 24 * 3600  # the first hour is 90 days and a bit old, the second not quite
    store.count(requests=1)
    store.flush()
    assert len(rows(tmp_path, "SELECT * FROM hours")) == 3  # pruned: first; added: the new one
    assert len(rows(tmp_path, "SELECT * FROM minutes")) == 1
    assert store.totals()["requests"] == 4  # totals are kept whole
    store.close()


def test_pruning_runs_at_most_once_a_minute(tmp_path, monkeypatch):
    clock = Clock()
    store = opened(tmp_path, clock)
    pruned = []
    real = store._prune
    monkeypatch.setattr(store, "_prune", lambda now: (pruned.append(now), real(now)))
    for _ in range(5):
        store.count(requests=1)
        store.flush()
        clock.now += 5
    assert len(pruned) == 1
    clock.now += 60
    store.flush()  # nothing counted: pruning still comes
    assert len(pruned) == 2
    store.close()


def test_top_tables_stay_bounded_and_keep_the_busiest(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "TOP_LIMIT", 40)
    store = opened(tmp_path)
    for _ in range(5):
        store.count(blocked=1, blocked_host="busy.test", rule="||busy^")
    for i in range(60):
        store.count(blocked=1, blocked_host=f"h{i:02}.test", rule=f"||r{i}^")
    store.flush()
    assert rows(tmp_path, "SELECT COUNT(*) FROM top_hosts") == [(40,)]
    assert rows(tmp_path, "SELECT COUNT(*) FROM top_rules") == [(40,)]
    assert store.top_blocked_hosts(1) == [["busy.test", 5]] and store.top_rules(1) == [["||busy^", 5]]
    store.count(blocked=1, blocked_host="x" * 5000)
    assert max(len(h) for h, _ in store.top_blocked_hosts(1000)) == store_module.TEXT_LIMIT
    store.close()


def test_workers_tag_their_rows_and_reads_sum_over_workers(tmp_path):
    clock = Clock()
    first = opened(tmp_path, clock, worker="a")
    second = opened(tmp_path, clock, worker="b")
    first.count(requests=2, blocked=1, blocked_host="ads.test", upstream_error="tls")
    second.count(requests=3, blocked=1, blocked_host="ads.test", upstream_error="tls")
    first.flush()
    second.flush()
    assert sorted(rows(tmp_path, "SELECT worker, requests FROM totals")) == [("a", 2), ("b", 3)]
    assert sorted(rows(tmp_path, "SELECT worker, requests FROM minutes")) == [("a", 2), ("b", 3)]
    for store in (first, second):
        assert store.totals()["requests"] == 5
        assert store.history("hour")[-1] == {"t": "2026-05-28T20:27:00Z", "requests": 5, "blocked": 2}
        assert store.top_blocked_hosts() == [["ads.test", 2]] and store.upstream_errors() == {"tls": 2}
    first.close()
    second.close()


def test_the_writer_thread_writes_every_few_seconds_and_close_stops_it(tmp_path):
    store = StateStore.open(str(tmp_path), flush_interval=0.05)
    store.count(requests=7)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and rows(tmp_path, "SELECT SUM(requests) FROM totals") != [(7,)]:
        time.sleep(0.02)
    assert rows(tmp_path, "SELECT SUM(requests) FROM totals") == [(7,)]
    writer = store._writer
    store.close()
    assert not writer.is_alive()
    store.close()  # twice is harmless


def test_garbage_in_the_file_is_moved_aside_with_a_warning_and_a_fresh_store_works(tmp_path, caplog):
    (tmp_path / "state.db").write_bytes(b"this is not a database \x00\xff" * 100)
    with caplog.at_level(logging.WARNING, "dejunk"):
        store = opened(tmp_path)
    [aside] = tmp_path.glob("state.db.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not a database")
    assert store.persistent and "moved aside to" in store.problem and str(aside) in store.problem
    assert any(str(aside) in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert store.allow("a.test") and store.allowed() == ["a.test"]
    store.close()
    assert opened(tmp_path).allowed() == ["a.test"]


def test_a_damaged_page_inside_a_real_database_is_moved_aside(tmp_path):
    store = opened(tmp_path)
    for i in range(200):
        store.allow(f"site{i}.test")
    store.close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray((tmp_path / "state.db").read_bytes())
    page = 4096
    data[page * 2: page * 3] = b"\xa5" * page  # a page of the tables, overwritten
    (tmp_path / "state.db").write_bytes(bytes(data))
    again = opened(tmp_path)
    assert again.problem and "moved aside" in again.problem and again.allowed() == []
    again.close()


def test_an_unreadable_database_is_moved_aside(tmp_path):
    (tmp_path / "state.db").mkdir()  # SQLite cannot open a folder
    store = opened(tmp_path)
    assert store.persistent and "moved aside" in store.problem
    assert store.allow("a.test")
    store.close()


def test_a_folder_that_cannot_be_written_gives_a_store_in_memory_and_a_loud_warning(tmp_path, caplog):
    (tmp_path / "plain-file").write_text("x")
    with caplog.at_level(logging.WARNING, "dejunk"):
        store = opened(tmp_path / "plain-file" / "state")
    assert not store.persistent and "MEMORY ONLY" in store.problem
    assert any("MEMORY ONLY" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)  # an error would stop mitmproxy's start
    assert store.allow("a.test") and store.allowed() == ["a.test"]
    store.count(requests=2)
    store.flush()
    assert store.totals()["requests"] == 2
    store.close()


def test_threads_counting_and_changing_config_at_once_lose_nothing(tmp_path):
    store = StateStore.open(str(tmp_path), flush_interval=0.01)
    errors = []

    def counting():
        try:
            for i in range(3000):
                if i % 2:
                    store.count(requests=1, blocked=1, blocked_host=f"h{i % 7}.test", rule="||r^")
                else:
                    store.count(requests=1)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    def toggling(n):
        try:
            for i in range(50):
                store.allow(f"t{n}-{i}.test")
                store.set_override(f"t{n}.test", "image", "reject" if i % 2 else "accept")
                store.totals()
                store.history("hour")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=counting) for _ in range(4)] + [
        threading.Thread(target=toggling, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert store.totals()["requests"] == 12000 and store.totals()["blocked"] == 6000
    assert sum(n for _, n in store.top_blocked_hosts()) == 6000
    assert len(store.allowed()) == 100
    store.close()
    again = opened(tmp_path)
    assert again.totals()["requests"] == 12000 and again.top_rules() == [["||r^", 6000]]
    again.close()


def test_a_failed_write_keeps_the_counts_for_the_next_one(tmp_path, caplog):
    store = opened(tmp_path)
    store.count(requests=2, blocked=1, blocked_host="ads.test")
    real = store.backend.run_many

    def failing(sql, seq):
        raise store.backend.Error("database or disk is full")

    store.backend.run_many = failing
    with caplog.at_level(logging.WARNING, "dejunk"):
        store.flush()
    assert any("cannot write statistics" in r.getMessage() for r in caplog.records)
    assert rows(tmp_path, "SELECT COUNT(*) FROM totals") == [(0,)]
    assert store.totals()["requests"] == 2  # still counted
    store.backend.run_many = real
    store.flush()
    assert rows(tmp_path, "SELECT requests, blocked FROM totals") == [(2, 1)]
    assert store.top_blocked_hosts() == [["ads.test", 1]]
    store.close()
