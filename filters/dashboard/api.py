"""The dashboard's JSON API: each endpoint reads or changes the proxy's state and answers plain data.

Endpoints are coroutines run on mitmproxy's event loop; whatever may take time there (the state
store's reads, files, list parsing, engine builds) runs in a thread (`asyncio.to_thread`). What
the proxy holds comes in through `Sources`, which the addon fills. README.md documents each
endpoint; `Api.ROUTES` lists them.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import tempfile
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import exceptions

from ..engine import ENGINE_VERSION, Engine
from ..lists import subscriptions as subs
from ..lists.syntax import BUILTIN_PATH, display_name
from ..proxy.explain import explain, request_to_explain
from ..proxy.internals import problems as internal_problems
from ..proxy.selfcheck import versions
from ..reports.bisection import NoEngine, NothingToApply, NotRunning

MAX_LOG = 500
MAX_FILTERS_CHARS = 1024 * 1024
POLICIES = ("connect", "image", "cookie")
VALUES = ("accept", "reject")
# A site as the allowlist takes it: a host name or a shell wildcard on one.
_SITE = re.compile(r"^[a-z0-9*?_.\-\[\]]{1,253}$")
_HOST = re.compile(r"^[a-z0-9_.\-]{1,253}$")


class ApiError(Exception):
    """A request the API cannot do: a 4xx status and a message for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Sources:
    """What the API reads and changes; the addon fills it (callables read the state as it is now)."""

    filtering: object  # filters.proxy.filtering.Filtering: engine, settings, policies, recent decisions
    engines: object  # filters.proxy.engines.Engines: plan, refresher, watcher, load and rebuild
    store: Callable[[], object | None]  # the StateStore in use (filters.state.store), None while there is none
    configured_allow: Callable[[], list[str]]  # dejunk_allow, read-only here
    sites_changed: Callable[[], None]  # after the store's allowlist or overrides changed: in force now
    list_arguments: Callable[[], tuple]  # Engines.load's arguments as the options and the store say now
    myfilters: Callable[[], str | None]  # the user's filters file, None when off
    bisection: object  # filters.reports.bisection.Bisection: the live bisection the commands share


def iso(timestamp: float | None) -> str | None:
    """A POSIX time as ISO 8601 in UTC, or None."""
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")


def exception_rule(entry: dict) -> str | None:
    """The rule that lets a blocked or redirected request through on its site (`@@||host^$domain=site`)."""
    if entry.get("action") not in ("blocked", "redirected"):
        return None
    try:
        host = (urllib.parse.urlsplit(entry.get("url") or "").hostname or "").rstrip(".")
    except ValueError:
        return None
    if not _HOST.match(host):
        return None  # not a host name a rule can hold (the URL is the page's word, not ours)
    site = (entry.get("site") or "").lower().rstrip(".")
    if site and site != host and _HOST.match(site):
        return f"@@||{host}^$domain={site}"
    return f"@@||{host}^"


def _text(data: dict, name: str, limit: int = 2048) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"give {name!r} as a non-empty string")
    if len(value) > limit:
        raise ApiError(400, f"{name!r} is longer than {limit} characters")
    return value.strip()


def _site(data: dict) -> str:
    site = _text(data, "site", 253).lower().rstrip(".")
    if not _SITE.match(site):
        raise ApiError(400, "'site' must be a host name or a wildcard such as *.example.com")
    return site


