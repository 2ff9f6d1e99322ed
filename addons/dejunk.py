"""dejunk: an ad-removing proxy as a mitmproxy addon.

    mitmdump -s addons/dejunk.py

Glue only: turns flows into requests for the filters in `filters/` and their decisions into
responses, events and flow marks. The hooks mirror the proxy's stages: `request` (policy and
list decision, before any upstream connection), `responseheaders` (image and cookie policy,
stream or buffer), `response` (body work), `error` (a failed upstream).
"""

from __future__ import annotations

import asyncio
import collections.abc
import difflib
import logging
import os
import sys
import threading
import time

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)
# mitmproxy's hot reload re-runs this file but would keep the old `filters` modules: drop them
# when an earlier run of this file imported them (others importing `filters` keep theirs).
if getattr(sys.modules.get("filters"), "_loaded_by_dejunk_addon", False):
    for _name in [n for n in sys.modules if n == "filters" or n.startswith("filters.")]:
        del sys.modules[_name]

from mitmproxy import command, ctx, exceptions, flow, http  # noqa: E402
from mitmproxy.utils import human  # noqa: E402

import filters  # noqa: E402

from filters.proxy import selfcheck  # noqa: E402
from filters.lists import subscriptions  # noqa: E402
from filters.engine import Engine  # noqa: E402
from filters.reports.events import EventLog, FailureLog, Stats  # noqa: E402
from filters.lists.listset import BackgroundRefresher, ListPlan, plan_lists  # noqa: E402
from filters.proxy.internals import (  # noqa: E402
    install_body_size_check,
    install_error_pages,
    offer_error_page,
    problems as internal_problems,
    proxy_starting,
    quiet_streaming_notices,
    skip_header_size_check,
    take_deferred,
)
from filters.proxy.options import BY_NAME as OPTION_SPECS, OPTIONS, check_value, describe_error  # noqa: E402
from filters.proxy.pool import RewritePool  # noqa: E402
from filters.request import RESOURCE_TYPES, Request, infer_type, source_from_headers, type_by_name  # noqa: E402
from filters.proxy.policy import ConfigError, Policies, host_matches, load_policies  # noqa: E402
from filters.proxy.flows import (  # noqa: E402
    UpstreamWatch,
    classify_failure,
    header_values,
    open_listeners,
    ProxySettings,
    request_from_flow,
    settle_heap,
)
from filters.network.resources import get_resource  # noqa: E402
from filters.html.rewrite import skip_reason  # noqa: E402
from filters.proxy.pages import (  # noqa: E402
    TRANSPARENT_GIF,
    Answer,
    blocked_answer,
    dejunk_header,
    error_answer,
    image_replacement_headers,
    not_filtering_answer,
    policy_page,
)

filters._loaded_by_dejunk_addon = True
logger = logging.getLogger("dejunk")

MARK_BLOCKED = ":no_entry_sign:"
MARK_POLICY = ":shield:"
MARK_UPSTREAM = ":warning:"
MARK_FAILED = ":warning:"  # dejunk's own failure on a flow; its comment says "dejunk failed on this flow"
MARK_MODIFIED = ":pencil2:"
MARK_REWRITTEN = ":scissors:"
BUFFERED_TYPES = ("text/html", "application/xhtml+xml")
_RESPONSE_HEADERS = frozenset({b"content-type", b"content-length", b"set-cookie"})
# Actions after which the response is dejunk's own answer, made in the request hook.
ANSWERED_ACTIONS = ("blocked", "redirected", "policy_connect", "not_filtering")


def to_response(answer: Answer) -> http.Response:
    return http.Response.make(answer.status, answer.body, answer.headers)


def counting_stream(f: http.HTTPFlow):
    """A stream function that passes chunks through and counts them in `dejunk_streamed_bytes`."""

    def count(chunk: bytes) -> bytes:
        # A streamed response keeps no body to measure afterwards; reports read this count.
        f.metadata["dejunk_streamed_bytes"] = f.metadata.get("dejunk_streamed_bytes", 0) + len(chunk)
        return chunk

    return count


def keep_recorded_size(f: http.HTTPFlow) -> None:
    """Before dejunk's answer replaces a recorded response (replay), keep its size for reports."""
    if f.response is not None and f.response.raw_content is not None:
        f.metadata.setdefault("dejunk", {})["recorded_bytes"] = len(f.response.raw_content)


def flow_request(f: http.HTTPFlow):
    """The request model of a flow, made once in the request hook and kept on the flow object."""
    request = getattr(f, "_dejunk_request", None)
    if request is None:
        request = request_from_flow(f)
        f._dejunk_request = request  # not part of the flow's saved state; recomputed when absent
    return request


