"""Planning which files an engine reads, and the background refresher of subscriptions."""

from __future__ import annotations

import threading
import time

import pytest

from filters.lists import subscriptions as subs
from filters.lists.listset import (
    BackgroundRefresher,
    ListsUnavailable,
    cache_dir_for,
    plan_from_options,
    plan_lists,
    plan_lists_now,
)
from filters.lists.syntax import BUILTIN_PATH

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


def test_plan_now_downloads_what_has_no_copy_and_then_uses_the_copy(tmp_path):
    cache = str(tmp_path / "cache")
    lines: list[str] = []
    with ListServer() as server:
        url = server.serve("/sub.txt", LIST)
        plan = plan_lists_now(["builtin", url], [], cache, notify=lines.append)
        assert plan.paths == (BUILTIN_PATH, subs.cache_path(url, cache)) and not plan.missing and not plan.fallback
        assert len(server.requests_for("/sub.txt")) == 1
        assert lines[0].startswith(f"{url}: no copy in the list cache {cache} yet")
        assert lines[1] == f"{url}: updated (5 rules)"
        again: list[str] = []
        assert plan_lists_now([url], [], cache, notify=again.append).paths == (subs.cache_path(url, cache),)
        assert again == [] and len(server.requests_for("/sub.txt")) == 1  # the cached copy, not the network


def test_plan_now_fails_when_a_download_fails(tmp_path):
    with ListServer() as server:
        good = server.serve("/sub.txt", LIST)
        broken = server.url("/missing.txt")
        with pytest.raises(ListsUnavailable, match=r"cannot download .*/missing\.txt: .*404"):
            plan_lists_now([good], [broken], str(tmp_path), notify=lambda line: None)


def test_plan_now_refuses_a_url_with_a_bad_port(tmp_path):
    with pytest.raises(ListsUnavailable, match="not a valid URL"):
        plan_lists_now(["http://lists.example:99999/x.txt"], [], str(tmp_path), notify=lambda line: None)


def test_plan_from_options_reads_the_config_as_the_proxy_does(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    config = tmp_path / "dejunk.toml"
    with ListServer() as server:
        url = server.serve("/sub.txt", LIST)
        config.write_text(f'[lists]\nsubscriptions = ["{url}"]\ncache_dir = "lists-cache"\n')
        plan = plan_from_options(None, str(config), None, notify=lambda line: None)
        # No entries means the option's default, `builtin`; the config's cache_dir is relative to it.
        assert plan.paths == (BUILTIN_PATH, subs.cache_path(url, str(tmp_path / "lists-cache")))
        override = tmp_path / "elsewhere"
        plan = plan_from_options([url], str(config), str(override), notify=lambda line: None)
        assert plan.paths == (subs.cache_path(url, str(override)),)
    assert cache_dir_for(None, subs.SubscriptionConfig((), None)) == str(tmp_path / "xdg" / "dejunk" / "lists")
    bad = tmp_path / "bad.toml"
    bad.write_text("[lists\n")
    with pytest.raises(ListsUnavailable, match="cannot use the config: .*not valid TOML"):
        plan_from_options(None, str(bad))
