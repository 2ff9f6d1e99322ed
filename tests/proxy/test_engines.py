"""The engine in use and its page workers: a reload leaves the proxy as a fresh start leaves it."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from filters.cosmetic.rules import StoredIndex
from filters.proxy.engines import Engines
from tests.waiting import wait_until as _wait

URL = "https://news.test/a"
PAGE = b'<html><body><p>Story</p><div class="ad">x</div><div class="promo">y</div></body></html>'


def rewrite(pool, engine):
    rules = engine.cosmetic(URL)
    return asyncio.run(pool.rewrite(PAGE, content_encoding=None, url=URL, content_type="text/html", rules=rules,
                                    mode="remove", timeout=30, limit=1 << 20))


def _gone(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.timeout(120)
@pytest.mark.parametrize("lists_changed", [False, True])
def test_after_a_reload_the_workers_hold_the_new_index_and_pages_travel_without_it(tmp_path, lists_changed):
    path = tmp_path / "l.txt"
    path.write_text("[Adblock Plus 2.0]\n##.ad\n")
    engines = Engines(on_engine=lambda engine: None)
    engines.workers_wanted = engines.running = True
    try:
        engines.load([str(path)], None, str(tmp_path / "cache"))
        first, first_pids = engines.pool, engines.pool.pids
        assert rewrite(first, engines.engine).result.removed == 1
        if lists_changed:
            path.write_text("[Adblock Plus 2.0]\n##.ad\n##.promo\n")
        engines.load([str(path)], None, str(tmp_path / "cache"))  # what dejunk.reload does
        pool, engine = engines.pool, engines.engine
        assert pool is not first and not set(pool.pids) & set(first_pids)
        # The proxy keeps only the stored form of the index the new workers hold ...
        assert isinstance(pool.generic, StoredIndex) and engine.cosmetic_store.generic is pool.generic
        rules = engine.cosmetic(URL)
        # ... so a page travels without the generic rules, and the workers apply the new ones.
        assert rules.generic_id == pool.generic.fingerprint and rules.without_generic().generic is None
        done = rewrite(pool, engine)
        assert done.result.removed == (2 if lists_changed else 1) and not done.replaced
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(_gone(pid) for pid in first_pids):
            time.sleep(0.1)
        assert all(_gone(pid) for pid in first_pids), "the old engine's workers were stopped"
        assert os.path.exists(pool.generic.path)
    finally:
        engines.close()


@pytest.mark.timeout(60)
def test_a_list_update_during_the_first_start_of_workers_is_not_undone(tmp_path, monkeypatch):
    """Workers starting for the engine at start-up must not swap it back in over a newer one."""
    import threading

    from filters.cosmetic.rules import RuleIndex
    from filters.proxy import engines as engines_module

    made = []

    class SlowFirstPool:
        """A pool whose first start takes a second (real ones take a few hundred ms), later ones none."""

        def __init__(self, generic, index_dir=None):
            made.append(self)
            if len(made) == 1:
                time.sleep(1.0)
            self.generic = StoredIndex.save(generic, index_dir) if isinstance(generic, RuleIndex) else generic

        def close(self):
            pass

        terminate = close

    monkeypatch.setattr(engines_module, "RewritePool", SlowFirstPool)
    path = tmp_path / "l.txt"
    path.write_text("[Adblock Plus 2.0]\n||first.test^\n##.ad\n")
    engines = Engines(on_engine=lambda engine: None)
    engines.workers_wanted = True
    try:
        engines.load([str(path)], None, str(tmp_path / "cache"))
        engines.running = True
        starting = threading.Thread(target=engines.start_workers)  # as `running` does
        starting.start()
        time.sleep(0.2)
        path.write_text("[Adblock Plus 2.0]\n||second.test^\n##.ad\n")
        engines._lists_changed([])  # a list update, as the refresher's thread makes it
        starting.join(10)
        assert engines.engine.check("https://second.test/x.js", "https://news.test/", "script").blocked
        assert not engines.engine.check("https://first.test/x.js", "https://news.test/", "script").blocked
    finally:
        engines.close()


LIST_V1 = "[Adblock Plus 2.0]\n! Title: shared\n||one.test^\n"
LIST_V2 = "[Adblock Plus 2.0]\n! Title: shared\n||one.test^\n||two.test^\n"


def _engines_built_in(monkeypatch) -> list[str]:
    """Names of the threads that built an engine from list text (a load from the compiled cache builds none)."""
    import threading

    from filters.engine import Engine

    built, init = [], Engine.__init__

    def counting(self, *args, **kwargs):
        built.append(threading.current_thread().name)
        init(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "__init__", counting)
    return built




@pytest.mark.timeout(90)
def test_a_proxy_that_does_not_fetch_takes_the_fetching_proxys_update_without_downloading_or_compiling(
        tmp_path, monkeypatch):
    from filters.lists import subscriptions
    from tests.list_server import ListServer

    monkeypatch.setattr("filters.proxy.pool.default_workers", lambda: 0)
    cache = str(tmp_path / "cache")
    with ListServer() as server:
        url = server.serve("/shared.txt", LIST_V1)
        assert subscriptions.update([url], cache, force=True)[0].ok
        leader, follower = Engines(on_engine=lambda e: None), Engines(on_engine=lambda e: None)
        follower.fetch = False
        try:
            leader.load([url], None, cache)
            built = _engines_built_in(monkeypatch)
            follower.load([url], None, cache)
            assert built == [], "the follower loaded the engine the leader compiled"
            assert subscriptions.cache_path(url, cache) in follower.watcher.paths
            # An update asked of the follower (dejunk.update, the dashboard) goes to the leader: nothing downloaded here.
            asked = []
            follower.ask_for_update = lambda: asked.append(1) or True
            server.serve("/shared.txt", LIST_V2)
            follower.refresher.kick(force=True)
            assert _wait(lambda: asked == [1], 10)
            assert len(server.requests_for("/shared.txt")) == 1
            leader.refresher.kick(force=True)
            assert _wait(lambda: follower.engine.check("http://two.test/x", None, "script").blocked, 30)
            assert leader.engine.check("http://two.test/x", None, "script").blocked
            # Downloaded twice in all (the first copy, the leader's update), compiled once (by the leader).
            assert len(server.requests_for("/shared.txt")) == 2
            assert built == ["dejunk list refresh"]
        finally:
            leader.close()
            follower.close()


@pytest.fixture
def follower_setup(tmp_path, monkeypatch):
    """(list server, the list's URL, cache folder, a proxy that does not fetch), the list downloaded once."""
    from filters.lists import subscriptions
    from tests.list_server import ListServer

    monkeypatch.setattr("filters.proxy.pool.default_workers", lambda: 0)
    cache = str(tmp_path / "cache")
    with ListServer() as server:
        url = server.serve("/shared.txt", LIST_V1)
        assert subscriptions.update([url], cache, force=True)[0].ok
        follower = Engines(on_engine=lambda e: None)
        follower.fetch = False
        try:
            yield server, url, cache, follower
        finally:
            follower.close()


@pytest.mark.timeout(60)
def test_a_proxy_that_does_not_fetch_builds_itself_when_no_engine_comes(follower_setup, monkeypatch):
    from filters.lists import subscriptions
    from filters.proxy import engines as engines_module

    monkeypatch.setattr(engines_module, "FOLLOW_WAIT", 1.0)
    server, url, cache, follower = follower_setup
    follower.load([url], None, cache)
    server.serve("/shared.txt", LIST_V2)
    # Another proxy fetched the list, but is gone before it compiled it.
    assert subscriptions.update([url], cache, force=True)[0].changed
    assert _wait(lambda: follower.engine.check("http://two.test/x", None, "script").blocked, 20)
    assert len(server.requests_for("/shared.txt")) == 2


@pytest.mark.timeout(60)
def test_a_follower_waiting_for_the_fetching_proxys_engine_does_not_hold_up_a_load(follower_setup, monkeypatch):
    """The wait happens outside the build lock: a configure on the event loop meanwhile is not held for it."""
    from filters.lists import subscriptions
    from filters.proxy import engines as engines_module

    monkeypatch.setattr(engines_module, "FOLLOW_WAIT", 40.0)
    server, url, cache, follower = follower_setup
    waiting = []
    real_wait = follower._wait_for_compiled
    follower._wait_for_compiled = lambda plan, replan: (waiting.append(1), real_wait(plan, replan))[1]
    follower.load([url], None, cache)
    server.serve("/shared.txt", LIST_V2)
    assert subscriptions.update([url], cache, force=True)[0].changed  # no proxy compiles it
    assert _wait(lambda: waiting, 10), "the watcher started waiting"
    started = time.monotonic()
    follower.load([url], None, cache)  # what a configure does
    assert time.monotonic() - started < 20
    assert follower.engine.check("http://two.test/x", None, "script").blocked


@pytest.mark.timeout(60)
def test_a_list_the_fetching_proxy_saves_while_this_one_loads_is_still_taken(follower_setup, monkeypatch):
    """The watcher compares with the files as the plan saw them, not as they are once the engine is built."""
    from filters.lists import subscriptions
    from filters.proxy import engines as engines_module

    monkeypatch.setattr(engines_module, "FOLLOW_WAIT", 1.0)
    server, _, cache, follower = follower_setup
    late = server.serve("/late.txt", "[Adblock Plus 2.0]\n! Title: late\n||late.test^\n")
    real_build = follower._build

    def build_while_the_other_proxy_downloads(paths, untrusted=()):
        engine = real_build(paths, untrusted)
        if not os.path.exists(subscriptions.cache_path(late, cache)):  # the first build: the built-in list
            assert subscriptions.update([late], cache, force=True)[0].ok
        return engine

    follower._build = build_while_the_other_proxy_downloads
    follower.load([late], None, cache)
    assert not follower.engine.check("http://late.test/x", None, "script").blocked, "planned before the download"
    assert _wait(lambda: follower.engine.check("http://late.test/x", None, "script").blocked, 20)
