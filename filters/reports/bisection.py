"""The proxy's live bisection, one at a time, as the commands (`dejunk.bisect.start/good/bad/stop`) and the dashboard drive it.

`Bisection` puts a `culprit.LiveBisect`'s engine in place of the one `Filtering` uses while it
runs and the engine as it was back at its end, keeps what it said last (the words the commands
log and the dashboard shows) and the result of the last one, whose exceptions it adds to the
user's filters on request (`apply`, as `scripts/culprit.py --apply` does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..lists.listset import append_myfilters
from .culprit import LiveBisect

IDLE = "no bisection running"


class NotRunning(Exception):
    """An answer (or stop) with no bisection running."""


class NoEngine(Exception):
    """No engine yet: nothing to bisect."""


class NothingToApply(Exception):
    """No culprit named by the last bisection (or it was stopped, or another runs)."""


class Bisection:
    """The live bisection of the proxy: start, answers, stop, the state to show, and its exceptions applied."""

    def __init__(self, filtering, engine: Callable[[], object]):
        self.filtering = filtering  # filters.proxy.filtering.Filtering: its `engine` is swapped
        self.engine = engine  # the engine in force without a bisection
        self.live: LiveBisect | None = None  # running now
        self.last: LiveBisect | None = None  # running now, or the last one, ended
        self.stopped = False  # the last one ended before naming anything
        self.message = IDLE
        self.applied: list[str] | None = None  # the last one's exceptions added to my filters
        self._lock = threading.Lock()  # a new engine arrives from another thread (`engine_changed`)

    def start(self, site: str) -> str:
        """Bisect `site` with every rule on at first; what to do next. Another running is stopped first."""
        with self._lock:
            engine = self.engine() or (self.live.base if self.live is not None else self.filtering.engine)
            if engine is None:
                raise NoEngine("no engine yet")
            live = LiveBisect(engine, site)  # ValueError for what is not a site: one running goes on
            self._end()
            self.live = self.last = live
            self.stopped, self.applied = False, None
            self.filtering.engine = live.engine
            self.message = live.start_message()
            return self.message

    def answer(self, broken: bool) -> str:
        """The user's verdict on the page as it is now; what to do next, or the culprit."""
        with self._lock:
            live = self.live
            if live is None:
                raise NotRunning("no bisection running (dejunk.bisect.start SITE)")
            said = live.answer(broken)
            if live.phase == "done":
                self._end()
            self.message = said
            return said

    def stop(self) -> str:
        """End the bisection running: every rule applies to its site again."""
        with self._lock:
            if self.live is None:
                raise NotRunning(IDLE)
            site = self.live.site
            self._end()
            self.stopped = True
            self.message = f"bisection of {site} stopped; every rule applies again"
            return self.message

    def engine_changed(self) -> bool:
        """A new engine is coming into force (lists changed): a bisection running stops, as its rule ids are the old engine's."""
        with self._lock:
            if self.live is None:
                return False
            self.live.stop()
            self.live = None
            self.stopped = True
            self.message = "the lists changed: the bisection stopped (dejunk.bisect.start SITE begins again)"
            return True

    def _end(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.filtering.engine = self.live.base
            self.live = None

    def state(self) -> dict:
        """What the dashboard shows: running or not, the site, phase, step, what to do next, the culprits."""
        with self._lock:
            live = self.live or self.last
            if live is None:
                return {"active": False, "site": None, "phase": "idle", "step": 0, "fired": 0, "message": self.message,
                        "result": None, "applied": None}
            phase = live.phase if self.live is not None else ("stopped" if self.stopped else "done")
            result = None
            if live.result is not None and phase == "done":
                found = live.result
                result = {"status": found.status, "steps": found.steps, "culprits": [
                    {"rule": c.rule.text, "list": c.rule.list, "line": c.rule.line, "kind": c.rule.kind,
                     "exception": c.exception} for c in found.culprits]}
            if phase == "searching" and live.search is not None:
                step = live.search.steps + 1
            else:
                step = live.result.steps if live.result is not None else 0
            return {"active": self.live is not None, "site": live.site, "phase": phase, "step": step,
                    "fired": len(live.fired), "message": self.message, "result": result, "applied": self.applied}

    def exceptions(self) -> tuple[str, list[str]]:
        """The site and the exceptions the last bisection named; `NothingToApply` if none is ready."""
        with self._lock:
            live = self.last
            if self.live is not None:
                raise NothingToApply(f"the bisection of {self.live.site} is still running")
            if live is None or self.stopped or live.result is None or not live.result.culprits:
                raise NothingToApply("no culprit to add: the last bisection named none")
            return live.site, [c.exception for c in live.result.culprits]

    def apply(self, path: str) -> list[str]:
        """Add the last culprits' exceptions to the user's filters file (slow: a thread); the rules added.

        Raises `NothingToApply`, or `OSError` with the reason the file cannot be written.
        """
        site, rules = self.exceptions()
        added, problem = append_myfilters(path, rules, f"live bisection of {site}: the culprit's exception")
        if problem:
            raise OSError(problem)
        with self._lock:
            if self.last is not None and self.last.site == site:
                self.applied = rules
        return added
