"""The engine in use and its page workers: a reload leaves the proxy as a fresh start leaves it."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from filters.cosmetic.rules import StoredIndex
from filters.proxy.engines import Engines

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
