"""The page-rewriting worker pool: real worker processes, the index handed over by file, time limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from filters import Engine
from filters.cosmetic.rules import StoredIndex
from filters.proxy.pool import RewritePool

PAGE = b'<html><body><p>Story</p><div class="ad">x</div><div class="promo">y</div></body></html>'
URL = "https://news.test/a"


@pytest.fixture(scope="module")
def engine():
    return Engine.from_text("[Adblock Plus 2.0]\n##.ad\nnews.test##.promo\n||ads.test^\n", "l.txt")


def rewrite(pool, engine, body=PAGE, timeout=30):
    rules = engine.cosmetic(URL)
    return asyncio.run(pool.rewrite(body, url=URL, content_type="text/html", rules=rules, mode="remove", timeout=timeout))


def test_workers_load_the_generic_index_from_its_file(engine, tmp_path):
    generic = engine.cosmetic_store.generic
    pool = RewritePool(generic, workers=1, index_dir=str(tmp_path))
    try:
        (index_file,) = list(tmp_path.iterdir())
        assert oct(index_file.stat().st_mode & 0o777) == "0o600"
        assert isinstance(pool.generic, StoredIndex) and pool.generic.path == str(index_file)
        assert (len(pool.generic), pool.generic.fingerprint) == (len(generic), generic.fingerprint)
        result = rewrite(pool, engine)
        # The generic rule (from the worker's installed index) and the site rule (sent with the page).
        assert result.removed == 2 and set(result.selectors) == {"##.ad", "news.test##.promo"}
        assert result.body == b"<html><body><p>Story</p></body></html>"
    finally:
        pool.close()
    assert list(tmp_path.iterdir()) == []


def test_an_engine_holding_only_the_stored_index_rewrites_through_the_workers(engine, tmp_path):
    pool = RewritePool(engine.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        served = engine.with_cosmetic_store(engine.cosmetic_store.with_generic(pool.generic))
        assert served.cosmetic_store.generic is pool.generic and engine.cosmetic_store.generic is not pool.generic
        assert served.check("http://ads.test/x.js").blocked == engine.check("http://ads.test/x.js").blocked
        rules = served.cosmetic(URL)
        assert rules.generic is pool.generic and rules.generic_id == pool.generic.fingerprint
        result = rewrite(pool, served)
        assert result.removed == 2 and set(result.selectors) == {"##.ad", "news.test##.promo"}
    finally:
        pool.close()


def test_rules_of_another_engine_still_work(engine, tmp_path):
    other = Engine.from_text("[Adblock Plus 2.0]\n##.promo\n", "other.txt")
    pool = RewritePool(other.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        assert rewrite(pool, engine).removed == 2  # this page's rules travel whole
    finally:
        pool.close()


def test_a_stuck_page_is_abandoned_and_the_workers_replaced(engine, tmp_path, monkeypatch):
    pool = RewritePool(engine.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        rewrite(pool, engine)  # workers up
        stuck_process = next(iter(pool._executor._processes.values()))
        huge = b"<div>" * 400_000 + PAGE  # parsing this takes far longer than the limit below
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            rewrite(pool, engine, body=huge, timeout=0.2)
        assert time.monotonic() - started < 2
        stuck_process.join(timeout=5)
        assert not stuck_process.is_alive(), "the worker stuck on the page was ended"
        assert rewrite(pool, engine).removed == 2  # the replacement workers serve the next page
    finally:
        pool.close()


def test_one_core_uses_a_thread(engine):
    pool = RewritePool(engine.cosmetic_store.generic, workers=0)
    try:
        assert rewrite(pool, engine).removed == 2
        assert pool.generic is engine.cosmetic_store.generic  # the thread uses the index in memory
    finally:
        pool.close()
