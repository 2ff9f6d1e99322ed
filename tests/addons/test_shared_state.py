"""The addon on a shared state: its worker name tags its counts; a state on a server is watched off the event loop."""

from __future__ import annotations

import math

from mitmproxy.test import taddons

from filters.state.store import StateStore
from tests.addons.test_dejunk import dejunk
from tests.waiting import wait_until as _wait




def test_the_worker_name_tags_the_counts_written(tmp_path):
    (tmp_path / "list.txt").write_text("||ads.test^\n")
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(tmp_path / "list.txt")], dejunk_state=str(tmp_path / "state"),
                       dejunk_worker="7")
        assert addon.store.worker == "7"
        addon.store.count(requests=1)
        addon.done()
    reader = StateStore.open(str(tmp_path / "state"), flush_interval=0)
    assert reader.backend.rows("SELECT worker, requests FROM totals") == [("7", 1)]
    reader.close()


def test_a_state_on_postgresql_is_looked_at_by_a_thread_not_on_the_event_loop(tmp_path, postgres_server):
    (tmp_path / "list.txt").write_text("||ads.test^\n")
    database = postgres_server.new_database()
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(tmp_path / "list.txt")], dejunk_state=database, dejunk_worker="1")
        try:
            filtering = addon.filtering
            # Requests never make the round trip to the server: their check is never due ...
            assert filtering.STATE_CHECK_SECONDS == math.inf and filtering._state_due == math.inf
            assert filtering._allowed_site("ads.test", "") is None
            # ... while the watch thread puts another machine's change in force, with no request at all.
            other = StateStore.open(database, worker="other", flush_interval=0)
            other.allow("ads.test")
            other.close()
            assert _wait(lambda: "ads.test" in filtering.allow, 5)
        finally:
            addon.done()
        assert addon.state_watch._thread is None


def test_a_list_subscribed_by_another_proxy_before_the_first_look_is_still_loaded(tmp_path):
    (tmp_path / "list.txt").write_text("||ads.test^\n")
    (tmp_path / "more.txt").write_text("||more.test^\n")
    addon = dejunk.Dejunk()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, dejunk_lists=[str(tmp_path / "list.txt")], dejunk_state=str(tmp_path / "state"))
        try:
            addon.state_watch.stop()  # looks are made by hand below, in the order that once lost the change
            other = StateStore.open(str(tmp_path / "state"), worker="other", flush_interval=0)
            other.add_subscription(str(tmp_path / "more.txt"))  # after this proxy loaded its lists ...
            other.close()
            addon._look_at_state()  # ... and before its first look at the store
            assert _wait(lambda: addon.filtering.engine.check("https://more.test/x.js", None, "script").blocked, 10)
        finally:
            addon.done()
