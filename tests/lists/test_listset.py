"""Planning which files an engine reads, and the background refresher of subscriptions."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from filters.lists import subscriptions as subs
from filters.lists.listset import (
    MYFILTERS_HEADER,
    BackgroundRefresher,
    FileWatcher,
    ListsUnavailable,
    default_state_dir,
    myfilters_path,
    prepare_myfilters,
    state_dir_for,
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


def test_refresher_is_busy_from_a_kick_until_its_round_is_done(tmp_path):
    seen_during = []
    refresher = BackgroundRefresher(["https://x.example/l.txt"], str(tmp_path), lambda r: None,
                                    update=lambda urls, cache_dir, force=False: seen_during.append(refresher.busy) or [])
    assert refresher.busy is False
    refresher.kick(force=True)
    assert refresher.busy is True
    refresher._wake.clear()  # as the thread does before its round
    refresher.round(force=True)
    assert seen_during == [True] and refresher.busy is False


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


# --- saying once when lists cannot be fetched, and backing off -----------------------------------


class ScriptedUpdate:
    """An `update` for the refresher that answers each round from a script, with a settable clock."""

    def __init__(self, rounds):
        self.rounds = list(rounds)
        self.calls = 0

    def __call__(self, urls, cache_dir, force=False):
        self.calls += 1
        return self.rounds.pop(0)


def failed(url, now, delay, path=None):
    return subs.UpdateResult(url, subs.FAILED, path, None, now + delay, error="cannot fetch: Name or service not known")


def updated(url, now):
    return subs.UpdateResult(url, subs.UPDATED, f"/cache/{url[-5:]}", 3, now + 5 * 86400)


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_an_outage_is_said_once_and_its_end_once(caplog):
    now = 1_000_000.0
    a, b = "https://lists.example/a.txt", "https://lists.example/b.txt"
    script = ScriptedUpdate([
        [failed(a, now, 60), failed(b, now, 60)],
        [failed(a, now, 120), failed(b, now, 120)],
        [failed(a, now, 240), failed(b, now, 240)],
        [updated(a, now), updated(b, now)],
        [subs.UpdateResult(a, subs.NOT_DUE, "/c/a", 3, now + 86400), subs.UpdateResult(b, subs.NOT_DUE, "/c/b", 3, now + 86400)],
    ])
    changes = []
    refresher = BackgroundRefresher([a, b], "/cache", changes.append, update=script, clock=lambda: now)
    with caplog.at_level(logging.DEBUG, "dejunk"):
        waits = [refresher.round() for _ in range(5)]
    # The waits follow the lists' back-off (a minute, doubling), never less than a minute.
    assert waits[:3] == [60, 120, 240]
    [warning] = warnings_of(caplog)
    assert warning.startswith("dejunk: cannot fetch 2 of 2 subscribed lists: list https://lists.example/a.txt: failed: ")
    assert "The built-in list stands in for lists never fetched; next try in 60 s" in warning
    assert "said once" in warning
    again = [m for m in caplog.messages if m.startswith("dejunk: lists can be fetched again")]
    assert again == ["dejunk: lists can be fetched again: https://lists.example/a.txt, https://lists.example/b.txt"]
    assert sum(f"list {a}: updated (3 rules)" in m for m in caplog.messages) == 1
    assert len(changes) == 1 and refresher.failing == {}


def test_a_list_that_starts_failing_later_is_said_once_too(caplog):
    now = 1_000_000.0
    a, b = "https://lists.example/a.txt", "https://lists.example/b.txt"
    script = ScriptedUpdate([
        [failed(a, now, 60, path="/c/a"), updated(b, now)],
        [failed(a, now, 120, path="/c/a"), failed(b, now, 60, path="/c/b")],
        [failed(a, now, 240, path="/c/a"), failed(b, now, 120, path="/c/b")],
    ])
    refresher = BackgroundRefresher([a, b], "/cache", lambda results: None, update=script, clock=lambda: now)
    with caplog.at_level(logging.INFO, "dejunk"):
        for _ in range(3):
            refresher.round()
    first, second = warnings_of(caplog)
    assert "cannot fetch 1 of 2" in first and a in first and b not in first and "Keeping the last good copies" in first
    assert "cannot fetch 1 of 2" in second and b in second and a not in second


def test_a_broken_update_waits_the_longest(caplog):
    def broken(urls, cache_dir, force=False):
        raise RuntimeError("bug")

    refresher = BackgroundRefresher(["https://x.example/l.txt"], "/cache", lambda r: None, update=broken, max_wait=99)
    with caplog.at_level(logging.ERROR, "dejunk"):
        assert refresher.round() == 99
    assert "list refresh failed" in caplog.text


# --- the state folder, the user's filters and their watcher ---------------------------------------


def test_state_folder_and_my_filters_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == str(tmp_path / "data" / "dejunk")
    assert state_dir_for("~/state") == str(tmp_path / "home" / "state")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert state_dir_for(None) == str(tmp_path / "home" / ".local" / "share" / "dejunk")
    assert myfilters_path(None, "/s") == "/s/my-filters.txt"
    assert myfilters_path("", "/s") is None
    assert myfilters_path("~/mine.txt", "/s") == str(tmp_path / "home" / "mine.txt")


def test_my_filters_file_is_made_once_with_a_header(tmp_path):
    path = tmp_path / "state" / "dejunk" / "my-filters.txt"
    assert prepare_myfilters(str(path)) == (True, None)
    assert path.read_text() == MYFILTERS_HEADER
    path.write_text("||mine.test^\n")
    assert prepare_myfilters(str(path)) == (False, None)
    assert path.read_text() == "||mine.test^\n"  # never overwritten


def test_my_filters_that_cannot_be_made_is_a_problem_not_an_error(tmp_path):
    (tmp_path / "a-file").write_text("")
    created, problem = prepare_myfilters(str(tmp_path / "a-file" / "my-filters.txt"))
    assert not created and problem.startswith(f"cannot create {tmp_path / 'a-file' / 'my-filters.txt'}: ")


def test_watcher_sees_edits_renames_and_removal(tmp_path):
    path = tmp_path / "my-filters.txt"
    path.write_text("! nothing\n")
    seen = []
    watcher = FileWatcher([str(path)], lambda: seen.append(path.read_text() if path.exists() else None))
    assert not watcher.check() and seen == []
    path.write_text("! nothing\n||a.test^\n")
    assert watcher.check() and seen[-1].endswith("||a.test^\n")
    assert not watcher.check()
    replacement = tmp_path / "new.txt"
    replacement.write_text("||b.test^\n")  # an editor saving by renaming a new file over the old one
    os.replace(replacement, path)
    assert watcher.check() and seen[-1] == "||b.test^\n"
    path.unlink()
    assert watcher.check() and seen[-1] is None
    assert len(seen) == 3


def test_watcher_takes_a_change_it_is_told_of_as_seen(tmp_path):
    path = tmp_path / "my-filters.txt"
    path.write_text("! nothing\n")
    seen = []
    watcher = FileWatcher([str(path)], lambda: seen.append(True))
    path.write_text("||a.test^\n")
    watcher.remember()  # dejunk wrote it and rebuilt itself: the watcher must not rebuild again
    assert not watcher.check() and seen == []
    path.write_text("||b.test^\n||c.test^\n")
    assert watcher.check() and seen == [True]


def test_watcher_thread_calls_back_within_its_interval(tmp_path):
    path = tmp_path / "my-filters.txt"
    changed = threading.Event()
    watcher = FileWatcher([str(path)], changed.set, interval=0.05)
    watcher.start()
    try:
        path.write_text("||a.test^\n")
        assert changed.wait(10)
    finally:
        watcher.stop()
    assert watcher._thread is None


def test_append_myfilters_adds_what_the_file_lacks_under_a_dated_note(tmp_path):
    from filters.lists.listset import MYFILTERS_HEADER, append_myfilters

    path = tmp_path / "state" / "my-filters.txt"
    assert append_myfilters(str(path), ["a.test##.x", " @@||b.test^ ", "a.test##.x"], "found") == \
        (["a.test##.x", "@@||b.test^"], None)
    text = path.read_text()
    assert text.startswith(MYFILTERS_HEADER) and text.endswith(": found\na.test##.x\n@@||b.test^\n")
    path.write_text("! mine\nc.test##.y")  # no newline at the end
    assert append_myfilters(str(path), ["c.test##.y", "d.test##.z"], "again") == (["d.test##.z"], None)
    assert path.read_text().splitlines()[1:] == ["c.test##.y", path.read_text().splitlines()[2], "d.test##.z"]
    assert append_myfilters(str(path), ["d.test##.z"], "twice") == ([], None)
    (tmp_path / "file").write_text("")
    added, problem = append_myfilters(str(tmp_path / "file" / "my-filters.txt"), ["e.test##.w"], "x")
    assert added == [] and "cannot create" in problem
