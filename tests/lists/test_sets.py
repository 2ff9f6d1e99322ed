"""Named list sets, and how their lists are downloaded: from a mirror, or not at all in tests."""

from __future__ import annotations

import json
import os

import pytest

from filters.lists import sets
from filters.lists import subscriptions as subs
from filters.lists.listset import plan_lists
from filters.lists.syntax import BUILTIN_PATH

from ..list_server import ListServer

UBO_FILTERS = "https://ublockorigin.github.io/uAssets/filters/filters.txt"
PLOWE = "https://pgl.yoyo.org/adservers/serverlist.php?hostformat=hosts&showintro=1&mimetype=plaintext"


def test_the_default_set_is_ubos_stock_selection_in_order():
    urls = sets.expand("default")
    assert urls == [
        UBO_FILTERS,
        "https://ublockorigin.github.io/uAssets/filters/badware.txt",
        "https://ublockorigin.github.io/uAssets/filters/privacy.txt",
        "https://ublockorigin.github.io/uAssets/filters/quick-fixes.txt",
        "https://ublockorigin.github.io/uAssets/filters/unbreak.txt",
        "https://ublockorigin.github.io/uAssets/thirdparties/easylist.txt",
        "https://ublockorigin.github.io/uAssets/thirdparties/easyprivacy.txt",
        PLOWE,
        "https://malware-filter.gitlab.io/urlhaus-filter/urlhaus-filter-ag-online.txt",
    ]
    assert all(subs.is_subscription_url(url) for url in urls)


def test_single_list_names_and_unknown_names():
    assert sets.expand("EasyList") == ["https://ublockorigin.github.io/uAssets/thirdparties/easylist.txt"]
    assert sets.expand("builtin") is None and sets.expand("default.txt") is None
    assert sets.suggestion("defualt") == "default" and sets.suggestion("./defualt") is None
    assert sets.suggestion("no-such-list.txt") is None


def test_names_and_files_combine_and_a_tilde_expands(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "my.txt").write_text("||mine.test^\n")
    plan = plan_lists(["default", "~/my.txt", "easylist"], [], str(tmp_path / "cache"))
    assert plan.subscriptions == tuple(sets.expand("default"))  # easylist is in it already: once
    # Nothing cached yet: the built-in list stands in, after the user's file.
    assert plan.paths == (str(tmp_path / "my.txt"), BUILTIN_PATH) and plan.fallback
    assert plan.missing == plan.subscriptions


def test_ubos_own_lists_are_trusted_its_copies_of_others_are_not():
    assert subs.is_trusted_url(UBO_FILTERS)
    assert not subs.is_trusted_url(sets.expand("easylist")[0])
    assert not subs.is_trusted_url(PLOWE)
    assert subs.is_trusted_url(PLOWE, ["https://pgl.yoyo.org/"])


def test_mirror_maps_host_and_path_of_the_named_lists_only():
    env = {sets.MIRROR_ENV: "http://127.0.0.1:8123/"}
    assert sets.mirror_url(UBO_FILTERS, env) == "http://127.0.0.1:8123/ublockorigin.github.io/uAssets/filters/filters.txt"
    assert sets.mirror_url(PLOWE, env) == (
        "http://127.0.0.1:8123/pgl.yoyo.org/adservers/serverlist.php?hostformat=hosts&showintro=1&mimetype=plaintext")
    # An !#include on a named list's host goes to the mirror too; other hosts never do.
    assert sets.mirror_url("https://ublockorigin.github.io/uAssets/filters/filters-2024.txt", env).endswith(
        "/ublockorigin.github.io/uAssets/filters/filters-2024.txt")
    assert sets.mirror_url("https://lists.example/easylist.txt", env) is None
    assert sets.mirror_url(UBO_FILTERS, {}) is None


def test_the_switch_refuses_the_named_lists_hosts_only():
    off = {sets.FETCH_ENV: "0"}
    assert "DEJUNK_FETCH_DEFAULT_LISTS=0" in sets.not_fetched_reason(PLOWE, off)
    assert sets.not_fetched_reason("http://127.0.0.1:9/list.txt", off) is None
    assert sets.not_fetched_reason(PLOWE, {sets.FETCH_ENV: "1"}) is None and sets.not_fetched_reason(PLOWE, {}) is None


def test_the_test_suite_never_fetches_the_named_lists():
    # tests/conftest.py sets the switch for the whole run, and no mirror.
    assert os.environ[sets.FETCH_ENV] == "0" and sets.MIRROR_ENV not in os.environ


def test_under_the_switch_nothing_is_requested_nor_recorded(tmp_path, monkeypatch):
    with ListServer() as server:
        monkeypatch.setenv(sets.MIRROR_ENV, server.url(""))
        [result] = subs.update([UBO_FILTERS], str(tmp_path))
        assert result.outcome == subs.FAILED and result.error.startswith("not fetched: DEJUNK_FETCH_DEFAULT_LISTS=0")
        assert server.requests == [] and not (tmp_path / subs.STATE_FILE).exists()
        with pytest.raises(subs.ListError, match="not fetched"):
            subs.fetch(UBO_FILTERS)
        assert server.requests == []


def test_a_named_list_is_downloaded_from_the_mirror_and_kept_under_its_own_url(tmp_path, monkeypatch):
    main = "! Title: uBlock filters stand-in\n||ads-a.test^\n!#include filters-2024.txt\n"
    part = "||ads-b.test^\n"
    with ListServer() as server:
        server.serve("/ublockorigin.github.io/uAssets/filters/filters.txt", main)
        server.serve("/ublockorigin.github.io/uAssets/filters/filters-2024.txt", part)
        monkeypatch.setenv(sets.FETCH_ENV, "1")
        monkeypatch.setenv(sets.MIRROR_ENV, server.url(""))
        [result] = subs.update([UBO_FILTERS], str(tmp_path))
    assert result.outcome == subs.UPDATED and result.rule_count == 2, result
    assert result.path == subs.cache_path(UBO_FILTERS, str(tmp_path))
    text = open(result.path, encoding="utf-8").read()
    assert "||ads-a.test^" in text and "||ads-b.test^" in text
    state = json.loads((tmp_path / subs.STATE_FILE).read_text())
    assert list(state["lists"]) == [UBO_FILTERS]


def test_a_mirror_that_is_down_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(sets.FETCH_ENV, "1")
    monkeypatch.setenv(sets.MIRROR_ENV, "http://127.0.0.1:9")
    [result] = subs.update([PLOWE], str(tmp_path), timeout=5)
    assert result.outcome == subs.FAILED
    assert "from the mirror http://127.0.0.1:9/pgl.yoyo.org/adservers/serverlist.php?" in result.error
    assert result.next_due is not None


def test_retries_back_off_from_a_minute_up_to_a_cap(tmp_path, monkeypatch):
    monkeypatch.setenv(sets.FETCH_ENV, "1")
    monkeypatch.setenv(sets.MIRROR_ENV, "http://127.0.0.1:9")
    now = 1_000_000.0
    delays = []
    for _ in range(12):
        [result] = subs.update([PLOWE], str(tmp_path), now=now, timeout=5)
        assert result.outcome == subs.FAILED
        delays.append(result.next_due - now)
        now = result.next_due
    assert delays[:4] == [60, 120, 240, 480]
    assert max(delays) == subs.MAX_RETRY_DELAY == 4 * 3600 and delays[-1] == subs.MAX_RETRY_DELAY
