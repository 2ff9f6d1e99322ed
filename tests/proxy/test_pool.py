"""The page-rewriting worker pool: real worker processes, the index handed over by file, a budget per page."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import time

import brotli
import pytest

from filters import Engine
from filters.cosmetic.rules import StoredIndex
from filters.html.rewrite import PageTimeout
from filters.proxy import pool as pools
from filters.proxy.pool import QueueTimeout, RewritePool, UndecodableBody, WorkerDied

PAGE = b'<html><body><p>Story</p><div class="ad">x</div><div class="promo">y</div></body></html>'
REWRITTEN = b"<html><body><p>Story</p></body></html>"
URL = "https://news.test/a"
# A rule whose regex Python's re runs for minutes on the page below (a lookahead keeps it from RE2):
# the worker is stuck in C code, where no deadline check runs, so only ending the process stops it.
STUCK_RULE = "stuck.test##div:has-text(/^(?=a)(a|a)+$/)"
STUCK_PAGE = b"<html><body><div>" + b"a" * 32 + b"b</div></body></html>"
LIMIT = 5 << 20


@pytest.fixture(scope="module")
def engine():
    return Engine.from_text(f"[Adblock Plus 2.0]\n##.ad\nnews.test##.promo\n{STUCK_RULE}\n||ads.test^\n", "l.txt")


async def _rewrite(pool, engine, body=PAGE, timeout=30, url=URL, coding=None):
    return await pool.rewrite(body, content_encoding=coding, url=url, content_type="text/html",
                              rules=engine.cosmetic(url), mode="remove", timeout=timeout, limit=LIMIT)


def rewrite(pool, engine, body=PAGE, timeout=30, url=URL, coding=None):
    return asyncio.run(_rewrite(pool, engine, body, timeout, url, coding))


def test_two_workers_on_two_cores(monkeypatch):
    # The proxy mostly waits on the network: a second worker keeps one slow page from holding the rest.
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert pools.default_workers() == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert pools.default_workers() == 0


def test_workers_load_the_generic_index_from_its_file(engine, tmp_path):
    generic = engine.cosmetic_store.generic
    pool = RewritePool(generic, workers=1, index_dir=str(tmp_path))
    try:
        (index_file,) = list(tmp_path.iterdir())
        assert oct(index_file.stat().st_mode & 0o777) == "0o600"
        assert isinstance(pool.generic, StoredIndex) and pool.generic.path == str(index_file)
        assert (len(pool.generic), pool.generic.fingerprint) == (len(generic), generic.fingerprint)
        done = rewrite(pool, engine)
        # The generic rule (from the worker's installed index) and the site rule (sent with the page).
        assert done.result.removed == 2 and set(done.result.selectors) == {"##.ad", "news.test##.promo"}
        assert done.raw_content == REWRITTEN and done.replaced == []
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
        done = rewrite(pool, served)
        assert done.result.removed == 2 and set(done.result.selectors) == {"##.ad", "news.test##.promo"}
    finally:
        pool.close()


def test_rules_of_another_engine_still_work(engine, tmp_path):
    other = Engine.from_text("[Adblock Plus 2.0]\n##.promo\n", "other.txt")
    pool = RewritePool(other.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        assert rewrite(pool, engine).result.removed == 2  # this page's rules travel whole
    finally:
        pool.close()


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_the_worker_decodes_and_encodes_again(engine, tmp_path, coding):
    pool = RewritePool(engine.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        encoded = gzip.compress(PAGE) if coding == "gzip" else brotli.compress(PAGE)
        done = rewrite(pool, engine, body=encoded, coding=coding)
        decoded = gzip.decompress(done.raw_content) if coding == "gzip" else brotli.decompress(done.raw_content)
        assert decoded == REWRITTEN and done.result.bytes_before == len(PAGE)
        # A decompression bomb stops at the limit in the worker: the page is left as it came.
        bomb = brotli.compress(b"<p>" + b"\0" * (256 << 20), quality=5)
        assert rewrite(pool, engine, body=bomb, coding="br").too_large
        with pytest.raises(UndecodableBody):
            rewrite(pool, engine, body=b"not gzip", coding="gzip")
    finally:
        pool.close()


@pytest.mark.timeout(120)
def test_a_stuck_page_ends_only_its_own_worker_and_other_pages_are_rewritten_meanwhile(engine, tmp_path):
    pool = RewritePool(engine.cosmetic_store.generic, index_dir=str(tmp_path))  # the default count
    try:
        assert pool.workers >= 2
        rewrite(pool, engine)
        others_before = set(pool.pids)

        async def scenario():
            stuck = asyncio.ensure_future(_rewrite(pool, engine, body=STUCK_PAGE, timeout=1, url="https://stuck.test/"))
            await asyncio.sleep(0.2)
            pages = []
            while not stuck.done():  # other pages, one after another, while the stuck one runs
                started = time.monotonic()
                pages.append(((await _rewrite(pool, engine, timeout=5)).result.removed, time.monotonic() - started))
            with pytest.raises(PageTimeout):
                await stuck
            return pages

        started = time.monotonic()
        pages = asyncio.run(scenario())
        assert time.monotonic() - started < 1 + pools.GRACE + 3  # cut off: minutes of regex otherwise
        assert pages and all(removed == 2 for removed, _ in pages), pages
        # Only the stuck page's worker was replaced; the other worker served throughout.
        assert len(set(pool.pids) & others_before) == pool.workers - 1
        assert rewrite(pool, engine).result.removed == 2
    finally:
        pool.close()


def test_a_dead_worker_is_replaced_and_reported(engine, tmp_path):
    pool = RewritePool(engine.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        rewrite(pool, engine)
        (victim,) = pool.pids
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.2)
        done = rewrite(pool, engine)  # the next page is rewritten, by a new worker
        assert done.result.removed == 2 and pool.pids != [victim]
        assert len(done.replaced) == 1 and f"page worker {victim} died" in done.replaced[0]
        assert "killed by signal 9" in done.replaced[0]

        async def killed_while_busy():
            busy = asyncio.ensure_future(_rewrite(pool, engine, body=STUCK_PAGE, timeout=20, url="https://stuck.test/"))
            await asyncio.sleep(1)
            os.kill(pool.pids[0], signal.SIGKILL)
            with pytest.raises(WorkerDied):
                await busy

        asyncio.run(killed_while_busy())
        assert rewrite(pool, engine).result.removed == 2
    finally:
        pool.close()


def test_a_worker_that_cannot_read_the_index_says_why_without_a_traceback(engine, tmp_path, capfd):
    # The file of a pool closed while its workers started is gone by the time they read it.
    generic = engine.cosmetic_store.generic
    gone = StoredIndex(str(tmp_path / "dejunk-generic-gone.pickle"), len(generic), generic.fingerprint)
    pool = RewritePool(gone, workers=1, index_dir=str(tmp_path))
    try:
        with pytest.raises(WorkerDied) as died:
            rewrite(pool, engine)
        assert "page workers keep dying" in str(died.value)
        assert str(died.value).count("cannot read the generic cosmetic index") == 3
        assert "No such file or directory" in str(died.value)
    finally:
        pool.close()
    assert "Traceback" not in capfd.readouterr().err


def test_time_waiting_for_a_worker_is_not_taken_from_the_budget(engine, tmp_path):
    # One worker, busy with a stuck page: the next page waits in the queue, and is turned away
    # with its own reason once it waited as long as a page may take, not silently timed out.
    pool = RewritePool(engine.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        rewrite(pool, engine)

        async def scenario():
            stuck = asyncio.ensure_future(_rewrite(pool, engine, body=STUCK_PAGE, timeout=2, url="https://stuck.test/"))
            await asyncio.sleep(0.3)
            with pytest.raises(QueueTimeout):
                await _rewrite(pool, engine, timeout=1)
            with pytest.raises(PageTimeout):
                await stuck

        asyncio.run(scenario())
        assert rewrite(pool, engine).result.removed == 2
    finally:
        pool.close()


def test_workers_ignore_sigint_and_close_stops_them(engine, tmp_path):
    pool = RewritePool(engine.cosmetic_store.generic, workers=2, index_dir=str(tmp_path))
    rewrite(pool, engine)
    pids = pool.pids
    for pid in pids:
        os.kill(pid, signal.SIGINT)  # what a terminal's Ctrl-C sends the whole process group
    time.sleep(0.3)
    assert rewrite(pool, engine).result.removed == 2 and pool.pids == pids
    started = time.monotonic()
    pool.terminate()
    assert time.monotonic() - started < 3
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_one_core_uses_a_thread(engine):
    pool = RewritePool(engine.cosmetic_store.generic, workers=0)
    try:
        assert rewrite(pool, engine).result.removed == 2
        assert pool.generic is engine.cosmetic_store.generic  # the thread uses the index in memory
        with pytest.raises(PageTimeout):  # stopped at its deadline in the thread too
            rewrite(pool, engine, body=b"<html><body>" + b'<div class="ad">' * 20_000 + b"</body></html>", timeout=0.3)
    finally:
        pool.close()


def test_pages_waiting_when_the_pool_is_replaced_go_out_with_a_reason(engine, tmp_path):
    pool = RewritePool(engine.cosmetic_store.generic, workers=1, index_dir=str(tmp_path))
    try:
        rewrite(pool, engine)

        async def scenario():
            busy = asyncio.ensure_future(_rewrite(pool, engine, body=STUCK_PAGE, timeout=2, url="https://stuck.test/"))
            await asyncio.sleep(0.3)
            waiting = asyncio.ensure_future(_rewrite(pool, engine, timeout=2))
            await asyncio.sleep(0.1)
            pool.close()  # what a reload does to the old engine's pool
            with pytest.raises(RuntimeError, match="replaced while the page waited"):
                await waiting  # an error the caller records, not a cancellation that would end the flow
            with pytest.raises(PageTimeout):
                await busy  # the busy worker finishes (here: is cut off) and then stops

        asyncio.run(scenario())
    finally:
        pool.terminate()
