"""The engine in use and what belongs to it: the lists it is built from, their refresher, its page workers.

`Engines.load` plans the lists (files, the built-in list, list sets and subscriptions through
their cache, and last the user's own filters file) and builds or loads the engine; a refresher
thread keeps subscriptions fresh and a watcher thread notices edits of the user's filters, and
each builds the next engine in its own thread. Every new engine is handed to `on_engine` with one call, so requests
see the old engine or the new one, never a mixture. With page workers running, each engine gets
a pool of its own, whose workers hold its generic cosmetic index (the proxy keeps only the stored
form of that index: see `RewritePool`).

Several proxies may share one list cache (`dejunk serve`). Then one of them fetches
(`fetch=True`) and the others (`fetch=False`) download nothing (their refresher passes a forced
update to `ask_for_update`): their watcher looks at the cached copies too, and when one changes
they wait (up to `FOLLOW_WAIT` seconds, holding no lock) for the engine the fetching proxy compiles
from the new copies to appear in the shared compiled-engine cache, and load it, so a list is
downloaded and compiled once, not once per proxy.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence

from mitmproxy import exceptions

from ..engine import Engine
from ..lists import sets, subscriptions
from ..lists.listset import BackgroundRefresher, FileWatcher, ListPlan, plan_lists, prepare_myfilters
from ..lists.syntax import display_name
from ..network import speed
from . import pool as pools
from .pool import RewritePool
from ..printable import printable_logger
from ..storage import settle_heap

logger = printable_logger("dejunk")
FOLLOW_WAIT = 120.0  # seconds a proxy that does not fetch waits for the fetching one's new engine
FOLLOW_POLL = 0.5


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
        self.cache_dir = subscriptions.default_cache_dir()
        self.compiled_dir = os.path.join(self.cache_dir, "compiled")
        self.fetch = True  # this proxy downloads subscriptions (else another one sharing the cache does)
        # Not fetching: how to ask the proxy that does for an update now (set by the addon; whether it could).
        self.ask_for_update: Callable[[], bool] = lambda: False
        self._closing = threading.Event()
        self.pool: RewritePool | None = None
        self.workers_wanted = False  # pages are rewritten (dejunk_cosmetic is not off)
        self.running = False  # the proxy serves: start workers as soon as an engine is there
        self.watcher: FileWatcher | None = None
        self._specs: tuple[Sequence[str], str | None, tuple[str, ...], str | None] = ((), None, (), None)
        self._build_lock = threading.Lock()
        # Held while the engine in use and its pool change together: the event loop (start, reload)
        # and the refresher's thread (a list update) may both do that at once.
        self._swap_lock = threading.Lock()
        self._generation = 0

    def _use(self, engine: Engine) -> None:
        self.engine = engine
        self.on_engine(engine)

    def load(self, specs: Sequence[str], config_path: str | None, cache_option: str | None,
             trusted_prefixes: Sequence[str] = (), myfilters: str | None = None, follow: bool = False) -> None:
        """Plan the lists, build the engine, and (re)start the refresher and the watcher of `myfilters`.

        With `follow` (not fetching, and not on the event loop), first wait for the fetching proxy's
        engine for these lists (see `_wait_for_compiled`).
        """
        config = read_subscription_config(config_path)
        if not specs and not config.subscriptions:
            raise exceptions.OptionsError("dejunk_lists: no lists given (use 'builtin' for dejunk's own list)")
        cache_dir = cache_option or config.cache_dir or subscriptions.default_cache_dir()
        plan = plan_lists(specs, config.subscriptions, cache_dir, trusted_prefixes)
        fetched = tuple(url for url in plan.subscriptions if sets.not_fetched_reason(url) is None)
        for url in plan.subscriptions:
            reason = sets.not_fetched_reason(url)
            if reason is not None:
                have = "using its cached copy" if url not in plan.missing else "no copy"
                logger.info(f"dejunk: not fetched: {url} ({reason}; {have})")
        waiting = [url for url in plan.missing if url in fetched]
        if waiting:
            logger.info(f"dejunk: fetching {len(waiting)} list{'s' if len(waiting) != 1 else ''} in the background "
                        f"(no copy downloaded yet): " + ", ".join(sets.title_of(url) or url for url in waiting))
        if plan.fallback:
            logger.warning("dejunk: using the built-in list until the subscriptions arrive")
        created, problem = prepare_myfilters(myfilters) if myfilters else (False, None)
        if problem:
            logger.warning(f"dejunk: my filters: {problem}; starting without them (dejunk_myfilters)")
        self.cache_dir = cache_dir
        self.compiled_dir = os.path.join(cache_dir, "compiled")
        self._specs = (list(specs), config_path, tuple(trusted_prefixes), myfilters)
        if follow and not self.fetch:  # outside the lock: a configure on the event loop must not wait for this
            plan = self._wait_for_compiled(plan, lambda: plan_lists(specs, config.subscriptions, cache_dir,
                                                                    trusted_prefixes))
        # Not fetching, the watcher looks at the cached copies too. It starts from the files as planned:
        # a copy the fetching proxy saves while this engine is built is a change it must see.
        watched = ([myfilters] if myfilters else []) + (
            [] if self.fetch else [subscriptions.cache_path(url, cache_dir) for url in fetched])
        as_planned = FileWatcher.snapshot(watched)
        as_planned.update((subscriptions.cache_path(url, cache_dir), None) for url in plan.missing)
        with self._build_lock:
            engine = self._build(self._with_myfilters(plan.paths), plan.untrusted)
            with self._swap_lock:
                self._use(engine)
            self._generation += 1
            settle_heap()
        if created:  # said once the filters are in use: a start that fails says only why
            logger.info(f"dejunk: my filters: created {myfilters} for your own rules (taken into use when saved)")
        self.plan = plan
        if self.refresher is None or (self.refresher.urls, self.refresher.cache_dir,
                                      getattr(self.refresher, "fetching", True)) != (fetched, cache_dir, self.fetch):
            if self.refresher is not None:
                self.refresher.stop()
            # Not fetching, it downloads nothing: a forced round (an update asked for) asks the fetching proxy.
            self.refresher = BackgroundRefresher(fetched, cache_dir, self._lists_changed,
                                                 **({} if self.fetch else {"update": self._ask_fetching_proxy}))
            self.refresher.fetching = self.fetch
            self.refresher.start()
        if self.watcher is None or self.watcher.paths != tuple(watched):
            if self.watcher is not None:
                self.watcher.stop()
            self.watcher = FileWatcher(watched, self._files_changed, seen=as_planned)
            self.watcher.start()
        if self.running:
            self.start_workers()

    def _with_myfilters(self, paths: Sequence[str]) -> list[str]:
        """The lists' paths, then the user's own filters (read last), if that file can be read now."""
        myfilters = self._specs[3]
        if not myfilters or not os.path.isfile(myfilters):
            return list(paths)
        try:
            with open(myfilters, "rb"):
                pass
        except OSError as e:
            logger.warning(f"dejunk: my filters: cannot read {myfilters}: {e.strerror or e}; going on without them")
            return list(paths)
        return [path for path in paths if path != myfilters] + [myfilters]

    def _ask_fetching_proxy(self, urls, cache_dir, force: bool = False) -> list:
        """The refresher's round where another proxy fetches: nothing downloaded; forced, that proxy is asked."""
        if force and not self.ask_for_update():
            logger.warning("dejunk: this proxy does not download lists (dejunk_fetch_lists is false) and cannot ask "
                           "the one that does: the lists are not updated")
        return []

    def _lists_changed(self, results) -> None:
        self._rebuild("lists updated")

    def _files_changed(self) -> None:
        if self.fetch:
            self._rebuild(f"my filters changed ({self._specs[3]})")
        else:
            self._rebuild("my filters or the lists another proxy fetched changed", follow=True)

    def myfilters_saved(self) -> None:
        """The user's filters file was just written by dejunk (the dashboard): build with it now, in this thread."""
        if self.watcher is not None:
            self.watcher.remember()  # not built a second time when the watcher looks next
        self._rebuild(f"my filters changed ({self._specs[3]})")

    def _rebuild(self, why: str, follow: bool = False) -> None:
        # Runs in the refresher's or the watcher's thread: build the new engine there, then swap it
        # in with one assignment, so every request sees either the old engine or the new one.
        if follow:  # outside the lock: a configure on the event loop must not wait for this
            specs, config_path, trusted_prefixes, _ = self._specs

            def replan() -> ListPlan:
                return plan_lists(specs, read_subscription_config(config_path).subscriptions, self.cache_dir,
                                  trusted_prefixes)

            try:
                self._wait_for_compiled(replan(), replan)
            except (exceptions.OptionsError, ValueError):
                pass  # said below, where the build fails the same way
        with self._build_lock:
            generation = self._generation
            specs, config_path, trusted_prefixes, _ = self._specs
            try:
                config = read_subscription_config(config_path)
                plan = plan_lists(specs, config.subscriptions, self.cache_dir, trusted_prefixes)
                engine = self._build(self._with_myfilters(plan.paths), plan.untrusted)
            except (exceptions.OptionsError, ValueError) as e:
                logger.warning(f"dejunk: {why}, but the new filters cannot be built ({e}); the filters in use stay")
                return
            if generation == self._generation:
                with self._swap_lock:
                    if self.running:
                        engine = self._with_pool(engine)  # here, in this thread: not on the event loop
                    self.plan = plan
                    self._use(engine)
                settle_heap()
                self.on_update()
                network = sum(s.rules - s.host_rules for s in engine.lists)
                hosts = sum(s.host_rules for s in engine.lists)
                cosmetic = sum(s.cosmetic for s in engine.lists)
                logger.info(f"dejunk: {why}, new filters in use: {network} network and {cosmetic} cosmetic rules, "
                            f"{hosts} host entries from {len(engine.lists)} lists")

    def _wait_for_compiled(self, plan: ListPlan, replan: Callable[[], ListPlan]) -> ListPlan:
        """Wait until the fetching proxy has saved the engine for the lists as they now are; the plan to build.

        Planned again at every look: a list update may replace several files one after another.
        After `FOLLOW_WAIT` seconds (that proxy is down, or cannot build them) this one builds itself.
        """
        deadline = time.monotonic() + FOLLOW_WAIT
        while not self._closing.is_set():
            try:
                if os.path.exists(Engine.compiled_path(self._with_myfilters(plan.paths), self.compiled_dir,
                                                       untrusted=plan.untrusted)):
                    return plan
            except OSError:
                pass  # a file gone meanwhile: plan again
            if time.monotonic() >= deadline:
                logger.info(f"dejunk: no engine compiled by the proxy that fetches the lists within "
                            f"{FOLLOW_WAIT:.0f} s; building it here")
                return plan
            self._closing.wait(FOLLOW_POLL)
            plan = replan()
        return plan

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
            close = sets.suggestion(str(e.filename or ""))
            hint = f" (did you mean the list set or list name {close!r}?)" if close else ""
            raise exceptions.OptionsError(f"dejunk_lists: cannot read {e.filename}: {e.strerror}{hint}") from None
        elapsed = time.perf_counter() - started
        for summary in engine.lists:
            logger.info(
                f"dejunk: {summary.name}: {summary.rules - summary.host_rules} network, {summary.cosmetic} cosmetic "
                f"rules, {summary.host_rules} host entries in force ({summary.title or 'untitled'})"
            )
        skipped = ", ".join(f"{reason} {n}" for reason, n in engine.skipped.most_common() if reason != "comment")
        if skipped:
            logger.info(f"dejunk: skipped lines: {skipped}")
        # The user's own bad lines are all said (up to a screenful), whatever the lists before them hold.
        own = display_name(self._specs[3]) if self._specs[3] and self._specs[3] in paths else None
        mine = [bad for bad in engine.bad_lines if bad.list == own]
        others = [bad for bad in engine.bad_lines if bad.list != own]
        for bad in others[:10]:
            logger.warning(f"dejunk: {bad}")
        if len(others) > 10:
            logger.warning(f"dejunk: ... and {len(others) - 10} more bad lines")
        for bad in mine[:50]:
            logger.warning(f"dejunk: my filters: {bad}")
        if len(mine) > 50:
            logger.warning(f"dejunk: my filters: ... and {len(mine) - 50} more bad lines")
        logger.info(f"dejunk: filters ready in {elapsed:.2f} s; network decisions: {speed.HOT_PATH}")
        if speed.UNUSED_BUILD:
            logger.warning(f"dejunk: the compiled network hot path is not used: {speed.HOT_PATH}")
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
        self._closing.set()
        if self.refresher is not None:
            self.refresher.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self.pool is not None:
            self.pool.terminate()  # the proxy is shutting down: no page waits for them