class Dejunk:
    """Blocks ad and tracker requests, applies host policies, explains upstream failures."""

    def __init__(self):
        self.engine: Engine | None = None
        self.policies = Policies()
        self.events = EventLog(None)
        self.stats = Stats()
        self.failures = FailureLog()
        self.upstream = UpstreamWatch(lambda: ctx.master)
        self.allow: list[str] = []
        self.settings = ProxySettings()
        self.plan: ListPlan | None = None
        self.refresher: BackgroundRefresher | None = None
        self._build_lock = threading.Lock()
        self._generation = 0
        self.compiled_dir = os.path.join(subscriptions.default_cache_dir(), "compiled")
        self._pool: RewritePool | None = None
        self._running = False
        # Why dejunk cannot filter (then it refuses every request rather than pass it unfiltered).
        self.failed: str | None = None
        # A configuration is in force: a later bad option is refused and this one kept.
        self._configured = False
        self._option_errors: list[str] = []  # bad option values found when the script was loaded
        self.self_check: str = "not run"
        self._keep_bodies = False  # flows are kept for inspection (mitmweb, console, -w)

    # --- options -------------------------------------------------------------------------------

    def load(self, loader):
        for spec in OPTIONS:
            loader.add_option(spec.name, spec.typespec, spec.default, spec.help, choices=spec.choices)
        self._option_errors = self._take_early_options(loader.master.options)

    @staticmethod
    def _take_early_options(options) -> list[str]:
        """Set dejunk's options given before the script declared them; one error line per bad value.

        mitmproxy would set these itself once the options exist, but a value that does not parse
        then is dropped with nothing said, and dejunk would run on its defaults.
        """
        errors = []
        for name, (value, from_strings) in take_deferred(options, "dejunk_").items():
            try:
                if from_strings:  # --set name=value, repeatable for list options
                    options.set(*([f"{name}={v}" for v in value] or [name]))
                else:  # config.yaml, already parsed
                    options.update(**{name: value})
            except (exceptions.OptionsError, TypeError, ValueError):  # mitmproxy's type check raises TypeError
                shown = value[0] if from_strings and len(value) == 1 and OPTION_SPECS[name].typespec in (int, bool, str) else value
                errors.append(describe_error(name, shown))
        for name in [n for n in options.deferred if n.startswith("dejunk")]:
            close = difflib.get_close_matches(name, OPTION_SPECS, n=1)
            errors.append(f"{name}: no such option" + (f" (did you mean {close[0]}?)" if close else ""))
        return errors  # logged by the first configure, which makes dejunk refuse to filter

    def configure(self, updated: set[str]):
        if not self._configured:
            # Nothing good is in force yet (first start, or after a failure): apply every option.
            updated = updated | OPTION_SPECS.keys()
        try:
            if self._option_errors:
                errors, self._option_errors = self._option_errors, []
                raise exceptions.OptionsError("\n".join(errors))
            self._apply(updated)
        except exceptions.OptionsError as e:
            if self._configured:
                raise  # mitmproxy puts the previous value back, and that configuration stays in force
            self._cannot_filter(str(e).splitlines())
            return
        if not self._configured:
            self._check_hooks()

    def _apply(self, updated: set[str]) -> None:
        opts = ctx.options
        for name in sorted(updated & OPTION_SPECS.keys()):
            problem = check_value(name, getattr(opts, name))
            if problem:
                raise exceptions.OptionsError(problem)
        # A body mitmproxy would stream (`stream_large_bodies`, if smaller) is not held either.
        hold_limit = opts.dejunk_max_rewrite_bytes
        try:
            stream_above = human.parse_size(opts.stream_large_bodies) if "stream_large_bodies" in opts else None
        except ValueError:
            stream_above = None  # mitmproxy reports its own option's error
        if stream_above is not None:
            hold_limit = min(hold_limit, stream_above)
        # Where flows are kept to be looked at, their bodies are kept as mitmproxy would keep them.
        self._keep_bodies = ctx.master.addons.get("view") is not None or any(
            name in opts and getattr(opts, name) for name in ("save_stream_file", "hardump")
        )
        # dejunk's responseheaders hook decides streaming for every response while it streams what
        # it need not read, so mitmproxy's own check on the headers is skipped then (see
        # filters.proxy.internals); a body_size_limit needs that check, so it keeps it.
        skip_header_size_check(
            opts.dejunk_enabled and not self._keep_bodies and not ("body_size_limit" in opts and opts.body_size_limit)
        )
        self.upstream.connect_timeout = opts.dejunk_connect_timeout
        self.upstream.response_timeout = opts.dejunk_response_timeout
        # Hooks read this snapshot: an option read through ctx.options costs microseconds each.
        self.settings = ProxySettings(
            enabled=opts.dejunk_enabled,
            cosmetic=opts.dejunk_cosmetic,
            max_rewrite_bytes=opts.dejunk_max_rewrite_bytes,
            hold_limit=hold_limit,
            rewrite_timeout=opts.dejunk_rewrite_timeout,
            connect_timeout=opts.dejunk_connect_timeout,
            response_timeout=opts.dejunk_response_timeout,
            error_pages=opts.dejunk_error_pages,
        )
        if "dejunk_allow" in updated:
            self.allow = [p.strip().lower() for p in opts.dejunk_allow]
        if "dejunk_config" in updated:
            self.policies = self._load_policies(opts.dejunk_config)
        if updated & {"dejunk_lists", "dejunk_config", "dejunk_cache"}:
            self._load_lists()
        if self._running:
            self._pool_for_engine()
        if "dejunk_events" in updated:
            self._open_events(opts.dejunk_events)
        if "dejunk_error_pages" in updated and opts.dejunk_error_pages:
            install_error_pages()

    def _check_hooks(self) -> None:
        """Run the self-check (see filters.proxy.selfcheck); dejunk filters only if it passes."""
        started = time.perf_counter()
        problems = selfcheck.run(type(self), self.settings)
        if problems:
            self.self_check = f"failed on {selfcheck.versions()}: {'; '.join(problems)}"
            self._cannot_filter([f"self-check failed on {selfcheck.versions()}: {p}" for p in problems])
            return
        self.self_check = f"passed in {(time.perf_counter() - started) * 1000:.0f} ms on {selfcheck.versions()}"
        was_failed, self.failed, self._configured = self.failed, None, True
        if was_failed is not None:
            logger.info("dejunk: the problem is fixed; filtering again")

    def _cannot_filter(self, lines: list[str]) -> None:
        """dejunk cannot filter: say why, and refuse traffic until it can (startup stops on the error)."""
        self.failed = "; ".join(lines)
        self._configured = False
        for line in lines:
            logger.error(f"dejunk: {line}")
        if not proxy_starting(ctx.master):
            logger.error("dejunk: not filtering: every request now gets a 503 page saying why, until this is fixed")
        else:
            # mitmproxy stops a start on an error logged while it starts, but only once its
            # listeners are open (scripts load meanwhile), saying it is listening first. So the
            # start ends here, as mitmproxy's own error check ends it. The console shows no log
            # until it runs: there the lines go to stderr too.
            if ctx.master.addons.get("termlog") is None:
                print("\n".join(f"dejunk: {line}" for line in lines), file=sys.stderr)
            sys.exit(1)

    def running(self):
        quiet_streaming_notices()
        install_body_size_check()
        for name, problem, loss in internal_problems():
            logger.warning(f"dejunk: on {selfcheck.versions()}, a mitmproxy internal changed ({name}: {problem}): {loss}")
        self._running = True
        # Start the page workers now, before traffic: starting them takes a few hundred ms.
        self._pool_for_engine()
        if "stream_large_bodies" in ctx.options and not ctx.options.stream_large_bodies:
            # Pages larger than dejunk rewrites (and bodies without a length that grow past it)
            # switch to streaming instead of filling memory.
            ctx.options.update(stream_large_bodies=str(ctx.options.dejunk_max_rewrite_bytes))
        strategy = getattr(ctx.options, "connection_strategy", None) if "connection_strategy" in ctx.options else None
        if ctx.options.dejunk_error_pages and strategy not in (None, "lazy"):
            # Eager connects fail during CONNECT, where browsers show their own error; lazy
            # connects fail inside the tunnel, where dejunk's page can be shown.
            ctx.options.update(connection_strategy="lazy")
        for mode in open_listeners(ctx.options):
            logger.warning(
                f"dejunk: the proxy ({mode}) listens on every network interface: anyone who can reach this "
                "machine can use it. To serve this machine only, start it with --listen-host 127.0.0.1"
            )

    def _load_policies(self, path: str | None) -> Policies:
        if not path:
            return Policies()
        try:
            return load_policies(path)
        except ConfigError as e:
            raise exceptions.OptionsError(f"dejunk_config: {e}") from None

    def _subscription_config(self) -> subscriptions.SubscriptionConfig:
        path = ctx.options.dejunk_config
        if not path:
            return subscriptions.SubscriptionConfig((), None)
        try:
            return subscriptions.read_subscription_config(path)
        except (OSError, ValueError) as e:
            raise exceptions.OptionsError(f"dejunk_config: {e}") from None

    def _load_lists(self) -> None:
        """Plan the lists, build the engine, and (re)start the refresher for subscriptions."""
        specs = list(ctx.options.dejunk_lists)
        config = self._subscription_config()
        if not specs and not config.subscriptions:
            raise exceptions.OptionsError("dejunk_lists: no lists given (use 'builtin' for dejunk's own list)")
        cache_dir = ctx.options.dejunk_cache or config.cache_dir or subscriptions.default_cache_dir()
        plan = plan_lists(specs, config.subscriptions, cache_dir)
        for url in plan.missing:
            logger.warning(f"dejunk: {url}: no copy downloaded yet; fetching it in the background")
        if plan.fallback:
            logger.warning("dejunk: using the built-in list until the subscriptions arrive")
        self.compiled_dir = os.path.join(cache_dir, "compiled")
        with self._build_lock:
            self.engine = self._load_engine(plan.paths)
            self._generation += 1
            settle_heap()
        self.plan = plan
        if self.refresher is None or (self.refresher.urls, self.refresher.cache_dir) != (plan.subscriptions, cache_dir):
            if self.refresher is not None:
                self.refresher.stop()
            self.refresher = BackgroundRefresher(plan.subscriptions, cache_dir, self._lists_changed)
            self.refresher.start()

    def _lists_changed(self, results) -> None:
        # Runs in the refresher's thread: build the new engine there, then swap it in with one
        # assignment, so every request sees either the old engine or the new one.
        with self._build_lock:
            generation = self._generation
            plan = plan_lists(ctx.options.dejunk_lists, self._subscription_config().subscriptions, self.refresher.cache_dir)
            engine = self._load_engine(plan.paths)
            if generation == self._generation:
                if self._running:
                    engine = self._prepare_pool(engine)  # here, in this thread: not on the event loop
                self.engine, self.plan = engine, plan
                settle_heap()
                self.stats.add("list_updates")
                logger.info("dejunk: lists updated, new filters in use")

    def _load_engine(self, paths: collections.abc.Sequence[str]) -> Engine:
        started = time.perf_counter()
        try:
            # The compiled-engine cache is a pickle: keep its folder private to the user.
            os.makedirs(self.compiled_dir, mode=0o700, exist_ok=True)
        except OSError as e:
            logger.warning(f"dejunk: no compiled-engine cache ({e}); building from the lists each start")
        try:
            # With page worker processes the generic cosmetic index is theirs: the proxy leaves it on disk.
            engine = Engine.from_lists(
                list(paths), cache_dir=self.compiled_dir, generic_on_disk=filters.proxy.pool.default_workers() > 0,
            )
        except OSError as e:
            raise exceptions.OptionsError(f"dejunk_lists: cannot read {e.filename}: {e.strerror}") from None
        elapsed = time.perf_counter() - started
        for summary in engine.lists:
            logger.info(
                f"dejunk: {summary.name}: {summary.network} network, {summary.cosmetic} cosmetic, "
                f"{summary.hosts} host entries ({summary.title or 'untitled'})"
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

    def _open_events(self, path: str | None) -> None:
        self.events.close()
        try:
            self.events = EventLog(path)
        except OSError as e:
            self.events = EventLog(None)
            raise exceptions.OptionsError(f"dejunk_events: cannot open {path}: {e.strerror}") from None

    # --- guarding -------------------------------------------------------------------------------

    def _contain(self, where: str, f: flow.Flow | None, error: Exception) -> None:
        """Count, log and mark a failure in dejunk's own code; the flow goes on unfiltered.

        The flow passes through as it stands, as mitmproxy passes a flow whose hook raised: one
        bug should not break every page, and the failure is not silent (log, mark, comment, stats,
        `dejunk.status`). A failure that hits every flow is caught before the proxy starts by the
        self-check. The per-flow hooks call this from a plain `except` (free until something fails).
        """
        self.stats.add("addon_error")
        failure, count = self.failures.add(where, error)
        if failure.count == 1:
            logger.error(
                f"dejunk: error in {where} ({failure.error}): that flow passed through unfiltered; further "
                f"failures like it are counted and reported at most every {self.failures.interval:.0f} s",
                exc_info=(type(error), error, error.__traceback__),
            )
        elif count:
            logger.error(f"dejunk: error in {where} again: {_times(count)} since the last report, {failure.count} "
                         f"in all ({failure.error}); those flows passed through unfiltered")
        url = f.request.pretty_url if isinstance(f, http.HTTPFlow) else None
        self._record("addon_error", where=where, message=failure.error, url=url)
        if isinstance(f, http.HTTPFlow):
            self._note(f, MARK_FAILED, f"dejunk failed on this flow: error in {where}: {failure.error} "
                                       "(passed through unfiltered)", failed=where, error=failure.error)

    def _record(self, event: str, **fields) -> None:
        try:
            self.events.write(event, **fields)
        except OSError as e:
            self.stats.add("event_log_error")
            failure, count = self.failures.add("event log", e)
            if count:
                logger.error(f"dejunk: cannot write the event log: {e} ({_times(failure.count)} in all)")

    @staticmethod
    def _note(f: http.HTTPFlow, mark: str, comment: str, **data) -> None:
        f.marked = mark
        f.comment = comment if not f.comment else f"{f.comment}\n{comment}"
        f.metadata.setdefault("dejunk", {}).update(data)

    def _allowed_site(self, host: str, source_host: str) -> str | None:
        if not self.allow:
            return None
        return host_matches(self.allow, host) or (host_matches(self.allow, source_host) if source_host else None)

    # --- hooks ----------------------------------------------------------------------------------

    def request(self, f: http.HTTPFlow):
        if not self.settings.enabled:
            return
        if self.failed is not None:
            self._refuse(f)
            return
        if self.engine is None:
            return
        if f.response is not None and f.live:
            return  # another addon already answered; a recorded flow (replay) is filtered anew
        try:
            self._on_request(f)
        except Exception as error:
            self._contain("request", f, error)

    def _refuse(self, f: http.HTTPFlow) -> None:
        """While dejunk cannot filter, answer with a page saying why instead of passing the flow on."""
        if not ctx.options.dejunk_enabled:
            return  # the user chose to go without dejunk meanwhile
        if f.response is not None and f.live:
            return
        self.stats.add("refused_not_filtering", f.request.pretty_host)
        self._note(f, MARK_FAILED, f"dejunk failed on this flow: not filtering ({self.failed}); refused",
                   action="not_filtering")
        keep_recorded_size(f)
        f.response = to_response(not_filtering_answer(f.request.pretty_url, self.failed))

    def _on_request(self, f: http.HTTPFlow) -> None:
        request = flow_request(f)
        self.stats.add("requests")
        step, found = self._decide(request)
        if step == "allowed_site":
            self.stats.add("allowed_site", request.host)
            f.metadata["dejunk"] = {"action": "allowed_site", "pattern": found}
            return

        if step == "policy_connect":
            verdict = found
            answer = Answer(
                403,
                policy_page(request.url, request.host, verdict.pattern),
                {"Content-Type": "text/html; charset=utf-8", "X-Dejunk": f"policy connect; pattern={verdict.pattern}"},
            )
            self._policy_event(f, "connect", request.host, verdict.pattern)
            keep_recorded_size(f)
            f.response = to_response(answer)
            return

        decision = found
        if decision.blocked:
            self._block(f, request, decision)
            return
        if decision.exception:
            self.stats.add("exception", request.host)
            f.metadata.setdefault("dejunk", {}).update(exception=decision.exception)
        if decision.removeparam_url:
            self.stats.add("removeparam", request.host)
            self._record("removeparam", url=request.url, host=request.host, new_url=decision.removeparam_url,
                         rules=list(decision.modifiers))
            self._note(f, f.marked or MARK_MODIFIED, f"parameters removed by {', '.join(decision.modifiers)}",
                       removeparam_url=decision.removeparam_url, original_url=request.url)
            f.request.url = decision.removeparam_url
        if decision.csp:
            # Added to the response in responseheaders; the page's own policies stay.
            f.metadata.setdefault("dejunk", {}).update(csp=decision.csp, csp_rules=list(decision.modifiers))

        cookie = self.policies.check("cookie", request.host)
        if not cookie.accepted and request.has_cookie:
            del f.request.headers["cookie"]
            self._policy_event(f, "cookie", request.host, cookie.pattern, mark=False)
        self.upstream.request(f)

    def _decide(self, request: Request):
        """The first step that decides a request: ("allowed_site", pattern), ("policy_connect",
        verdict) or ("engine", decision). The request hook and `dejunk.explain` both ask here."""
        allowed_by = self._allowed_site(request.host, request.source_host)
        if allowed_by:
            return "allowed_site", allowed_by
        verdict = self.policies.check("connect", request.host)
        if not verdict.accepted:
            return "policy_connect", verdict
        return "engine", self.engine.check_request(request)

    @staticmethod
    def _answer_for(request, decision):
        """The response for a blocked request: its redirect resource, or the answer for its type."""
        resource = get_resource(decision.redirect) if decision.redirect else None
        if resource is None:
            return blocked_answer(request.type, request.url, decision.filter, decision.rule_location), None
        return Answer(200, resource.body, {
            "Content-Type": resource.content_type,
            "Cache-Control": "no-store",
            "X-Dejunk": dejunk_header(f"redirected to {resource.name}", decision.filter),
        }), resource

    def _block(self, f: http.HTTPFlow, request, decision) -> None:
        answer, resource = self._answer_for(request, decision)
        location = decision.rule_location
        if resource is not None:
            action, words = "redirected", f"redirected to {resource.name} by {decision.filter} ({location})"
            self.stats.add("redirected", request.host)
        else:
            action, words = "blocked", f"blocked by {decision.filter} ({location})"
        self.stats.add("blocked", request.host)
        self._record(
            "blocked", url=request.url, host=request.host, type=request.type,
            rule=decision.filter, list=decision.list, line=decision.line,
            redirect=resource.name if resource else None, important=decision.important,
        )
        self._note(
            f, MARK_BLOCKED, words, action=action, rule=decision.filter, list=decision.list,
            line=decision.line, type=request.type, redirect=resource.name if resource else None,
        )
        keep_recorded_size(f)
        f.response = to_response(answer)

    def _policy_event(self, f: http.HTTPFlow, policy: str, host: str, pattern: str | None, mark: bool = True) -> None:
        self.stats.add(f"policy_{policy}", host)
        self._record("policy", policy=policy, host=host, pattern=pattern)
        words = f"{policy} policy rejects {host}" + (f" ({pattern})" if pattern else " (default)")
        if mark or not f.marked:
            self._note(f, MARK_POLICY, words, action=f"policy_{policy}", pattern=pattern)
        else:
            self._note(f, f.marked, words)

    def responseheaders(self, f: http.HTTPFlow):
        if not self.settings.enabled or f.response is None:
            return
        try:
            buffered = self._on_response_headers(f)
        except Exception as error:
            self._contain("responseheaders", f, error)
            buffered = False
        self.upstream.response_headers(f, buffered)

    def _on_response_headers(self, f: http.HTTPFlow) -> bool:
        """Apply image and cookie policies; returns whether the body is buffered."""
        data = f.metadata.get("dejunk", {})
        action = data.get("action")
        if action in ANSWERED_ACTIONS:
            return False  # dejunk's own answer: mitmproxy emulates this hook for it
        if action == "allowed_site":
            if not self._keep_bodies:
                f.response.stream = True
            return False
        host = flow_request(f).host
        response = f.response
        found = header_values(response.headers, _RESPONSE_HEADERS)
        content_type = found.get(b"content-type", "").lower()
        csp = data.get("csp")
        if csp:
            response.headers.add("Content-Security-Policy", csp)
            self.stats.add("csp", host)
            rules = data.get("csp_rules", [])
            self._record("csp", url=f.request.pretty_url, host=host, csp=csp, rules=rules)
            self._note(f, f.marked or MARK_MODIFIED, f"CSP added ({csp}) by {', '.join(rules)}")
        if b"set-cookie" in found:
            verdict = self.policies.check("cookie", host)
            if not verdict.accepted:
                del response.headers["set-cookie"]
                self._policy_event(f, "cookie", host, verdict.pattern, mark=False)
        if content_type.startswith("image/"):
            verdict = self.policies.check("image", host)
            if not verdict.accepted:
                self._replace_image(f, verdict.pattern)
                return False
        buffered = content_type.startswith(BUFFERED_TYPES) and self._may_rewrite(f)
        length = found.get(b"content-length", "")
        if buffered and length.isdigit() and int(length) > self.settings.hold_limit:
            buffered = False
        if not buffered and not self._keep_bodies:
            # Only pages dejunk may rewrite are held in memory; everything else flows through
            # (unless flows are kept to be looked at: then mitmproxy decides, as without dejunk).
            response.stream = counting_stream(f)
        return buffered

    def _may_rewrite(self, f: http.HTTPFlow) -> bool:
        """Whether this response is one dejunk may remove ad elements from (its type aside)."""
        return (
            self.settings.cosmetic != "off"
            and 200 <= f.response.status_code < 300
            and f.metadata.get("dejunk", {}).get("action") not in (*ANSWERED_ACTIONS, "allowed_site")
            and self.engine is not None
            and self.engine.cosmetic_store is not None
        )

    def _replace_image(self, f: http.HTTPFlow, pattern: str | None) -> None:
        # Decided on the headers alone: the upstream body is read and dropped as it arrives and the
        # client gets the GIF, so no image is ever held in memory.
        response = f.response
        for name in ("content-encoding", "transfer-encoding", "content-length", "etag", "last-modified"):
            response.headers.pop(name, None)
        response.status_code = 200
        response.headers.update(image_replacement_headers(pattern or "default"))
        sent = False

        def swallow(chunk: bytes) -> bytes:
            nonlocal sent
            if sent:
                return b""
            sent = True
            return TRANSPARENT_GIF

        response.stream = swallow
        self._policy_event(f, "image", f.request.pretty_host, pattern)

    def response(self, f: http.HTTPFlow):
        # Synchronous unless a page is to be rewritten: then it returns the coroutine that does it,
        # which mitmproxy awaits. Most responses never pay for a coroutine.
        self.upstream.flow_done(f)
        if not self.settings.enabled or f.response is None:
            return None
        try:
            self._reassert_block(f)
        except Exception as error:
            self._contain("response", f, error)
        try:
            page = self._page_to_rewrite(f)
        except Exception as error:
            self._contain("response", f, error)
            page = None
        if page is not None:
            return self._rewrite(f, *page)
        return None

    def _page_to_rewrite(self, f: http.HTTPFlow):
        """(body, rules) when this response is an HTML page with cosmetic rules to apply, else None."""
        response = f.response
        if response.stream or response.raw_content is None or not self._may_rewrite(f):
            return None
        if not response.headers.get("content-type", "").lower().startswith(BUFFERED_TYPES):
            return None
        if len(response.raw_content) > self.settings.max_rewrite_bytes:
            return None
        rules = self.engine.cosmetic(f.request.pretty_url)
        try:
            body = response.get_content(strict=True)
        except ValueError as e:  # a Content-Encoding that does not decode: leave the page as it came
            self._rewrite_failed(f, f"cannot decode the body: {e}")
            return None
        if not body or len(body) > self.settings.max_rewrite_bytes:
            return None
        if skip_reason(body, rules, response.headers.get("content-type")) is not None:
            return None  # decided without parsing, and without a trip to a worker
        return body, rules

    async def _rewrite(self, f: http.HTTPFlow, body: bytes, rules) -> None:
        url = f.request.pretty_url
        try:
            result = await self._rewrite_pool().rewrite(
                body, url=url, content_type=f.response.headers.get("content-type"), rules=rules,
                mode=self.settings.cosmetic, timeout=self.settings.rewrite_timeout,
            )
        except asyncio.TimeoutError:
            self._rewrite_failed(f, f"rewrite took longer than {self.settings.rewrite_timeout} s")
            return
        except Exception as e:  # the page goes out as it came; the cause is recorded
            self._rewrite_failed(f, f"{type(e).__name__}: {e}")
            return
        if not result.changed:
            return
        try:
            self._apply_rewrite(f, url, result)
        except Exception as error:
            self._contain("response", f, error)

    def _apply_rewrite(self, f: http.HTTPFlow, url: str, result) -> None:
        f.response.content = result.body  # re-encoded with the page's Content-Encoding
        count = result.removed + result.hidden
        self.stats.add("rewritten", f.request.pretty_host)
        self.stats.add("elements_removed" if result.removed else "elements_hidden", f.request.pretty_host, count)
        self._record(
            "rewritten", url=url, removed=result.removed, hidden=result.hidden, selectors=result.selectors,
            bytes_before=result.bytes_before, bytes_after=result.bytes_after, mode=result.mode,
            ms=round(result.elapsed_ms, 1),
        )
        self._note(f, MARK_REWRITTEN, result.summary(), action="rewritten", removed=result.removed,
                   hidden=result.hidden, selectors=result.selectors, bytes_before=result.bytes_before,
                   bytes_after=result.bytes_after)

    def _rewrite_failed(self, f: http.HTTPFlow, message: str) -> None:
        self.stats.add("rewrite_error", f.request.pretty_host)
        self._record("rewrite_error", url=f.request.pretty_url, message=message)
        failure, count = self.failures.add("rewrite", RuntimeError(message.split(":")[0]))
        if count:
            more = f" ({_times(failure.count)} in all)" if failure.count > 1 else ""
            logger.warning(f"dejunk: page delivered unchanged: {message} ({f.request.pretty_url}){more}")

    def _rewrite_pool(self) -> RewritePool:
        # One pool per engine: its workers hold that engine's generic cosmetic index. It is made
        # when the engine is (see _prepare_pool); here only if a page came first (tests, replay).
        if self._pool is None:
            self._pool_for_engine()
        return self._pool

    def _pool_for_engine(self) -> None:
        engine = self._prepare_pool(self.engine)
        if engine is not self.engine:
            self.engine = engine
            settle_heap()  # the engine as loaded, generic index and all, is garbage now

    def _prepare_pool(self, engine: Engine | None) -> Engine | None:
        """Have a rewrite pool for `engine` ready, replacing one made for an older engine; returns the engine to use."""
        if engine is None or engine.cosmetic_store is None or self.settings.cosmetic == "off":
            return engine
        generic = engine.cosmetic_store.generic
        if self._pool is not None and self._pool.generic is generic:
            return engine
        old, self._pool = self._pool, RewritePool(generic, index_dir=self.compiled_dir)
        if old is not None:
            old.close()
        if self._pool.generic is not generic:
            # The workers hold the generic index; the proxy keeps only its stored form. The index is
            # most of the engine's objects, and the proxy serves requests faster without them.
            engine = engine.with_cosmetic_store(engine.cosmetic_store.with_generic(self._pool.generic))
        return engine

    def _reassert_block(self, f: http.HTTPFlow) -> None:
        # Server replay runs after scripts and replaces a response set in `request`: put the block back.
        data = f.metadata.get("dejunk", {})
        if data.get("action") in ("blocked", "redirected") and "x-dejunk" not in f.response.headers:
            request = flow_request(f)
            decision = self.engine.check_request(request)
            if decision.blocked:
                keep_recorded_size(f)
                f.response = to_response(self._answer_for(request, decision)[0])

    def error(self, f: http.HTTPFlow):
        self.upstream.flow_done(f)
        if not self.settings.enabled or f.error is None:
            return
        try:
            self._on_error(f)
        except Exception as error:
            self._contain("error", f, error)

    def _on_error(self, f: http.HTTPFlow) -> None:
        message = f.error.msg
        if message == flow.Error.KILLED_MESSAGE or message.lower().startswith("client disconnected"):
            return  # the user or the client ended it: not an upstream failure
        kind, detail = self.upstream.known_failure(f) or (classify_failure(message), message)
        host, port = f.request.pretty_host, f.request.port
        connect_phase = kind in ("connect_timeout", "tls")
        timeout = self.settings.connect_timeout if connect_phase else self.settings.response_timeout
        self.stats.add("upstream_error", host)
        self.stats.add(f"upstream_error_{kind}", host)
        self._record("upstream_error", host=host, port=port, kind=kind, message=detail, url=f.request.pretty_url)
        self._note(f, MARK_UPSTREAM, f"upstream failed ({kind}): {detail}", action="upstream_error", kind=kind)
        if self.settings.error_pages:
            page = to_response(error_answer(kind, f.request.pretty_url, host, port, detail, timeout))
            offer_error_page(f, page)

    def http_connect_error(self, f: http.HTTPFlow):
        # Only with connection_strategy=eager: the CONNECT itself failed upstream.
        if not self.settings.enabled or f.response is None:
            return
        try:
            self._on_connect_error(f)
        except Exception as error:
            self._contain("http_connect_error", f, error)

    def _on_connect_error(self, f: http.HTTPFlow) -> None:
        message = f.response.get_text(strict=False) or ""
        kind, message = self.upstream.known_failure(f) or (classify_failure(message), message)
        host, port = f.request.host, f.request.port
        self.stats.add("upstream_error", host)
        self.stats.add(f"upstream_error_{kind}", host)
        self._record("upstream_error", host=host, port=port, kind=kind, message=message, url=f"{host}:{port}")
        self._note(f, MARK_UPSTREAM, f"upstream failed ({kind}): {message}", action="upstream_error", kind=kind)
        if self.settings.error_pages:
            f.response = to_response(error_answer(kind, f"https://{host}:{port}/", host, port, message))

    # mitmproxy connection hooks feed the upstream deadlines.

    def server_connect(self, data):
        self.upstream.server_connect(data.client, data.server)

    def server_connected(self, data):
        self.upstream.server_connected(data.client, data.server)

    def server_disconnected(self, data):
        self.upstream.server_closed(data.server)

    def server_connect_error(self, data):
        self.upstream.server_closed(data.server)

    def tls_established_server(self, data):
        self.upstream.tls_done(data.conn)

    def tls_failed_server(self, data):
        self.upstream.tls_failed(data.context.client, data.conn)

    def done(self):
        skip_header_size_check(False)  # dejunk unloaded: mitmproxy decides on response headers again
        if self.refresher is not None:
            self.refresher.stop()
        if self._pool is not None:
            self._pool.close()
        self.upstream.cancel_all()
        for failure, count in self.failures.flush():
            logger.error(f"dejunk: error in {failure.where}: {_times(count)} not yet reported, {failure.count} in all "
                         f"({failure.error})")
        logger.info(self.stats.summary())
        self.events.close()

    # --- commands -------------------------------------------------------------------------------

    @command.command("dejunk.stats")
    def stats_command(self) -> str:
        """Counts by kind and the top hosts of each kind."""
        return self.stats.summary()

    @command.command("dejunk.status")
    def status(self) -> str:
        """Whether dejunk is filtering, and why not; versions, self-check, lists, internals, failures."""
        if not self.settings.enabled:
            state = "disabled (dejunk_enabled is false): every flow passes untouched"
        elif self.failed is not None:
            state = f"NOT FILTERING, every request is refused with a 503 page: {self.failed}"
        else:
            state = "filtering"
        lines = [f"dejunk: {state}", f"  running on {selfcheck.versions()}", f"  self-check: {self.self_check}"]
        if self.engine is not None:
            for summary in getattr(self.engine, "lists", ()):
                lines.append(f"  list {summary.name}: {summary.network} network, {summary.cosmetic} cosmetic, "
                             f"{summary.hosts} host entries")
        changed = internal_problems()
        lines.append("  mitmproxy internals: " + ("as expected" if not changed else "; ".join(
            f"{name} changed ({problem}): {loss}" for name, problem, loss in changed)))
        causes = self.failures.describe()
        lines.append(f"  failures in dejunk's own code: {'none' if not causes else self.failures.total}")
        lines.extend(f"    {line}" for line in causes[:20])
        lines.append("  " + self.stats.summary().replace("\n", "\n  "))
        return "\n".join(lines)

    @command.command("dejunk.explain")
    def explain(self, target: str, source: str = "", request_type: str = "") -> str:
        """What the proxy would do with a URL or with flows (@focus, @marked, a filter like ~d example.com).

        For a URL: allowed site, connect policy, or the list decision (rule, list and line, and
        any exception), then the image and cookie policies; `source` is the page making the
        request and `request_type` its type (default: inferred as scripts/check.py infers it).
        """
        if target.startswith(("@", "~", "!")):
            return self._explain_flows(target)
        if request_type:
            named = type_by_name(request_type)
            if named is None:
                raise exceptions.CommandError(f"dejunk.explain: unknown type {request_type!r} (types: "
                                              f"{', '.join(RESOURCE_TYPES)})")
            request_type = named
        else:
            request_type = infer_type(target, source or None)  # as scripts/check.py infers it
        # The source as the proxy takes it from a Referer: a page is its own source.
        page = source_from_headers(target, request_type, referer=source or None)
        request = Request.from_strings(target, page, request_type)
        return f"{target} ({request_type}{', from ' + source if source else ''}): {self._outcome(request)}"

    def _outcome(self, request: Request) -> str:
        """In words, what the proxy does with `request` now."""
        if not self.settings.enabled:
            return "passes untouched: dejunk is disabled (dejunk_enabled is false)"
        if self.failed is not None:
            return f"refused with a 503 page: dejunk is not filtering ({self.failed})"
        if self.engine is None:
            return "passes untouched: no filters are loaded yet"
        try:
            step, found = self._decide(request)
        except Exception as e:  # what the request hook would meet too
            return f"passes through unfiltered: dejunk fails on it ({type(e).__name__}: {e})"
        if step == "allowed_site":
            return f"passes untouched: dejunk steps aside on this site (allowed by {found})"
        if step == "policy_connect":
            return f"refused with a 403 page: the connect policy rejects {request.host} ({found.pattern or 'its default'})"
        words = [found.describe()]
        if not found.blocked:
            for policy, what in (("image", "images from it are replaced by a transparent GIF"),
                                 ("cookie", "cookies to and from it are removed")):
                verdict = self.policies.check(policy, request.host)
                if not verdict.accepted:
                    words.append(f"{what} (the {policy} policy rejects {request.host}: {verdict.pattern or 'its default'})")
        return "; ".join(words)

    def _explain_flows(self, spec: str) -> str:
        try:
            flows = ctx.master.commands.call("view.flows.resolve", spec)
        except exceptions.CommandError as e:
            return f"dejunk: cannot resolve {spec!r}: {e} (flows can be named in mitmproxy and mitmweb)"
        lines = []
        for f in flows:
            if not isinstance(f, http.HTTPFlow):
                continue
            request = request_from_flow(f)
            lines.append(f"{request.url}")
            if f.comment:
                lines.append("  recorded: " + f.comment.replace("\n", "\n            "))
            source = f", from {request.source_url}" if request.source_url and request.type != "document" else ""
            lines.append(f"  now ({request.type}{source}): {self._outcome(request)}")
        return "\n".join(lines) if lines else f"dejunk: no flows match {spec!r}"

    @command.command("dejunk.reload")
    def reload(self) -> str:
        """Re-read the filter lists and the config file."""
        started = time.perf_counter()
        self.policies = self._load_policies(ctx.options.dejunk_config)
        self._load_lists()
        network = sum(s.network for s in self.engine.lists)
        cosmetic = sum(s.cosmetic for s in self.engine.lists)
        config = f", policies from {ctx.options.dejunk_config}" if ctx.options.dejunk_config else ""
        return _said(f"dejunk: reloaded {_count(len(self.engine.lists), 'list')} ({network} network and {cosmetic} "
                     f"cosmetic rules){config} in {time.perf_counter() - started:.2f} s")

    @command.command("dejunk.update")
    def update_lists(self) -> str:
        """Download every subscribed list now (in the background) and switch to it when ready."""
        if self.refresher is None or not self.refresher.urls:
            return _said("dejunk: no list subscriptions to update")
        self.refresher.kick(force=True)
        return _said(f"dejunk: downloading {_count(len(self.refresher.urls), 'subscribed list')} in the background; "
                     "the new filters take over when they are ready")

    @command.command("dejunk.allow")
    def allow_site(self, host: str) -> str:
        """Step aside on a site (host wildcard): its pages and their requests pass untouched."""
        host = host.strip().lower()
        if not host:
            raise exceptions.CommandError("dejunk.allow: give a host name or a wildcard such as *.example.com")
        covered = host_matches(tuple(self.allow), host) if not any(c in host for c in "*?[") else None
        if host in self.allow or covered:
            return _said(f"dejunk: {host} is already allowed (by {covered or host}); nothing changed")
        ctx.options.update(dejunk_allow=[*ctx.options.dejunk_allow, host])
        return _said(f"dejunk: stepping aside on {host}: its pages and the requests they make pass untouched "
                     f"(dejunk.unallow {host} undoes it)")

    @command.command("dejunk.unallow")
    def unallow_site(self, host: str) -> str:
        """Filter a site again."""
        host = host.strip().lower()
        kept = [p for p in ctx.options.dejunk_allow if p.strip().lower() != host]
        removed = len(kept) < len(ctx.options.dejunk_allow)
        if removed:
            ctx.options.update(dejunk_allow=kept)
        still = host_matches(tuple(p.strip().lower() for p in kept), host) if not any(c in host for c in "*?[") else None
        if still:
            return _said(f"dejunk: {host} is still allowed by {still}" + ("" if removed else "; nothing changed"))
        if not removed:
            return _said(f"dejunk: {host} was not allowed; nothing changed")
        return _said(f"dejunk: filtering {host} again")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _said(message: str) -> str:
    """A command's answer, also logged: mitmdump shows no command results."""
    logger.info(message)
    return message


addons = [Dejunk()]
