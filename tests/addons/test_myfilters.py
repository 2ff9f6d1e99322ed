"""The user's own filters file in the addon: read last and trusted, reported like any list, reloaded on change."""

from __future__ import annotations

import logging

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from filters.network.engine import TRUSTED_ONLY_REPLACE

from .test_dejunk import dejunk

LIST = "! Title: unit list\n||ads.test^\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "list.txt").write_text(LIST)
    return tmp_path


def test_my_filters_are_read_last_and_trusted(files):
    mine = files / "mine.txt"
    mine.write_text("||mine.test^$script,replace=/a/b/\n@@||ads.test/ok.js\n")
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(files / "list.txt")], dejunk_myfilters=str(mine))
        engine = addon.filtering.engine
        assert [s.name for s in engine.lists] == ["list.txt", "mine.txt"]
        assert TRUSTED_ONLY_REPLACE not in engine.skipped
        assert engine.check("http://mine.test/x.js", "http://site.test/", "script").replace
        # An exception of the user's undoes a list's block.
        assert not engine.check("http://ads.test/ok.js", "http://site.test/", "script").blocked
        assert engine.check("http://ads.test/other.js", "http://site.test/", "script").blocked


def test_my_filters_default_lives_in_the_state_folder_and_can_be_turned_off(files):
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(files / "list.txt")], dejunk_state=str(files / "state"))
        assert (files / "state" / "my-filters.txt").is_file()
        assert [s.name for s in addon.filtering.engine.lists] == ["list.txt", "my-filters.txt"]
        tctx.configure(addon, dejunk_myfilters="")
        assert [s.name for s in addon.filtering.engine.lists] == ["list.txt"]
        assert addon.engines.watcher.paths == ()


def test_a_state_folder_that_cannot_be_made_warns_and_starts(files, caplog):
    (files / "blocker").write_text("")
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING, "dejunk"):
        tctx.configure(addon, dejunk_lists=[str(files / "list.txt")], dejunk_state=str(files / "blocker" / "state"))
        assert addon.filtering.failed is None
        assert [s.name for s in addon.filtering.engine.lists] == ["list.txt"]
    assert f"dejunk: my filters: cannot create {files / 'blocker' / 'state' / 'my-filters.txt'}" in caplog.text
    assert "starting without them" in caplog.text


def test_bad_lines_in_my_filters_are_said_with_file_and_line_after_many_in_lists(files, caplog):
    (files / "list.txt").write_text(LIST + "".join(f"||bad{i}.test^$nosuchoption\n" for i in range(15)))
    mine = files / "mine.txt"
    mine.write_text("! mine\n||ok.test^\n||oops.test^$nosuchoption\n")
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING, "dejunk"):
        tctx.configure(addon, dejunk_lists=[str(files / "list.txt")], dejunk_myfilters=str(mine))
    [line] = [m for m in caplog.messages if "oops.test" in m]
    assert line.startswith("dejunk: my filters: mine.txt:3: ")
    assert "... and 5 more bad lines" in caplog.text


def test_an_edit_of_my_filters_rebuilds_the_engine(files, caplog):
    mine = files / "mine.txt"
    mine.write_text("! nothing yet\n")
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx, caplog.at_level(logging.INFO, "dejunk"):
        tctx.configure(addon, dejunk_lists=[str(files / "list.txt")], dejunk_myfilters=str(mine))
        before = addon.filtering.engine
        assert not before.check("http://mine.test/x.js", "http://site.test/", "script").blocked
        mine.write_text("! now\n||mine.test^\n")
        assert addon.engines.watcher.check()  # one look of the watcher thread, in this thread
        assert addon.filtering.engine is not before
        assert addon.filtering.engine.check("http://mine.test/x.js", "http://site.test/", "script").blocked
        assert addon.filtering.stats.counts["list_updates"] == 1
        # A file that cannot be read keeps the filters in use, and says so.
        mine.unlink()
        mine.mkdir()
        assert addon.engines.watcher.check()
        assert addon.filtering.engine.check("http://ads.test/x.js", "http://site.test/", "script").blocked
    assert f"dejunk: my filters changed ({mine}), new filters in use: 2 network" in caplog.text


def test_an_unknown_name_stops_the_start_and_suggests_the_set(files):
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(files / "list.txt")])
        with pytest.raises(exceptions.OptionsError,
                           match=r"dejunk_lists: cannot read defualt: No such file or directory \(did you mean .*'default'"):
            tctx.configure(addon, dejunk_lists=["defualt"])


def test_the_default_set_and_a_file_combine(files, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=["default", "~/list.txt"], dejunk_myfilters="")
        # Nothing of the set is cached, and it is not fetched in tests: the built-in list stands in.
        assert [s.name for s in addon.filtering.engine.lists] == ["list.txt", "builtin.txt"]
        assert len(addon.engines.plan.subscriptions) == 9 and addon.engines.refresher.urls == ()
