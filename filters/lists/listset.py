"""Which list files an engine is built from, the user's own filters file, and the threads that keep them fresh.

`dejunk_lists` entries are files, `builtin`, names of list sets (`default`: see `sets`) or of
known lists, or http(s) URLs; the config's `[lists]` table can name more URLs. A URL is read
from its last good copy in the subscription cache. Until a subscription has a copy (a first
start without network), the built-in list stands in for it, so the proxy always blocks something.

The user's own filters ("my filters", `dejunk_myfilters`, by default `my-filters.txt` in the
state folder `dejunk_state`) are read last and trusted; `FileWatcher` notices when they change.
`BackgroundRefresher` downloads what is due, says once when lists cannot be fetched and once
when they can again, and backs off in between (`subscriptions` keeps each list's next try).
"""

from __future__ import annotations

import datetime
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from . import sets
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
    expanded: list[str] = []
    for spec in specs:
        # A set's name stands for its lists (a file of that name is still reachable as ./name).
        expanded.extend(sets.expand(spec) or [spec])
    for spec in [*expanded, *config_subscriptions]:
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
    `builtin` (for command-line tools: the proxy's default, the `default` set, is many megabytes to
    download). ListsUnavailable for an unusable config or list.
    """
    config = subs.SubscriptionConfig((), None)
    if config_path:
        try:
            config = subs.read_subscription_config(config_path)
        except (OSError, ValueError) as e:
            raise ListsUnavailable(f"cannot use the config: {e}") from None
    specs = list(specs or ()) or [BUILTIN_NAME]
    return plan_lists_now(specs, config.subscriptions, cache_dir_for(cache_option, config), notify)


# --- the state folder and the user's own filters -------------------------------------------------

MYFILTERS_NAME = "my-filters.txt"
MYFILTERS_HEADER = """! Title: My filters
! Your own rules, one per line, in uBlock Origin / Adblock Plus syntax (or hosts lines), e.g.
!   ||ads.example.com^
!   example.com##.sponsored-box
!   @@||cdn.example.net/needed.js
! dejunk reads this file after every list and trusts it (trusted-* scriptlets and $replace work
! here), and takes changes into use a few seconds after the file is saved, without a restart.
"""


def default_state_dir() -> str:
    """dejunk's own data folder: `$XDG_DATA_HOME/dejunk`, else `~/.local/share/dejunk`."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "dejunk")


def state_dir_for(option: str | None) -> str:
    """The state folder `dejunk_state` names (`~` expanded), else the default one."""
    return os.path.expanduser(option) if option else default_state_dir()


def myfilters_path(option: str | None, state_dir: str) -> str | None:
    """The user's own filters file: `dejunk_myfilters`, else my-filters.txt in the state folder; None if off ("")."""
    if option is None:
        return os.path.join(state_dir, MYFILTERS_NAME)
    return os.path.expanduser(option) if option.strip() else None


def prepare_myfilters(path: str) -> tuple[bool, str | None]:
    """Make sure the user's filters file can be read, creating it (and its folder) with a header if missing.

    Returns (created, problem): a problem is a sentence saying why the file cannot be used; the
    proxy then starts without it, and says so.
    """
    if os.path.exists(path):
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            return False, f"cannot read {path}: {e.strerror or e}"
        return False, None
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    except OSError as e:  # also a file where the folder should be
        return False, f"cannot create {path}: {e.strerror or e}"
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(MYFILTERS_HEADER)
    except FileExistsError:
        return False, None  # made meanwhile by another process: theirs stands
    except OSError as e:
        return False, f"cannot create {path}: {e.strerror or e}"
    return True, None


