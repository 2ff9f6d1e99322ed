"""The engine in use and what belongs to it: the lists it is built from, their refresher, its page workers.

`Engines.load` plans the lists (files, the built-in list, subscriptions through their cache) and
builds or loads the engine; a refresher thread keeps subscriptions fresh and builds the next
engine in its own thread. Every new engine is handed to `on_engine` with one call, so requests
see the old engine or the new one, never a mixture. With page workers running, each engine gets
a pool of its own, whose workers hold its generic cosmetic index (the proxy keeps only the stored
form of that index: see `RewritePool`).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Sequence

from mitmproxy import exceptions

from ..engine import Engine
from ..lists import subscriptions
from ..lists.listset import BackgroundRefresher, ListPlan, plan_lists
from . import pool as pools
from .pool import RewritePool
from ..printable import printable_logger

logger = printable_logger("dejunk")


def settle_heap() -> None:
    """After an engine is built or swapped: move what is alive out of the garbage collector's sight.

    An engine holds a few hundred thousand long-lived objects; without this every full collection
    walks them all, while the proxy serves requests. Objects die by reference counting as before.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def read_subscription_config(path: str | None) -> subscriptions.SubscriptionConfig:
    """The config file's [lists] table; OptionsError naming dejunk_config when it cannot be read."""
    if not path:
        return subscriptions.SubscriptionConfig((), None)
    try:
        return subscriptions.read_subscription_config(path)
    except (OSError, ValueError) as e:
        raise exceptions.OptionsError(f"dejunk_config: {e}") from None


