"""Rewriting pages off mitmproxy's event loop: a worker pool with a time limit per page.

Parsing a page takes tens of milliseconds; on the event loop that would stall every other flow.
With more than one core, pages go to worker processes (started with "spawn": the proxy is
multi-threaded, and forking a threaded process is unsafe). Each worker loads the engine's generic
cosmetic index once, at start, from a file (written when the pool is made, unless the index is
stored already), so a page travels with only its own small rule set, and the proxy process need
not keep the index at all. (Handing the index to a starting worker directly would block the
caller until the new process reads it, a few hundred milliseconds of a stalled event loop.) On
one core a worker thread is used instead. A page that is not done in time is abandoned (the
caller keeps the original response) and the workers are replaced, so a runaway parse cannot hold
the pool. Make a pool when an engine is ready, not on the first page: starting it takes a while.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from functools import partial

from ..cosmetic.rules import PageRules, RuleIndex, StoredIndex
from ..html.rewrite import RewriteResult, install_generic_index, rewrite_page


def default_workers() -> int:
    """Worker processes to use: all cores but one (for mitmproxy itself), at most four; 0 on one core."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(4, cores - 1)


def _warm() -> None:
    """Runs once in each new worker, so its first page does not pay for the imports."""


def _install_from_file(stored: StoredIndex) -> None:
    """Worker initializer: load the generic index the pool wrote, and install it."""
    install_generic_index(stored.load())


class RewritePool:
    """Runs `rewrite_page` in workers; `rewrite` is awaited from the event loop."""

    def __init__(self, generic: RuleIndex | StoredIndex | None, workers: int | None = None,
                 index_dir: str | None = None):
        self.workers = default_workers() if workers is None else workers
        # What an engine served by this pool holds as its generic index: with worker processes the
        # index is in a file they load (written here unless it is stored already), and the caller
        # keeps only that `StoredIndex` (see `_prepare_pool` in the addon), so the rules live in
        # the workers, not in the proxy.
        self.generic = generic
        self._owned: StoredIndex | None = None
        if self.workers and isinstance(generic, RuleIndex):
            self.generic = self._owned = StoredIndex.save(generic, index_dir)
        self._executor = self._start()

    def _start(self) -> concurrent.futures.Executor:
        if self.workers == 0:
            return concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="dejunk-rewrite")
        stored = self.generic if isinstance(self.generic, StoredIndex) else None
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_install_from_file if stored else None,
            initargs=(stored,) if stored else (),
        )
        for _ in range(self.workers):
            executor.submit(_warm)
        return executor

    async def rewrite(self, body: bytes, *, url: str, content_type: str | None, rules: PageRules,
                      mode: str, timeout: float) -> RewriteResult:
        """Rewrite one page; asyncio.TimeoutError when it takes longer than `timeout` seconds."""
        if self.workers and self.generic is not None and rules.generic_id == self.generic.fingerprint:
            rules = rules.without_generic()  # the workers hold the index already
        # (Rules of another engine, during a swap, travel whole: slower, but right.)
        job = partial(rewrite_page, body, url=url, content_type=content_type, rules=rules, mode=mode)
        future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self._replace_workers()
            raise

    def _replace_workers(self) -> None:
        stuck, self._executor = self._executor, self._start()
        _stop(stuck)

    def close(self) -> None:
        _stop(self._executor)
        if self._owned is not None:
            self._owned.remove()


def _stop(executor: concurrent.futures.Executor) -> None:
    # Taken before shutdown, which forgets them. A process stuck in a parse would run on; end it.
    # (A stuck thread cannot be ended: it is left to finish, and a fresh thread takes the next pages.)
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