def append_myfilters(path: str, rules: Sequence[str], note: str) -> tuple[list[str], str | None]:
    """Add rules to the end of the user's filters file under a dated `! note` line (the file made if missing).

    Rules already a line of the file are not added again. Returns (the rules added, problem): a
    problem is a sentence saying why nothing could be written.
    """
    _, problem = prepare_myfilters(path)
    if problem:
        return [], problem
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        with open(path, "r+", encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
            present = {line.strip() for line in text.splitlines()}
            added = [rule for rule in dict.fromkeys(r.strip() for r in rules) if rule and rule not in present]
            if added:
                f.write(("" if not text or text.endswith("\n") else "\n") + "\n".join([f"! {stamp}: {note}", *added]) + "\n")
    except OSError as e:
        return [], f"cannot write {path}: {e.strerror or e}"
    return added, None


class FileWatcher:
    """A daemon thread that looks at files about every `interval` seconds and calls `on_change()` when one changed.

    A change is a different size, modification time or inode (an editor that saves by renaming),
    or the file appearing or going away. `seen` is the files as last read (`snapshot`), when that
    was before the watcher was made: a change made in between is then seen too.
    """

    def __init__(self, paths: Iterable[str], on_change: Callable[[], None], *, interval: float = 1.0,
                 seen: dict[str, tuple[int, int, int] | None] | None = None):
        self.paths = tuple(paths)
        self.on_change = on_change
        self.interval = interval
        self._seen = self.snapshot(self.paths)
        if seen is not None:
            self._seen.update((path, seen[path]) for path in self.paths if path in seen)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _signature(path: str) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns, stat.st_ino

    def start(self) -> None:
        if not self.paths or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dejunk file watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @classmethod
    def snapshot(cls, paths: Iterable[str]) -> dict[str, tuple[int, int, int] | None]:
        """Each file's size, modification time and inode now (None: no such file)."""
        return {path: cls._signature(path) for path in paths}

    def remember(self) -> None:
        """Take the files as they are now as seen (a change made by dejunk itself, handled by its caller)."""
        self._seen = self.snapshot(self.paths)

    def check(self) -> bool:
        """Look once; call `on_change()` (in this thread) if a file changed since the last look."""
        now = self.snapshot(self.paths)
        if now == self._seen:
            return False
        self._seen = now
        try:
            self.on_change()
        except Exception:  # a rebuild bug must not end the watching, nor the proxy
            logger.exception("dejunk: rebuilding the filters after a file changed failed")
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()


# --- keeping subscriptions fresh -------------------------------------------------------------------


def _in(seconds: float) -> str:
    """ "in 1 min", "in 2 h": how long until a retry, for a log line."""
    seconds = max(seconds, 0)
    if seconds < 90:
        return f"in {seconds:.0f} s"
    if seconds < 90 * 60:
        return f"in {seconds / 60:.0f} min"
    return f"in {seconds / 3600:.1f} h"


class BackgroundRefresher:
    """A daemon thread that refreshes due subscriptions and reports changed ones.

    It sleeps until the earliest next due time (within [min_wait, max_wait]) or until `kick()`.
    `on_change(results)` runs in the worker thread when a cached copy was replaced. A list that
    cannot be fetched is said once (one warning for all the lists that fail together), not at
    every retry; when it can be fetched again, that is said once too. Retries back off as
    `subscriptions` schedules them (a minute, doubling, up to a few hours).
    """

    def __init__(
        self,
        urls: Iterable[str],
        cache_dir: str,
        on_change: Callable[[list[subs.UpdateResult]], None],
        *,
        min_wait: float = subs.RETRY_DELAY,
        max_wait: float = 6 * 3600.0,
        update: Callable[..., list[subs.UpdateResult]] = subs.update,
        clock: Callable[[], float] = time.time,
    ):
        self.urls = tuple(urls)
        self.cache_dir = cache_dir
        self.on_change = on_change
        self.min_wait = min_wait
        self.max_wait = max_wait
        self._update = update
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._force = False
        self._thread: threading.Thread | None = None
        self.last_results: list[subs.UpdateResult] = []
        self.rounds = 0
        self.failing: dict[str, str] = {}  # URL → why it cannot be fetched, from its first failure on
        self.busy = False  # a round is asked for (`kick`) or under way

    def start(self) -> None:
        if not self.urls or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dejunk list refresh", daemon=True)
        self._thread.start()

    def kick(self, force: bool = False) -> None:
        """Refresh now (every list with `force`) instead of waiting for the next due time."""
        self._force = self._force or force
        self.busy = True
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
            wait = self.round(force)
            self._wake.wait(wait)

    def round(self, force: bool = False) -> float:
        """One refresh round (in the caller's thread); returns how long to sleep before the next."""
        self.busy = True
        try:
            return self._round(force)
        finally:
            self.busy = self._wake.is_set()  # kicked again meanwhile: another round follows

    def _round(self, force: bool) -> float:
        try:
            results = self._update(self.urls, self.cache_dir, force=force)
        except Exception:  # a refresh bug must not end the thread, nor the proxy
            logger.exception("dejunk: list refresh failed")
            return self.max_wait
        self.last_results = results
        self.rounds += 1
        self._report(results)
        if any(result.changed for result in results) and not self._stop.is_set():
            try:
                self.on_change(results)
            except Exception:
                logger.exception("dejunk: rebuilding the filters after a list update failed")
        due = [r.next_due for r in results if r.next_due is not None]
        wait = (min(due) - self._clock()) if due else self.max_wait
        return min(max(wait, self.min_wait), self.max_wait)

    def _report(self, results: list[subs.UpdateResult]) -> None:
        """A line per list fetched; failures once when they start, and once when they end."""
        newly_failed = []
        recovered = []
        for result in results:
            if result.outcome == subs.FAILED:
                if result.url in self.failing:
                    logger.debug(f"dejunk: list {result.describe()} (still)")
                else:
                    newly_failed.append(result)
                self.failing[result.url] = result.error or "failed"
            elif result.outcome != subs.NOT_DUE:
                logger.info(f"dejunk: list {result.describe()}")
                if self.failing.pop(result.url, None) is not None:
                    recovered.append(result.url)
        if newly_failed:
            retry = [r.next_due for r in newly_failed if r.next_due is not None]
            when = f"next try {_in(min(retry) - self._clock())}, then less and less often" if retry else "no retry"
            never = sum(1 for r in newly_failed if r.path is None)
            kept = ("the built-in list stands in for lists never fetched" if never == len(newly_failed) else
                    "keeping the last good copies" + (" (the built-in list for lists never fetched)" if never else ""))
            logger.warning(
                f"dejunk: cannot fetch {len(newly_failed)} of {len(self.urls)} subscribed lists: "
                + "; ".join(f"list {r.describe()}" for r in newly_failed)
                + f". {kept[0].upper() + kept[1:]}; {when} (said once, until they can be fetched again)"
            )
        if recovered:
            logger.info(f"dejunk: lists can be fetched again: {', '.join(recovered)}")