class Engines:
    """Builds engines from the lists, keeps subscriptions fresh, and owns the page workers of the engine in use."""

    def __init__(self, on_engine: Callable[[Engine], None], on_update: Callable[[], None] = lambda: None):
        self.on_engine = on_engine
        self.on_update = on_update  # after a background list update swapped the engine in
        self.engine: Engine | None = None
        self.plan: ListPlan | None = None
        self.refresher: BackgroundRefresher | None = None
        self.compiled_dir = os.path.join(subscriptions.default_cache_dir(), "compiled")
        self.pool: RewritePool | None = None
        self.workers_wanted = False  # pages are rewritten (dejunk_cosmetic is not off)
        self.running = False  # the proxy serves: start workers as soon as an engine is there
        self._specs: tuple[Sequence[str], str | None, tuple[str, ...]] = ((), None, ())
        self._build_lock = threading.Lock()
        # Held while the engine in use and its pool change together: the event loop (start, reload)
        # and the refresher's thread (a list update) may both do that at once.
        self._swap_lock = threading.Lock()
        self._generation = 0

    def _use(self, engine: Engine) -> None:
        self.engine = engine
        self.on_engine(engine)

    def load(self, specs: Sequence[str], config_path: str | None, cache_option: str | None,
             trusted_prefixes: Sequence[str] = ()) -> None:
        """Plan the lists, build the engine, and (re)start the refresher for subscriptions."""
        config = read_subscription_config(config_path)
        if not specs and not config.subscriptions:
            raise exceptions.OptionsError("dejunk_lists: no lists given (use 'builtin' for dejunk's own list)")
        cache_dir = cache_option or config.cache_dir or subscriptions.default_cache_dir()
        plan = plan_lists(specs, config.subscriptions, cache_dir, trusted_prefixes)
        for url in plan.missing:
            logger.warning(f"dejunk: {url}: no copy downloaded yet; fetching it in the background")
        if plan.fallback:
            logger.warning("dejunk: using the built-in list until the subscriptions arrive")
        self.compiled_dir = os.path.join(cache_dir, "compiled")
        self._specs = (list(specs), config_path, tuple(trusted_prefixes))
        with self._build_lock:
            engine = self._build(plan.paths, plan.untrusted)
            with self._swap_lock:
                self._use(engine)
            self._generation += 1
            settle_heap()
        self.plan = plan
        if self.refresher is None or (self.refresher.urls, self.refresher.cache_dir) != (plan.subscriptions, cache_dir):
            if self.refresher is not None:
                self.refresher.stop()
            self.refresher = BackgroundRefresher(plan.subscriptions, cache_dir, self._lists_changed)
            self.refresher.start()
        if self.running:
            self.start_workers()

    def _lists_changed(self, results) -> None:
        # Runs in the refresher's thread: build the new engine there, then swap it in with one
        # assignment, so every request sees either the old engine or the new one.
        with self._build_lock:
            generation = self._generation
            specs, config_path, trusted_prefixes = self._specs
            plan = plan_lists(specs, read_subscription_config(config_path).subscriptions, self.refresher.cache_dir,
                              trusted_prefixes)
            engine = self._build(plan.paths, plan.untrusted)
            if generation == self._generation:
                with self._swap_lock:
                    if self.running:
                        engine = self._with_pool(engine)  # here, in this thread: not on the event loop
                    self.plan = plan
                    self._use(engine)
                settle_heap()
                self.on_update()
                logger.info("dejunk: lists updated, new filters in use")

    def _build(self, paths: Sequence[str], untrusted: Sequence[str] = ()) -> Engine:
        started = time.perf_counter()
        try:
            # The compiled-engine cache is a pickle: keep its folder private to the user.
            os.makedirs(self.compiled_dir, mode=0o700, exist_ok=True)
        except OSError as e:
            logger.warning(f"dejunk: no compiled-engine cache ({e}); building from the lists each start")
        try:
            # With page worker processes the generic cosmetic index is theirs: the proxy leaves it on disk.
            engine = Engine.from_lists(
                list(paths), cache_dir=self.compiled_dir, generic_on_disk=pools.default_workers() > 0,
                untrusted=untrusted,
            )
        except OSError as e:
            raise exceptions.OptionsError(f"dejunk_lists: cannot read {e.filename}: {e.strerror}") from None
        elapsed = time.perf_counter() - started
        for summary in engine.lists:
            logger.info(
                f"dejunk: {summary.name}: {summary.rules - summary.host_rules} network, {summary.cosmetic} cosmetic "
                f"rules, {summary.host_rules} host entries in force ({summary.title or 'untitled'})"
            )
        skipped = ", ".join(f"{reason} {n}" for reason, n in engine.skipped.most_common() if reason != "comment")
        if skipped:
            logger.info(f"dejunk: skipped lines: {skipped}")
        for bad in engine.bad_lines[:10]:
            logger.warning(f"dejunk: {bad}")
        if len(engine.bad_lines) > 10:
            logger.warning(f"dejunk: ... and {len(engine.bad_lines) - 10} more bad lines")
        logger.info(f"dejunk: filters ready in {elapsed:.2f} s")
        return engine

    # --- page workers ----------------------------------------------------------------------------

    def rewrite_pool(self) -> RewritePool:
        """The workers for the engine in use. Made with the engine; here only if a page came first (tests, replay)."""
        if self.pool is None:
            self.start_workers()
        return self.pool

    def start_workers(self) -> None:
        """Have page workers ready for the engine in use (starting them takes a few hundred ms)."""
        # Under the swap lock: a list update swapping its engine in meanwhile would otherwise be
        # undone by this one, made for the engine it replaced.
        with self._swap_lock:
            if self.engine is None:
                return
            engine = self._with_pool(self.engine)
            if engine is self.engine:
                return
            self._use(engine)
        settle_heap()  # the engine as loaded, generic index and all, is garbage now

    def _with_pool(self, engine: Engine) -> Engine:
        """Have a pool for `engine` ready, replacing one made for an older engine; returns the engine to use."""
        if engine.cosmetic_store is None or not self.workers_wanted:
            return engine
        generic = engine.cosmetic_store.generic
        if self.pool is not None and self.pool.generic is generic:
            return engine
        old, self.pool = self.pool, RewritePool(generic, index_dir=self.compiled_dir)
        if old is not None:
            old.close()
        if self.pool.generic is not generic:
            # The workers hold the generic index; the proxy keeps only its stored form. The index is
            # most of the engine's objects, and the proxy serves requests faster without them.
            engine = engine.with_cosmetic_store(engine.cosmetic_store.with_generic(self.pool.generic))
        return engine

    def close(self) -> None:
        if self.refresher is not None:
            self.refresher.stop()
        if self.pool is not None:
            self.pool.terminate()  # the proxy is shutting down: no page waits for them