def _int(query: dict, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError:
        raise ApiError(400, f"{name!r} must be a whole number") from None
    return min(max(value, low), high)


def check_filters(text: str, name: str) -> tuple[list[dict], int]:
    """The errors by line of filter list text, and its rules in force, as the proxy's engine reads it (slow: a thread)."""
    engine = Engine.from_text(text, name=name)
    errors = sorted(({"line": bad.line, "message": f"{bad.reason}: {bad.text[:200]}"}
                     for bad in engine.bad_lines), key=lambda e: e["line"])
    rules = sum(summary.rules + summary.cosmetic for summary in engine.lists)
    return errors, rules


def write_text_atomically(path: str, text: str) -> None:
    """Replace a file's text at once (a reader sees the old text or the new), keeping its permissions."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = 0o600
    handle, temporary = tempfile.mkstemp(prefix=".my-filters-", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class Api:
    """The endpoints; `endpoint(method, path)` finds one."""

    ROUTES = {
        ("GET", "/api/stats"): "stats",
        ("GET", "/api/log"): "log",
        ("GET", "/api/sites"): "sites",
        ("POST", "/api/sites/allow"): "allow",
        ("POST", "/api/sites/unallow"): "unallow",
        ("POST", "/api/sites/override"): "override",
        ("GET", "/api/lists"): "lists",
        ("POST", "/api/lists/update"): "update_lists",
        ("POST", "/api/lists/add"): "add_list",
        ("POST", "/api/lists/remove"): "remove_list",
        ("GET", "/api/myfilters"): "myfilters",
        ("PUT", "/api/myfilters"): "save_myfilters",
        ("GET", "/api/explain"): "explain",
        ("GET", "/api/status"): "status",
        ("GET", "/api/bisect"): "bisect",
        ("POST", "/api/bisect/start"): "bisect_start",
        ("POST", "/api/bisect/good"): "bisect_good",
        ("POST", "/api/bisect/bad"): "bisect_bad",
        ("POST", "/api/bisect/stop"): "bisect_stop",
        ("POST", "/api/bisect/apply"): "bisect_apply",
    }

    def __init__(self, sources: Sources):
        self.sources = sources

    def endpoint(self, method: str, path: str):
        name = self.ROUTES.get((method, path))
        if name is None:
            if any(route_path == path for _, route_path in self.ROUTES):
                raise ApiError(405, f"{method} is not allowed on {path}")
            raise ApiError(404, f"no such endpoint: {path}")
        return getattr(self, name)

    def _store(self):
        store = self.sources.store()
        if store is None:
            raise ApiError(503, "the state store is not open")
        return store

    def _change(self, name: str, *arguments):
        """A config change in the store (`name` its method); a value it refuses is the request's error."""
        try:
            return getattr(self._store(), name)(*arguments)
        except ValueError as e:
            raise ApiError(400, str(e)) from None

    # --- statistics and the log ------------------------------------------------------------------

    async def stats(self, query: dict, data=None) -> dict:
        span = query.get("range", "hour")
        if span not in ("hour", "days"):
            raise ApiError(400, "'range' is hour or days")
        store = self._store()

        def read() -> dict:
            totals = store.totals()
            return {
                "requests": totals["requests"], "blocked": totals["blocked"], "bytes_saved": totals["bytes_saved"],
                "since": totals["since"], "history": store.history(span),
                "top_blocked_hosts": store.top_blocked_hosts(10), "top_rules": store.top_rules(10),
                "upstream_errors": store.upstream_errors(),
            }

        return await asyncio.to_thread(read)

    async def log(self, query: dict, data=None) -> list:
        recent = getattr(self.sources.filtering, "recent", None)
        if recent is None:
            raise ApiError(503, "no decisions are kept")
        limit = _int(query, "limit", 100, 1, MAX_LOG)
        since = _int(query, "since", 0, 0, 2 ** 62)
        return [{**entry, "exception": exception_rule(entry)} for entry in recent.latest(limit, since_id=since)]

    # --- sites ---------------------------------------------------------------------------------

    async def sites(self, query: dict | None = None, data=None) -> dict:
        store = self._store()
        return {"allowed": store.allowed(), "configured": list(self.sources.configured_allow()),
                "overrides": store.overrides()}

    async def allow(self, query: dict, data: dict) -> dict:
        changed = self._change("allow", _site(data))
        self.sources.sites_changed()
        return {"changed": changed, **await self.sites()}

    async def unallow(self, query: dict, data: dict) -> dict:
        site = _site(data)
        changed = self._change("unallow", site)
        self.sources.sites_changed()
        answer = {"changed": changed, **await self.sites()}
        if not changed and site in [p.strip().lower() for p in answer["configured"]]:
            answer["note"] = f"{site} is allowed by the dejunk_allow option; change it there"
        return answer

    async def override(self, query: dict, data: dict) -> dict:
        site = _site(data)
        policy, value = data.get("policy"), data.get("value")
        if policy not in POLICIES:
            raise ApiError(400, f"'policy' is one of {', '.join(POLICIES)}")
        if value is not None and value not in VALUES:
            raise ApiError(400, "'value' is accept, reject or null (the configured policy)")
        self._change("set_override", site, policy, value)
        self.sources.sites_changed()
        return await self.sites()

    # --- lists ---------------------------------------------------------------------------------

    async def lists(self, query: dict | None = None, data=None) -> dict:
        engines = self.sources.engines
        store = self.sources.store()
        added = set(store.subscriptions()) if store is not None else set()
        myfilters = self.sources.myfilters()
        refresher = engines.refresher
        return await asyncio.to_thread(self._list_rows, engines.engine, engines.plan, refresher, added, myfilters)

    @staticmethod
    def _list_rows(engine, plan, refresher, added: set[str], myfilters: str | None) -> dict:
        cache_dir = refresher.cache_dir if refresher is not None else None
        urls = plan.subscriptions if plan is not None else ()
        statuses = {}
        by_path = {}
        if cache_dir is not None and urls:
            statuses = {status.url: status for status in subs.status(cache_dir, urls).lists}
            by_path = {subs.cache_path(url, cache_dir): url for url in urls}
        failing = dict(refresher.failing) if refresher is not None else {}
        bad_by_list: dict[str, Counter] = {}
        for bad in getattr(engine, "bad_lines", ()):
            bad_by_list.setdefault(bad.list, Counter())[bad.reason] += 1
        rows, shown = [], set()
        for summary in getattr(engine, "lists", ()):
            url = by_path.get(summary.path)
            status = statuses.get(url) if url else None
            if url:
                source = "subscription"
                shown.add(url)
            elif summary.path == BUILTIN_PATH:
                source = "builtin"
            elif myfilters and os.path.abspath(summary.path) == os.path.abspath(myfilters):
                source = "my filters"
            else:
                source = "file"
            rows.append({
                "name": summary.name, "title": summary.title, "source": source, "url": url or summary.path,
                "version": summary.version or (status.version if status else None),
                "rules": summary.rules + summary.cosmetic, "network": summary.rules - summary.host_rules,
                "cosmetic": summary.cosmetic, "hosts": summary.host_rules,
                "skipped": dict(bad_by_list.get(summary.name, {})), "skipped_lines": summary.skipped,
                "last_update": iso(status.last_update) if status else None,
                "next_due": iso(status.next_due) if status else None,
                "last_error": (status.last_error if status else None) or failing.get(url or ""),
                "removable": bool(url) and url in added,
            })
        for url in urls:  # subscribed, but not (yet) in the engine: no copy downloaded so far
            if url in shown:
                continue
            status = statuses.get(url)
            rows.append({
                "name": display_name(subs.cache_path(url, cache_dir)) if cache_dir else url, "title": None,
                "source": "subscription", "url": url, "version": status.version if status else None,
                "rules": 0, "network": 0, "cosmetic": 0, "hosts": 0, "skipped": {}, "skipped_lines": 0,
                "last_update": iso(status.last_update) if status else None,
                "next_due": iso(status.next_due) if status else None,
                "last_error": (status.last_error if status else None) or failing.get(url) or "not downloaded yet",
                "removable": url in added,
            })
        return {"lists": rows, "updating": bool(refresher is not None and refresher.busy)}

    async def update_lists(self, query: dict, data: dict) -> dict:
        refresher = self.sources.engines.refresher
        if refresher is None or not refresher.urls:
            return {"started": False, "reason": "no list subscriptions to update"}
        refresher.kick(force=True)
        return {"started": True}

    @staticmethod
    def _list_url(data: dict) -> str:
        url = _text(data, "url")
        if not subs.is_subscription_url(url):
            raise ApiError(400, "'url' must be an http:// or https:// URL of a filter list")
        try:
            return subs.normalize_url(url)
        except ValueError as e:
            raise ApiError(400, f"'url' cannot be used: {e}") from None

    async def add_list(self, query: dict, data: dict) -> dict:
        url = self._list_url(data)
        store = self._store()
        added = self._change("add_subscription", url)
        if added:
            try:
                await self._reload_lists()
            except Exception:
                store.remove_subscription(url)  # the lists in force stay as they were
                raise
        return {"added": added}

    async def remove_list(self, query: dict, data: dict) -> dict:
        url = self._list_url(data)
        store = self._store()
        if url not in store.subscriptions():
            raise ApiError(400, "that list was not added here (it comes from dejunk_lists or the config file)")
        removed = self._change("remove_subscription", url)
        if removed:
            await self._reload_lists()
        return {"removed": removed}

    async def _reload_lists(self) -> None:
        arguments = self.sources.list_arguments()  # read here, on the event loop, where the options live
        try:
            await asyncio.to_thread(self.sources.engines.load, *arguments)
        except exceptions.OptionsError as e:
            raise ApiError(400, f"the lists cannot be loaded: {e}") from None

    # --- my filters ----------------------------------------------------------------------------

    def _myfilters_path(self) -> str:
        path = self.sources.myfilters()
        if not path:
            raise ApiError(409, "my filters are off (dejunk_myfilters is empty)")
        return path

    async def myfilters(self, query: dict, data=None) -> dict:
        path = self._myfilters_path()

        def read() -> str:
            try:
                with open(path, "rb") as f:
                    return f.read(MAX_FILTERS_CHARS * 4).decode("utf-8", errors="replace")
            except FileNotFoundError:
                return ""

        try:
            text = await asyncio.to_thread(read)
        except OSError as e:
            raise ApiError(409, f"cannot read {path}: {e.strerror or e}") from None
        return {"text": text, "path": path}

    async def save_myfilters(self, query: dict, data: dict) -> dict:
        path = self._myfilters_path()
        text = data.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "give 'text' as a string")
        if len(text) > MAX_FILTERS_CHARS:
            raise ApiError(413, f"'text' is longer than {MAX_FILTERS_CHARS} characters")
        engines = self.sources.engines

        def save() -> tuple[list[dict], int]:
            errors, rules = check_filters(text, display_name(path))
            write_text_atomically(path, text)
            engines.myfilters_saved()  # the engine is rebuilt with them now, not at the watcher's next look
            return errors, rules

        try:
            errors, rules = await asyncio.to_thread(save)
        except OSError as e:
            raise ApiError(409, f"cannot write {path}: {e.strerror or e}") from None
        return {"errors": errors, "rules": rules}

    # --- explain and status --------------------------------------------------------------------

    async def explain(self, query: dict, data=None) -> dict:
        url = query.get("url", "").strip()
        if not url:
            raise ApiError(400, "give 'url'")
        if len(url) > 8192 or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(400, "'url' must be an http:// or https:// URL")
        source = query.get("source", "").strip()
        try:
            request, request_type = request_to_explain(url, source, query.get("type", "").strip())
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        explanation = explain(self.sources.filtering, request)
        return {"url": url, "type": request_type, "source": source or None, **explanation.to_dict()}

    async def status(self, query: dict, data=None) -> dict:
        filtering, engines = self.sources.filtering, self.sources.engines
        problems = []
        if not filtering.settings.enabled:
            problems.append("dejunk is disabled (dejunk_enabled is false): every flow passes untouched")
        if filtering.failed is not None:
            problems.append(f"not filtering, every request is refused with a 503 page: {filtering.failed}")
        refresher = engines.refresher
        for url, error in (refresher.failing.items() if refresher is not None else ()):
            problems.append(f"cannot fetch {url} (retrying): {error}")
        changed = await asyncio.to_thread(internal_problems)  # about a millisecond: not on the event loop
        problems.extend(f"a mitmproxy internal changed ({name}: {problem}): {loss}" for name, problem, loss in changed)
        store = self.sources.store()
        if store is None:
            problems.append("the state store is not open: site changes and statistics are not kept")
        elif getattr(store, "problem", None):
            problems.append(store.problem)  # a damaged database moved aside, or none kept on disk
        bisecting = self.sources.bisection.state()
        if bisecting["active"]:  # rules are off on that site until it ends: say so on every page
            problems.append(f"bisecting {bisecting['site']}: some rules are off there until the bisection ends "
                            "(Bisect page, or dejunk.bisect.stop)")
        engine = filtering.engine
        summaries = getattr(engine, "lists", ())
        return {
            "version": f"dejunk (engine {ENGINE_VERSION}) on {versions()}",
            "filtering": filtering.settings.enabled and filtering.failed is None and engine is not None,
            "problems": problems,
            "lists": len(summaries),
            "rules": sum(summary.rules + summary.cosmetic for summary in summaries),
        }

    # --- the live bisection (the same as dejunk.bisect.start/good/bad/stop) -------------------------

    async def bisect(self, query: dict | None = None, data=None) -> dict:
        return self.sources.bisection.state()

    async def bisect_start(self, query: dict, data: dict) -> dict:
        site = _text(data, "site", 253)
        try:
            self.sources.bisection.start(site)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        except NoEngine as e:
            raise ApiError(503, str(e)) from None
        return await self.bisect()

    async def bisect_good(self, query: dict, data=None) -> dict:
        return await self._bisect_answer(False)

    async def bisect_bad(self, query: dict, data=None) -> dict:
        return await self._bisect_answer(True)

    async def _bisect_answer(self, broken: bool) -> dict:
        try:
            self.sources.bisection.answer(broken)
        except NotRunning as e:
            raise ApiError(409, str(e)) from None
        return await self.bisect()

    async def bisect_stop(self, query: dict, data=None) -> dict:
        try:
            self.sources.bisection.stop()
        except NotRunning as e:
            raise ApiError(409, str(e)) from None
        return await self.bisect()

    async def bisect_apply(self, query: dict, data=None) -> dict:
        """The last bisection's exceptions added to my filters, and the engine built with them."""
        path = self._myfilters_path()
        bisection, engines = self.sources.bisection, self.sources.engines
        try:
            bisection.exceptions()  # refused here, before a thread, when there is nothing to add
        except NothingToApply as e:
            raise ApiError(409, str(e)) from None

        def apply() -> list[str]:
            added = bisection.apply(path)
            if added:
                engines.myfilters_saved()  # in force now, not at the watcher's next look
            return added

        try:
            added = await asyncio.to_thread(apply)
        except NothingToApply as e:  # another bisection started meanwhile
            raise ApiError(409, str(e)) from None
        except OSError as e:
            raise ApiError(409, f"not added: {e}") from None
        return {"added": added, "path": path, **await self.bisect()}
