"""The addon with its state store: sites allowed and overrides kept across restarts, counts, the recent log."""

from __future__ import annotations

import logging
import time

import pytest
from mitmproxy import exceptions, flow
from mitmproxy.test import taddons, tutils

from filters.proxy.pages import TRANSPARENT_GIF
from filters.state.store import StateStore
from tests.addons.test_dejunk import dejunk, make_flow, write_list_and_config

@pytest.fixture
def files(tmp_path):
    return write_list_and_config(tmp_path)


class Running:
    """A Dejunk addon in a taddons context on a state folder, stopped (done) at the end or on `restart`."""

    def __init__(self, files, **options):
        self.files = files
        self.options = {"dejunk_lists": [str(files / "list.txt")], "dejunk_config": str(files / "dejunk.toml"),
                        "dejunk_state": str(files / "state"), **options}
        self.addon = None
        self._context = None
        self.start()

    def start(self):
        self.addon = dejunk.Dejunk()
        self._context = taddons.context(self.addon)
        self.tctx = self._context.__enter__()
        self.tctx.configure(self.addon, **self.options)

    def stop(self):
        if self.addon is not None:
            self.addon.done()
            self._context.__exit__(None, None, None)
            self.addon = None

    def restart(self):
        self.stop()
        self.start()

    def request(self, url, dest="document", referer=None):
        f = make_flow(url, dest=dest, referer=referer)
        self.addon.request(f)
        return f


@pytest.fixture
def running(files):
    proxy = Running(files)
    yield proxy
    proxy.stop()


def test_allow_goes_into_the_store_and_survives_a_restart_and_a_reload(running, files):
    assert running.request("http://ads.test/x").response.status_code == 403
    running.addon.allow_site("ads.test")
    assert running.request("http://ads.test/x").response is None
    running.restart()
    assert running.addon.store.allowed() == ["ads.test"]
    assert running.request("http://ads.test/x").response is None
    running.addon.reload()
    assert running.request("http://ads.test/x").response is None
    assert "ads.test" in running.addon.status()
    running.addon.unallow_site("ads.test")
    running.restart()
    assert running.request("http://ads.test/x").response.status_code == 403


def test_the_allowlist_in_force_is_the_option_and_the_store(files):
    running = Running(files, dejunk_allow=["friendly.test"])
    try:
        running.addon.allow_site("ads.test")
        assert running.addon.filtering.allow == ["friendly.test", "ads.test"]
        assert running.addon.allow_site("www.friendly.test") == (
            "dejunk: www.friendly.test is already allowed (by friendly.test); nothing changed")
        assert running.addon.unallow_site("friendly.test") == (
            "dejunk: friendly.test is allowed by the dejunk_allow option, which this command does not change; "
            "nothing changed")
        running.tctx.configure(running.addon, dejunk_allow=[])
        assert running.addon.filtering.allow == ["ads.test"]  # the store's stays
        with pytest.raises(exceptions.CommandError, match="1 to 1000 characters"):
            running.addon.allow_site("x" * 2000)
    finally:
        running.stop()


def test_a_change_another_process_makes_applies_within_the_check_interval_without_a_query_per_flow(running, files):
    filtering = running.addon.filtering
    store = running.addon.store
    asked = []
    real = store.version
    store.version = lambda: (asked.append(1), real())[1]
    other = StateStore.open(str(files / "state"), worker="other", flush_interval=0)
    other.allow("ads.test")
    started = time.monotonic()
    for _ in range(200):
        running.request("http://ads.test/x")
    # Not a query per flow: at most once a second (and once more at the edges of the time taken).
    assert len(asked) <= (time.monotonic() - started) / filtering.STATE_CHECK_SECONDS + 2
    deadline = time.monotonic() + 10
    while running.request("http://ads.test/x").response is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.request("http://ads.test/x").response is None
    assert filtering.allow == ["ads.test"]
    other.close()


