"""The dashboard's endpoints over a real engine, engines and Filtering: what each answers and changes."""

from __future__ import annotations

import json
import time

import pytest

from filters.proxy.explain import request_to_explain
from filters.state.store import StateStore
from tests.list_server import ListServer

from .conftest import TOKEN, call

JSON = "application/json"


def get(world, target):
    reply = call(world.dashboard, "GET", target)
    return reply.status, json.loads(reply.body)


def send(world, method, target, data=None):
    body = json.dumps(data).encode() if data is not None else b""
    reply = call(world.dashboard, method, target, body, content_type=JSON, x_dejunk_token=TOKEN)
    return reply.status, json.loads(reply.body)


def test_stats_come_from_the_store(world):
    world.store.count(requests=3, bytes_saved=100)
    for _ in range(2):
        world.store.count(requests=1, blocked=1, bytes_saved=100, blocked_host="ads.test", rule="||ads.test^")
    world.store.count(upstream_error="dns")
    status, stats = get(world, "/api/stats?range=days")
    assert status == 200
    assert (stats["requests"], stats["blocked"], stats["bytes_saved"]) == (5, 2, 300)
    assert stats["since"] and len(stats["history"]) == 7 * 24 and stats["history"][-1]["requests"] == 5
    assert stats["top_blocked_hosts"] == [["ads.test", 2]] and stats["top_rules"] == [["||ads.test^", 2]]
    assert stats["upstream_errors"] == {"dns": 1}
    world.store.flush()
    status, stats = get(world, "/api/stats")
    assert len(stats["history"]) == 60 and stats["history"][-1] == {**stats["history"][-1], "requests": 5, "blocked": 2}
    assert get(world, "/api/stats?range=year")[0] == 400


def test_the_log_gives_newest_first_with_ready_exception_rules(world):
    recent = world.filtering.recent
    recent.add("http://weird$host.test/", "script", "news.test", "blocked", "x", "list.txt", 9)
    recent.add("http://fine.test/", "script", "news.test", "allowed")
    recent.add("http://cdn.test/adlib/x.js", "script", "cdn.test", "redirected", "/adlib/*$script,redirect=noopjs",
               "list.txt", 4)
    recent.add("http://ads.test/<script>alert(1)</script>", "script", "news.test", "blocked", "||ads.test^",
               "list.txt", 3)
    status, log = get(world, "/api/log?limit=3")
    first = log[-1]["id"]
    assert status == 200 and [e["id"] for e in log] == [first + 2, first + 1, first]
    assert log[0]["line"] == 3 and log[0]["list"] == "list.txt" and log[0]["type"] == "script"
    assert log[0]["url"] == "http://ads.test/<script>alert(1)</script>"
    assert log[0]["exception"] == "@@||ads.test^$domain=news.test"
    assert log[1]["exception"] == "@@||cdn.test^"
    assert log[2]["exception"] is None
    assert [e["id"] for e in get(world, "/api/log?since=" + str(first + 1))[1]] == [first + 2]
    assert get(world, "/api/log?limit=9")[1][3]["exception"] is None  # no rule for a host a rule cannot hold
    assert get(world, "/api/log?limit=x")[0] == 400


def outcome(world, url, source=""):
    request, _ = request_to_explain(url, source)
    return world.filtering.outcome(request)


def test_allowing_a_site_is_in_force_at_once_and_undone_by_unallow(world):
    assert outcome(world, "http://ads.test/a.js", "http://news.test/").startswith("blocked")
    status, sites = send(world, "POST", "/api/sites/allow", {"site": "News.Test"})
    assert status == 200 and sites["changed"] and sites["allowed"] == ["news.test"]
    assert sites["configured"] == ["configured.test"]
    assert outcome(world, "http://ads.test/a.js", "http://news.test/").startswith("passes untouched")
    assert send(world, "POST", "/api/sites/allow", {"site": "news.test"})[1]["changed"] is False
    status, sites = send(world, "POST", "/api/sites/unallow", {"site": "news.test"})
    assert sites["changed"] and sites["allowed"] == []
    assert outcome(world, "http://ads.test/a.js", "http://news.test/").startswith("blocked")
    note = send(world, "POST", "/api/sites/unallow", {"site": "configured.test"})[1]
    assert note["changed"] is False and "dejunk_allow" in note["note"]


def test_overrides_are_checked_and_kept(world):
    assert send(world, "POST", "/api/sites/override", {"site": "a.test", "policy": "dns", "value": "accept"})[0] == 400
    assert send(world, "POST", "/api/sites/override", {"site": "a.test", "policy": "image", "value": "yes"})[0] == 400
    status, sites = send(world, "POST", "/api/sites/override", {"site": "a.test", "policy": "image", "value": "reject"})
    assert status == 200 and sites["overrides"] == {"a.test": {"image": "reject"}}
    sites = send(world, "POST", "/api/sites/override", {"site": "a.test", "policy": "image", "value": None})[1]
    assert sites["overrides"] == {}
    assert len(world.changes) == 2


