"""Planning which files an engine reads, and the background refresher of subscriptions."""

from __future__ import annotations

import threading
import time

from filters import subscriptions as subs
from filters.listset import BackgroundRefresher, plan_lists
from filters.lists import BUILTIN_PATH

from ..list_server import ListServer

LIST = "[Adblock Plus 2.0]\n! Title: sub\n! Expires: 1 day\n" + "".join(f"||ads{i}.test^\n" for i in range(5))


def test_files_and_builtin_resolve_to_paths(tmp_path):
    own = tmp_path / "mine.txt"
    own.write_text("||x.test^\n")
    plan = plan_lists(["builtin", str(own), "builtin"], [], str(tmp_path / "cache"))
    assert plan.paths == (BUILTIN_PATH, str(own))
    assert plan.subscriptions == () and not plan.missing and not plan.fallback


def test_subscription_without_a_copy_falls_back_to_the_builtin_list(tmp_path):
    url = "https://lists.example/easylist.txt"
    plan = plan_lists([url], [], str(tmp_path))
    assert plan.subscriptions == (url,) and plan.missing == (url,)
    assert plan.paths == (BUILTIN_PATH,) and plan.fallback


def test_subscriptions_read_their_cached_copies(tmp_path):
    with ListServer() as server:
        url = server.serve("/sub.txt", LIST)
        config_url = server.serve("/other.txt", LIST.replace("ads", "trk"))
        subs.update([url, config_url], str(tmp_path))
    plan = plan_lists([url], [config_url, url], str(tmp_path))
    assert plan.paths == (subs.cache_path(url, str(tmp_path)), subs.cache_path(config_url, str(tmp_path)))
    assert plan.subscriptions == (url, config_url) and not plan.fallback


def test_refresher_downloads_and_reports_changes(tmp_path):
    changed = threading.Event()
    seen = []

    def on_change(results):
        seen.extend(results)
        changed.set()

    with ListServer() as server:
        url = server.serve("/sub.txt", LIST)
        refresher = BackgroundRefresher([url], str(tmp_path), on_change, min_wait=0.05, max_wait=0.2)
        refresher.start()
        try:
            assert changed.wait(10), "the first download must be reported"
            assert seen[0].changed and seen[0].rule_count == 5
            rounds = refresher.rounds
            deadline = time.monotonic() + 5
            while refresher.rounds < rounds + 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            # Later rounds find the list not due: no new download, no change reported.
            assert len(server.requests_for("/sub.txt")) == 1 and len(seen) == 1
            changed.clear()
            server.serve("/sub.txt", LIST + "||new.test^\n")
            refresher.kick(force=True)
            assert changed.wait(10)
            assert seen[-1].rule_count == 6
        finally:
            refresher.stop()
    assert refresher._thread is None


def test_refresher_survives_a_failing_update(tmp_path):
    calls = []

    def broken_update(urls, cache_dir, force=False):
        calls.append(force)
        raise RuntimeError("bug")

    refresher = BackgroundRefresher(["https://x.example/l.txt"], str(tmp_path), lambda r: None,
                                    min_wait=0.01, max_wait=0.05, update=broken_update)
    refresher.start()
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    refresher.stop()
    assert len(calls) >= 2


def test_refresher_without_subscriptions_starts_no_thread(tmp_path):
    refresher = BackgroundRefresher([], str(tmp_path), lambda r: None)
    refresher.start()
    assert refresher._thread is None
