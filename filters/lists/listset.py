"""Which list files an engine is built from, and a worker that keeps subscribed lists fresh.

`dejunk_lists` entries are files, `builtin`, or http(s) URLs; the config's `[lists]` table can
name more URLs. A URL is read from its last good copy in the subscription cache. Until a
subscription has a copy (a first start without network), the built-in list stands in for it,
so the proxy always blocks something.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import subscriptions as subs
from .syntax import BUILTIN_NAME, resolve_path
from ..printable import printable_logger

logger = printable_logger("dejunk")


@dataclass(frozen=True, slots=True)
class ListPlan:
    """The files to build an engine from and the subscriptions behind them."""

    paths: tuple[str, ...]
    subscriptions: tuple[str, ...]
    missing: tuple[str, ...]  # subscribed URLs without a cached copy yet
    fallback: bool  # the built-in list was added because of `missing`
    untrusted: tuple[str, ...] = ()  # paths of downloaded lists that may not use trusted-only rules


def plan_lists(specs: Iterable[str], config_subscriptions: Iterable[str], cache_dir: str,
               trusted_prefixes: Iterable[str] = ()) -> ListPlan:
    """Resolve list entries to files: URLs to their cached copies, `builtin` to the shipped list.

    Local files and uBO's own lists are trusted; another downloaded list only under one of
    `trusted_prefixes` (`dejunk_trusted_lists`).
    """
    paths: list[str] = []
    urls: list[str] = []
    missing: list[str] = []
    untrusted: list[str] = []
    trusted_prefixes = tuple(trusted_prefixes)
    for spec in [*specs, *config_subscriptions]:
        if subs.is_subscription_url(spec):
            if spec in urls:
                continue
            urls.append(spec)
            path = subs.cache_path(spec, cache_dir)
            if not subs.is_trusted_url(spec, trusted_prefixes):
                untrusted.append(path)
            if subs.cached_paths([spec], cache_dir):
                paths.append(path)
            else:
                missing.append(spec)
        else:
            path = resolve_path(spec)
            if path not in paths:
                paths.append(path)
    fallback = False
    builtin = resolve_path(BUILTIN_NAME)
    if missing and builtin not in paths:
        paths.append(builtin)
        fallback = True
    return ListPlan(tuple(paths), tuple(urls), tuple(missing), fallback, tuple(untrusted))


class ListsUnavailable(Exception):
    """A subscribed list has no cached copy and could not be downloaded; the message says which and why."""


def cache_dir_for(cache_option: str | None, config: subs.SubscriptionConfig) -> str:
    """The list cache the proxy uses: `dejunk_cache`, else the config's `cache_dir`, else the user's cache."""
    return cache_option or config.cache_dir or subs.default_cache_dir()


def plan_lists_now(
    specs: Iterable[str],
    config_subscriptions: Iterable[str],
    cache_dir: str,
    notify: Callable[[str], None] = logger.info,
    trusted_prefixes: Iterable[str] = (),
) -> ListPlan:
    """`plan_lists`, after downloading each subscription without a cached copy into the cache.

    For command-line tools, which cannot wait for a refresher: where the proxy would stand in the
    built-in list, they download first. `notify` gets a line per download; ListsUnavailable is
    raised when one fails or a list entry is not a usable URL.
    """
    specs, config_subscriptions = list(specs), list(config_subscriptions)
    try:
        plan = plan_lists(specs, config_subscriptions, cache_dir, trusted_prefixes)
    except ValueError as e:
        raise ListsUnavailable(str(e)) from None
    if not plan.missing:
        return plan
    for url in plan.missing:
        notify(f"{url}: no copy in the list cache {cache_dir} yet; downloading it")
    failed = []
    for result in subs.update(plan.missing, cache_dir, force=True):
        if result.ok:
            notify(result.describe())
        else:
            failed.append(f"cannot download {result.url}: {result.error}")
    if failed:
        raise ListsUnavailable("; ".join(failed))
    plan = plan_lists(specs, config_subscriptions, cache_dir, trusted_prefixes)
    if plan.missing:  # downloaded, yet not where the cache keeps it: never expected, but never silent
        raise ListsUnavailable(f"no cached copy of {', '.join(plan.missing)} in {cache_dir} after downloading")
    return plan


def plan_from_options(
    specs: Iterable[str] | None,
    config_path: str | None = None,
    cache_option: str | None = None,
    notify: Callable[[str], None] = logger.info,
) -> ListPlan:
    """The lists the proxy would read with these `dejunk_lists`, `dejunk_config` and `dejunk_cache`.

    Subscriptions without a cached copy are downloaded first (`plan_lists_now`); no entries means
    `builtin`, the option's default. ListsUnavailable for an unusable config or list.
    """
    config = subs.SubscriptionConfig((), None)
    if config_path:
        try:
            config = subs.read_subscription_config(config_path)
        except (OSError, ValueError) as e:
            raise ListsUnavailable(f"cannot use the config: {e}") from None
    specs = list(specs or ()) or [BUILTIN_NAME]
    return plan_lists_now(specs, config.subscriptions, cache_dir_for(cache_option, config), notify)


class BackgroundRefresher:
    """A daemon thread that refreshes due subscriptions and reports changed ones.

    It sleeps until the earliest next due time (within [min_wait, max_wait]) or until `kick()`.
    `on_change(results)` runs in the worker thread when a cached copy was replaced.
    """

    def __init__(
        self,
        urls: Iterable[str],
        cache_dir: str,
        on_change: Callable[[list[subs.UpdateResult]], None],
        *,
        min_wait: float = 60.0,
        max_wait: float = 6 * 3600.0,
        update: Callable[..., list[subs.UpdateResult]] = subs.update,
    ):
        self.urls = tuple(urls)
        self.cache_dir = cache_dir
        self.on_change = on_change
        self.min_wait = min_wait
        self.max_wait = max_wait
        self._update = update
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._force = False
        self._thread: threading.Thread | None = None
        self.last_results: list[subs.UpdateResult] = []
        self.rounds = 0

    def start(self) -> None:
        if not self.urls or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dejunk list refresh", daemon=True)
        self._thread.start()

    def kick(self, force: bool = False) -> None:
        """Refresh now (every list with `force`) instead of waiting for the next due time."""
        self._force = self._force or force
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            force, self._force = self._force, False
            self._wake.clear()
            wait = self._round(force)
            self._wake.wait(wait)

    def _round(self, force: bool) -> float:
        """One refresh round; returns how long to sleep before the next."""
        try:
            results = self._update(self.urls, self.cache_dir, force=force)
        except Exception:  # a refresh bug must not end the thread, nor the proxy
            logger.exception("dejunk: list refresh failed")
            return self.max_wait
        self.last_results = results
        self.rounds += 1
        for result in results:
            if result.outcome != subs.NOT_DUE:
                level = logging.WARNING if not result.ok else logging.INFO
                logger.log(level, f"dejunk: list {result.describe()}")
        if any(result.changed for result in results) and not self._stop.is_set():
            try:
                self.on_change(results)
            except Exception:
                logger.exception("dejunk: rebuilding the filters after a list update failed")
        due = [r.next_due for r in results if r.next_due is not None]
        wait = (min(due) - time.time()) if due else self.max_wait
        return min(max(wait, self.min_wait), self.max_wait)