def test_lists_say_what_each_list_brings(world):
    status, found = get(world, "/api/lists")
    assert status == 200 and found["updating"] is False
    by_name = {row["name"]: row for row in found["lists"]}
    row = by_name["list.txt"]
    assert row["source"] == "file" and row["version"] == "7" and row["title"] == "dashboard test list"
    assert row["network"] == 3 and row["cosmetic"] == 0 and row["hosts"] == 0 and row["rules"] == 3
    assert sum(row["skipped"].values()) == 1 and row["removable"] is False
    assert by_name["my-filters.txt"]["source"] == "my filters"
    assert send(world, "POST", "/api/lists/update")[1] == {"started": False, "reason": "no list subscriptions to update"}


@pytest.mark.timeout(60)
def test_a_list_added_here_is_fetched_and_used_and_can_be_removed(world):
    with ListServer() as server:
        url = server.serve("/extra.txt", "! Title: extra\n||extra-ads.test^\n")
        assert send(world, "POST", "/api/lists/add", {"url": "ftp://x.test/l.txt"})[0] == 400
        assert send(world, "POST", "/api/lists/remove", {"url": url})[0] == 400  # not added here
        status, added = send(world, "POST", "/api/lists/add", {"url": url})
        assert status == 200 and added == {"added": True} and world.store.subscriptions() == [url]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = {row["url"]: row for row in get(world, "/api/lists")[1]["lists"]}
            if rows.get(url, {}).get("rules"):
                break
            time.sleep(0.05)
        assert rows[url]["rules"] == 1 and rows[url]["removable"] and rows[url]["source"] == "subscription"
        assert rows[url]["last_update"] and rows[url]["next_due"]
        assert outcome(world, "http://extra-ads.test/").startswith("blocked by ||extra-ads.test^")
        assert send(world, "POST", "/api/lists/update")[1] == {"started": True}
        status, removed = send(world, "POST", "/api/lists/remove", {"url": url})
        assert status == 200 and removed == {"removed": True} and world.store.subscriptions() == []
        assert url not in {row["url"] for row in get(world, "/api/lists")[1]["lists"]}
        assert outcome(world, "http://extra-ads.test/").startswith("allowed")


def test_my_filters_are_read_checked_by_line_written_and_in_force_at_once(world):
    status, mine = get(world, "/api/myfilters")
    assert status == 200 and mine == {"text": "! mine\n", "path": str(world.myfilters)}
    text = "! mine\n||mine.test^\n||broken.test^$nosuchoption\nexample.test##.promo\n"
    status, checked = send(world, "PUT", "/api/myfilters", {"text": text})
    assert status == 200 and checked["rules"] == 2
    assert [error["line"] for error in checked["errors"]] == [3]
    assert "nosuchoption" in checked["errors"][0]["message"]
    assert world.myfilters.read_text() == text
    assert outcome(world, "http://mine.test/").startswith("blocked by ||mine.test^ (my-filters.txt:2)")
    assert send(world, "PUT", "/api/myfilters", {"text": 5})[0] == 400


def test_explain_is_what_dejunk_explain_says(world):
    status, said = get(world, "/api/explain?url=http://cdn.test/adlib/x.js&type=script&source=http://news.test/")
    assert status == 200
    assert said["action"] == "redirected" and said["rule"] == "/adlib/*$script,redirect=noopjs"
    assert said["list"] == "list.txt" and said["line"] == 4 and said["redirect"] == "noop.js"
    assert said["text"] == outcome(world, "http://cdn.test/adlib/x.js", "http://news.test/")
    excepted = get(world, "/api/explain?url=http://ok.ads.test/")[1]
    assert excepted["action"] == "exception" and excepted["exception"] == {
        "rule": "@@||ok.ads.test^", "list": "list.txt", "line": 5}
    assert get(world, "/api/explain?url=http://a.test/&type=nonsense")[0] == 400
    assert get(world, "/api/explain?url=javascript:alert(1)")[0] == 400
    assert get(world, "/api/explain")[0] == 400


def test_status_says_whether_dejunk_filters_and_what_is_wrong(world):
    status, said = get(world, "/api/status")
    assert status == 200 and said["filtering"] is True and said["lists"] == 2 and said["rules"] == 3
    assert said["problems"] == [] and "engine" in said["version"]
    world.filtering.failed = "a test breaks it"
    said = get(world, "/api/status")[1]
    assert said["filtering"] is False and "a test breaks it" in said["problems"][0]


def test_status_says_when_the_state_database_was_damaged(world, tmp_path):
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "state.db").write_bytes(b"this is not a database" * 100)
    damaged = StateStore.open(str(folder))
    try:
        world.api.sources.store = lambda: damaged
        said = get(world, "/api/status")[1]
        assert said["problems"] == [damaged.problem] and "started a fresh one" in damaged.problem
    finally:
        damaged.close()