def test_site_overrides_beat_the_configured_policies_for_the_site_and_its_subdomains(running):
    store = running.addon.store
    store.set_override("evil.test", "connect", "reject")
    store.set_override("forbidden.test", "connect", "accept")
    store.set_override("noimg.test", "image", "accept")
    store.set_override("friend.test", "cookie", "accept")
    running.addon.filtering.apply_state()  # as the dashboard does after a change
    refused = running.request("http://www.evil.test/")
    assert refused.response.status_code == 403 and "override for evil.test" in refused.response.headers["x-dejunk"]
    assert running.request("http://www.forbidden.test/").response is None
    assert running.request("http://evil.test.example/").response is None  # another site
    image = running.request("http://cdn.noimg.test/a.png", dest="image")
    image.response = tutils.tresp()
    image.response.headers["content-type"] = "image/png"
    running.addon.responseheaders(image)
    assert not image.metadata.get("dejunk", {}).get("image_replaced") and image.response.stream is not None
    kept = make_flow("http://shop.friend.test/", dest="document")
    kept.request.headers["cookie"] = "a=1"
    running.addon.request(kept)
    assert kept.request.headers["cookie"] == "a=1"
    dropped = make_flow("http://other.test/", dest="document")
    dropped.request.headers["cookie"] = "a=1"
    running.addon.request(dropped)
    assert "cookie" not in dropped.request.headers
    # The configured policies themselves are untouched, and removing the override restores them.
    assert running.addon.filtering.configured_policies.check("connect", "www.forbidden.test").accepted is False
    store.set_override("forbidden.test", "connect", None)
    running.addon.filtering.apply_state()
    assert running.request("http://www.forbidden.test/").response.status_code == 403


def test_flows_are_counted_in_the_store(running):
    running.request("http://ads.test/x.js", dest="script", referer="http://news.test/")
    running.request("http://news.test/")
    failed = make_flow("http://gone.test/")
    running.addon.request(failed)
    failed.error = flow.Error("[Errno -2] Name or service not known")
    running.addon.error(failed)
    image = running.request("http://noimg.test/a.png", dest="image")
    image.response = tutils.tresp()
    image.response.headers["content-type"] = "image/png"
    image.response.headers["content-length"] = "5000"
    running.addon.responseheaders(image)
    store = running.addon.store
    assert store.totals() == {**store.totals(), "requests": 4, "blocked": 1, "bytes_saved": 5000 - len(TRANSPARENT_GIF)}
    assert store.top_blocked_hosts() == [["ads.test", 1]] and store.top_rules() == [["||ads.test^", 1]]
    assert store.upstream_errors() == {"dns": 1}
    running.restart()  # `done` writes them
    assert running.addon.store.totals()["requests"] == 4 and running.addon.store.history()[-1]["blocked"] == 1


def test_every_decided_request_goes_into_the_recent_log(running):
    running.request("http://ads.test/x.js", dest="script", referer="http://news.test/page")
    running.request("http://ok.ads.test/y.js", dest="script", referer="http://news.test/page")
    running.request("http://news.test/")
    running.request("http://www.forbidden.test/")
    running.addon.allow_site("allowed.test")
    running.request("http://cdn.test/z.js", dest="script", referer="http://allowed.test/")
    entries = running.addon.filtering.recent.latest(10)
    assert [(e["action"], e["url"], e["type"], e["site"], e["rule"], e["list"], e["line"]) for e in entries] == [
        ("allowed_site", "http://cdn.test/z.js", "script", "allowed.test", "allowed.test", None, None),
        ("policy", "http://www.forbidden.test/", "document", "www.forbidden.test", "connect policy: *.forbidden.test",
         None, None),
        ("allowed", "http://news.test/", "document", "news.test", None, None, None),
        ("exception", "http://ok.ads.test/y.js", "script", "news.test", "@@||ok.ads.test^", "list.txt", 3),
        ("blocked", "http://ads.test/x.js", "script", "news.test", "||ads.test^", "list.txt", 2),
    ]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert running.addon.filtering.recent.latest(10, since_id=entries[1]["id"]) == entries[:1]


def test_a_damaged_state_database_is_moved_aside_and_the_addon_works(files, caplog):
    (files / "state").mkdir()
    (files / "state" / "state.db").write_bytes(b"\x00garbage" * 512)
    with caplog.at_level(logging.WARNING, "dejunk"):
        running = Running(files)
    try:
        assert any("moved aside" in r.getMessage() for r in caplog.records)
        assert not any(r.levelno >= logging.ERROR for r in caplog.records)
        assert list((files / "state").glob("state.db.corrupt-*"))
        assert running.request("http://ads.test/x").response.status_code == 403
        running.addon.allow_site("ads.test")
        assert "moved aside" in running.addon.status()
        running.restart()
        assert running.request("http://ads.test/x").response is None
    finally:
        running.stop()


def test_a_new_state_folder_opens_a_new_store_and_closes_the_old(running, files):
    old = running.addon.store
    running.addon.allow_site("ads.test")
    running.tctx.configure(running.addon, dejunk_state=str(files / "elsewhere"))
    assert old._closed and running.addon.store is not old
    assert running.addon.filtering.store is running.addon.store
    assert running.request("http://ads.test/x").response.status_code == 403  # that store has no such site
