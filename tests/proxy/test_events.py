"""The JSON Lines event log, the stats counters and once-per-cause error logging."""

from __future__ import annotations

import json
import re

from filters.proxy.events import EventLog, FailureLog, Stats


def test_events_are_json_lines_with_event_and_iso_time(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(str(path))
    log.write("blocked", url="http://a.test/ü", host="a.test", rule="||a.test^", list="l.txt", line=3)
    log.write("policy", policy="cookie", host="b.test", pattern=None)
    lines = path.read_text(encoding="utf-8").splitlines()
    log.close()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "blocked" and first["url"] == "http://a.test/ü" and first["line"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert second == {**second, "event": "policy", "policy": "cookie", "pattern": None}


def test_events_are_visible_while_the_log_is_open(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(str(path))
    log.write("blocked", url="u")
    assert path.read_text().count("\n") == 1
    log.close()


def test_log_appends(tmp_path):
    path = tmp_path / "events.jsonl"
    for _ in range(2):
        log = EventLog(str(path))
        log.write("x")
        log.close()
    assert len(path.read_text().splitlines()) == 2


def test_log_without_a_path_writes_nothing():
    assert EventLog(None).write("blocked", url="u")["event"] == "blocked"


def test_stats_counts_and_top_hosts():
    stats = Stats()
    for host in ["a.test"] * 3 + ["b.test"]:
        stats.add("blocked", host)
    stats.add("requests", n=10)
    data = stats.to_dict()
    assert data["counts"] == {"blocked": 4, "requests": 10}
    assert list(data["top_hosts"]["blocked"].items()) == [("a.test", 3), ("b.test", 1)]
    summary = stats.summary()
    assert "blocked: 4" in summary and "a.test (3)" in summary


def test_hosts_per_kind_are_bounded_without_losing_totals_or_the_busy_hosts():
    stats = Stats()  # the proxy's default limit
    for i in range(100_000):
        stats.add("blocked", f"ads{i}.test")
        if i % 10 == 0:
            stats.add("blocked", "busy.test")
    counted = stats.hosts["blocked"]
    assert len(counted) <= stats.host_limit
    assert stats.counts["blocked"] == 110_000
    assert sum(counted.values()) + stats.other_hosts["blocked"] == 110_000
    assert counted.most_common(1) == [("busy.test", 10_000)]
    assert stats.to_dict()["other_hosts"]["blocked"] == stats.other_hosts["blocked"] > 0
    assert "more on less busy hosts" in stats.summary()


def test_memory_of_host_counts_stays_bounded():
    import tracemalloc

    stats = Stats()
    tracemalloc.start()
    try:
        for i in range(50_000):
            stats.add("requests", f"site{i}.test")
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 1_000_000, held  # unbounded, 50k hosts held about 10 MB


def test_failures_are_counted_by_cause_and_reported_first_then_as_counts():
    now = [100.0]
    log = FailureLog(interval=10, clock=lambda: now[0])
    first, count = log.add("request", ValueError("x"))
    assert (first.where, first.error, count) == ("request", "ValueError: x", 1)
    assert [log.add("request", ValueError("x"))[1] for _ in range(3)] == [0, 0, 0]  # within the interval
    assert log.add("response", ValueError("x"))[1] == 1  # another place: another cause
    assert log.add("request", ValueError("y"))[1] == 1  # another message: another cause
    now[0] += 10
    failure, count = log.add("request", ValueError("x"))
    assert (failure is first, count, failure.count) == (True, 4, 5)
    log.add("request", ValueError("x"))
    assert [(f.where, f.error, n) for f, n in log.flush()] == [("request", "ValueError: x", 1)]
    assert log.flush() == [] and log.total == 8
    assert log.describe()[0] == "request: ValueError: x (6×)"


def test_recent_log_keeps_the_latest_newest_first_with_growing_ids():
    from filters.proxy.events import RecentLog

    log = RecentLog(size=3, clock=lambda: 1_780_000_020.25)
    for i in range(5):
        log.add(f"http://a.test/{i}", "script", "page.test", "blocked", "||a.test^", "l.txt", i)
    entries = log.latest(10)
    assert [e["url"] for e in entries] == ["http://a.test/4", "http://a.test/3", "http://a.test/2"]
    assert entries[0] == {"id": 5, "time": "2026-05-28T20:27:00.250Z", "url": "http://a.test/4", "type": "script",
                          "site": "page.test", "action": "blocked", "rule": "||a.test^", "list": "l.txt", "line": 4}
    assert [e["id"] for e in log.latest(2)] == [5, 4]
    assert [e["id"] for e in log.latest(10, since_id=3)] == [5, 4]
    assert log.latest(10, since_id=5) == []
    log.add("http://b.test/", "document", "b.test", "allowed")
    assert log.latest(1)[0] == {**log.latest(1)[0], "id": 6, "rule": None, "list": None, "line": None}
