"""What dejunk does to a flow at each of mitmproxy's hooks: block, apply policies, rewrite, explain failures.

The addon holds one `Filtering` and hands it every flow. What it works with (engine, configured
policies and allowed sites, settings, event log, state store) are plain attributes the addon sets
when options change; the engine is swapped with one assignment, so a flow sees either the old
engine or the new one. The sites allowed and the policies in force are the configured ones with the
state store's over them (`apply_state`), looked at again when the store's version changes (checked
at most once a second). Each decided request goes into `recent` and its counts into the store. Each
hook contains its own failures (`_contain`): the flow goes on unfiltered, marked and counted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import flow, http
from mitmproxy.connection import ConnectionState
from mitmproxy.proxy.mode_specs import UpstreamMode

from ..engine import Engine
from ..html import compression, inject
from ..html.replace import replaceable
from ..html.rewrite import css_ascii, page_script, skip_reason
from ..network.resources import get_resource
from .events import EventLog, FailureLog, RecentLog, Stats
from .explain import explain
from ..request import Request, normalize_host
from .flows import header_values, path_of, popup_view, request_from_flow, request_views
from .upstream import UpstreamWatch, classify_failure
from .internals import drop_request_body, offer_error_page
from .pages import (
    TRANSPARENT_GIF,
    Answer,
    blocked_answer,
    dejunk_header,
    error_answer,
    image_replacement_headers,
    not_filtering_answer,
    policy_page,
)
from .policy import Policies, host_matches, with_overrides
from .pool import QueueTimeout, RewritePool, UndecodableBody, WorkerDied
from ..printable import printable, printable_logger

logger = printable_logger("dejunk")


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """The dejunk options the hooks read, as of the last configure (ctx.options reads are slow)."""

    enabled: bool = True
    cosmetic: str = "remove"
    max_rewrite_bytes: int = 5 * 1024 * 1024
    hold_limit: int = 5 * 1024 * 1024  # largest body held: max_rewrite_bytes or stream_large_bodies
    rewrite_timeout: int = 5
    connect_timeout: int = 20
    response_timeout: int = 60
    error_pages: bool = True
    eager_connect: bool = False  # connection_strategy=eager: a CONNECT opens its server connection at once


MARK_BLOCKED = ":no_entry_sign:"
MARK_POLICY = ":shield:"
MARK_UPSTREAM = ":warning:"
MARK_FAILED = ":warning:"  # dejunk's own failure on a flow; its comment says "dejunk failed on this flow"
MARK_MODIFIED = ":pencil2:"
MARK_REWRITTEN = ":scissors:"
BUFFERED_TYPES = ("text/html", "application/xhtml+xml")
# A response body of at most this many bytes, its length known from its headers, is held rather than
# streamed (see `_on_response_headers`).
SMALL_BODY_BYTES = 64 * 1024
_RESPONSE_HEADERS = frozenset({b"content-type", b"content-length", b"set-cookie"})
# Requests whose responses `##^responseheader()` rules apply to: pages and frames.
_DOCUMENT_TYPES = frozenset({"document", "subdocument"})
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


def _identity(content_encoding: str | None) -> bool:
    """Whether a body is sent as it is (no Content-Encoding, or `identity`)."""
    try:
        return compression.check(content_encoding) in compression.IDENTITY
    except compression.Unsupported:
        return False


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


# What mitmproxy (11 and 12) says when the client goes away mid-flow: HTTP/1 "Client disconnected.";
# HTTP/2 "stream reset by client (CANCEL)" for one stream; a closed HTTP/2 connection says "peer
# closed connection", as an upstream's does, so there the client connection's state tells.
_CLIENT_GONE_MESSAGES = ("client disconnected", "stream reset by client")


def client_left(f: http.HTTPFlow) -> bool:
    """Whether the flow's error comes from the client going away (not from the upstream)."""
    if f.error.msg.lower().startswith(_CLIENT_GONE_MESSAGES):
        return True
    state = getattr(f.client_conn, "state", None)
    return f.live and state is not None and not state & ConnectionState.CAN_READ


def bodiless(f: http.HTTPFlow) -> bool:
    """Whether the response has no body by its status (1xx, 204, 304): it must stay without one."""
    status = f.response.status_code
    return status < 200 or status in (204, 304)


def decided_key(f: http.HTTPFlow) -> tuple:
    """What a decision on a flow's request was made from: if another addon changes it, decide again."""
    data = f.request.data
    # The headers' fields tuple rides along: mitmproxy replaces it on any change, so while it is the
    # same object the Host header cannot have changed; the old tuple still holds the old Host header,
    # read only if the fields did change (reading it on every request is slow).
    return (data.host, data.port, data.path, data.authority), data.headers.fields


def _host_fields(fields: tuple) -> list[bytes]:
    """The Host header's values in a headers' fields tuple."""
    return [value for name, value in fields if name.lower() == b"host"]


def changed_since(f: http.HTTPFlow, decided: tuple) -> bool:
    """Whether the request changed where it goes since `decided` (a `decided_key`) was taken.

    Where it goes: host, port, path, authority (HTTP/2's Host) and the Host header.
    """
    data = f.request.data
    if (data.host, data.port, data.path, data.authority) != decided[0]:
        return True
    fields = data.headers.fields
    return fields is not decided[1] and _host_fields(fields) != _host_fields(decided[1])


def _has_body(f: http.HTTPFlow) -> bool:
    """Whether a request's headers say a body follows (or, over HTTP/2 and 3, may follow)."""
    headers = f.request.headers
    if "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0"):
        return True
    return (f.request.is_http2 or f.request.is_http3) and f.request.method not in ("GET", "HEAD", "OPTIONS")


def times(n: int) -> str:
    """'once', '2 times', ...: how often something happened, in words."""
    return "once" if n == 1 else f"{n} times"


class Filtering:
    """The per-flow work of the addon's hooks, with the state it works from."""

    PASSED_SECONDS = 60.0  # how long a passed request vouches for its connection (see `server_connect`)
    PASSED_LIMIT = 8192  # connections vouched for at once, at most
    # A connection vouched for less than this ago is not vouched for again (every request does it,
    # twice): its vouch lasts at most this much less than PASSED_SECONDS.
    PASSED_REFRESH = 1.0
    STATE_CHECK_SECONDS = 1.0  # how often the state store's version is looked at, at most

    def __init__(self, upstream: UpstreamWatch, rewrite_pool: Callable[[], RewritePool]):
        self.engine: Engine | None = None
        # What the options and config file say (`dejunk_allow`, `dejunk_config`); the addon sets these and
        # calls `apply_state`, which puts `allow` and `policies` (those in force) together with the store's.
        self.configured_allow: list[str] = []
        self.configured_policies = Policies()
        self.policies = Policies()
        self.allow: list[str] = []
        self.store = None  # the StateStore (filters.state), if open
        self.recent = RecentLog()
        self._state_version: int | None = None
        self._state_due = 0.0  # monotonic time of the next look at the store's version
        self.settings = ProxySettings()
        self.events = EventLog(None)
        self.stats = Stats()
        self.failures = FailureLog()
        self.upstream = upstream
        self.rewrite_pool = rewrite_pool  # the page workers for the engine in use
        upstream.on_slow_page = self._slow_page
        upstream.on_large_page = self._large_page
        upstream.on_held_chunk = self._small_body_chunk
        # Why dejunk cannot filter: then every request is refused rather than passed on unfiltered.
        self.failed: str | None = None
        self.keep_bodies = False  # flows are kept to be looked at (mitmweb, console, -w): bodies stay
        # (client id, host, port) -> when an HTTP request dejunk let through there was decided:
        # `server_connect` lets its connection open even if the host as a whole is refused.
        self._passed: OrderedDict[tuple, float] = OrderedDict()  # oldest first

    # --- failures, records, marks ----------------------------------------------------------------

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
            logger.error(f"dejunk: error in {where} again: {times(count)} since the last report, {failure.count} "
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
                logger.error(f"dejunk: cannot write the event log: {e} ({times(failure.count)} in all)")

    @staticmethod
    def _note(f: http.HTTPFlow, mark: str, comment: str, **data) -> None:
        f.marked = mark
        comment = printable(comment)  # it quotes URLs and list lines, and mitmproxy's UIs show it as it is
        f.comment = comment if not f.comment else f"{f.comment}\n{comment}"
        f.metadata.setdefault("dejunk", {}).update(data)

    def apply_state(self) -> None:
        """Put in force the configured sites and policies with the store's allowed sites and overrides over them."""
        self._state_due = time.monotonic() + self.STATE_CHECK_SECONDS
        allowed, overrides, store = [], {}, self.store
        if store is not None:
            try:
                version = store.version()
                allowed, overrides = store.allowed(), store.overrides()
            except Exception as e:  # a store that fails keeps what is in force; it is said, counted
                self._state_failed(e)
                return
            self._state_version = version
        configured = self.configured_allow
        self.allow = [*configured, *(site for site in allowed if site not in configured)]
        self.policies = with_overrides(self.configured_policies, overrides)

    def _check_state(self) -> None:
        """Apply the store's changes if its version moved (at most once a second: see `_allowed_site`)."""
        self._state_due = time.monotonic() + self.STATE_CHECK_SECONDS
        if self.store is None:
            return
        try:
            version = self.store.version()
        except Exception as e:
            self._state_failed(e)
            return
        if version != self._state_version:
            self.apply_state()

    def _state_failed(self, error: Exception) -> None:
        self.stats.add("state_error")
        failure, count = self.failures.add("state store", error)
        if count:
            logger.warning(f"dejunk: cannot read the state store ({failure.error}): the sites allowed and overrides "
                           f"in force stay as they were ({times(failure.count)} in all)")

    def _allowed_site(self, host: str, source_host: str) -> str | None:
        # Every decision asks here first: the place to notice the store's changes, cheaply.
        if time.monotonic() >= self._state_due:
            self._check_state()
        if not self.allow:
            return None
        return host_matches(self.allow, host) or (host_matches(self.allow, source_host) if source_host else None)

    # --- hooks --------------------------------------------------------------------------------

    def requestheaders(self, f: http.HTTPFlow):
        # Decided here, before mitmproxy reads the body: it streams a large one upstream as soon as
        # this hook returns. A request answered here has its body read and dropped.
        if not self.settings.enabled:
            return
        if self.failed is None and self.engine is None:
            return  # no filters yet: the request hook decides, if they are there by then
        self._decide_flow(f)
        if f.response is not None and getattr(f, "_dejunk_answered", False) and f.live:
            if not drop_request_body(f) and _has_body(f) and f.killable:
                # mitmproxy cannot answer before the body is in and would stream it: nothing goes out.
                f.kill()
        elif getattr(f, "_dejunk_passed", False):
            self._vouch(f)  # a streamed body's connection opens as soon as this hook returns

    def request(self, f: http.HTTPFlow):
        if not self.settings.enabled:
            return
        decided = getattr(f, "_dejunk_decided", None)
        if decided is None or changed_since(f, decided):
            # Not decided on the headers (no filters then; a flow that skipped the hook), or another
            # addon changed where the request goes since: decide now.
            self._decide_flow(f)
        if f.response is None and getattr(f, "_dejunk_passed", False):
            self._vouch(f)  # a held body's connection opens once this hook returns
            if f.metadata.get("dejunk", {}).get("action") != "allowed_site":
                self.upstream.request(f)

    def _decide_flow(self, f: http.HTTPFlow) -> None:
        f._dejunk_passed = f._dejunk_answered = False  # not part of the flow's saved state
        if self.failed is not None:
            self._refuse(f)
        elif self.engine is None:
            return
        elif f.response is not None and f.live:
            return  # another addon already answered; a recorded flow (replay) is filtered anew
        else:
            f._dejunk_request = None  # made anew: the request may have changed since the headers
            try:
                self._on_request(f)
            except Exception as error:
                # Failures are named by stage ("request"), whichever of its hooks met them.
                self._contain("request", f, error)
                # Contained: the flow goes on as without dejunk, its connection too.
                f._dejunk_passed = f.response is None
                f._dejunk_answered = not f._dejunk_passed  # an answer set before the failure stands
        f._dejunk_decided = decided_key(f)

    def _vouch(self, f: http.HTTPFlow) -> None:
        """A request dejunk let through may open its connection (see `server_connect`)."""
        request = f.request
        now = time.monotonic()
        key = (f.client_conn.id, request.host.lower(), request.port)
        passed = self._passed
        since = passed.get(key)
        if since is not None and now - since < self.PASSED_REFRESH:
            return  # vouched for a moment ago (its headers, or the request before on this connection)
        if since is not None:
            del passed[key]
        passed[key] = now
        # Oldest first: forget what expired, and the oldest beyond a bound, a few at a time.
        while passed:
            oldest, since = next(iter(passed.items()))
            if now - since < self.PASSED_SECONDS and len(passed) <= self.PASSED_LIMIT:
                break
            passed.popitem(last=False)

    def _refuse(self, f: http.HTTPFlow) -> None:
        """While dejunk cannot filter, answer with a page saying why instead of passing the flow on."""
        if f.response is not None and f.live:
            return
        self.stats.add("refused_not_filtering", f.request.pretty_host)
        self._note(f, MARK_FAILED, f"dejunk failed on this flow: not filtering ({self.failed}); refused",
                   action="not_filtering")
        keep_recorded_size(f)
        f.response = to_response(not_filtering_answer(f.request.pretty_url, self.failed))
        f._dejunk_answered = True

    def _on_request(self, f: http.HTTPFlow) -> None:
        request = flow_request(f)
        self.stats.add("requests")
        if self.store is not None:
            self.store.count(1)
        views = request_views(f, request)
        step, found, request = self._decide_views(views)
        if step == "allowed_site":
            self.stats.add("allowed_site", request.host)
            self._recent(request, "allowed_site", found)
            f.metadata["dejunk"] = {"action": "allowed_site", "pattern": found}
            f._dejunk_passed = True
            return

        if step == "policy_connect":
            verdict = found
            answer = Answer(
                403,
                policy_page(request.url, request.host, verdict.pattern),
                {"Content-Type": "text/html; charset=utf-8", "X-Dejunk": f"policy connect; pattern={verdict.pattern}"},
            )
            self._policy_event(f, "connect", request.host, verdict.pattern)
            self._recent(request, "policy", f"connect policy: {verdict.pattern or 'its default'}")
            keep_recorded_size(f)
            f.response = to_response(answer)
            f._dejunk_answered = True
            return

        decision = found
        if decision.blocked:
            self._block(f, request, decision)
            f._dejunk_answered = True
            return
        popup = popup_view(f, request)
        if popup is not None:
            # A navigation from another site may be a popup: `$popup`/`$popunder` rules decide it too.
            as_popup = self.engine.check_request(popup)
            if as_popup.blocked:
                self._block(f, request, as_popup, popup=popup)
                f._dejunk_answered = True
                return
        if decision.exception:
            self.stats.add("exception", request.host)
            f.metadata.setdefault("dejunk", {}).update(exception=decision.exception)
            self._recent(request, "exception", decision.exception, decision.exception_list, decision.exception_line)
        else:
            self._recent(request, "allowed")
        if decision.removeparam_url:
            self.stats.add("removeparam", request.host)
            self._record("removeparam", url=request.url, host=request.host, new_url=decision.removeparam_url,
                         rules=list(decision.modifiers))
            self._note(f, f.marked or MARK_MODIFIED, f"parameters removed by {', '.join(decision.modifiers)}",
                       removeparam_url=decision.removeparam_url, original_url=request.url)
            # Only the path and query change: the host connected to stays (the URL may name the Host header's).
            f.request.path = path_of(decision.removeparam_url)
        if decision.csp:
            # Added to the response in responseheaders; the page's own policies stay.
            f.metadata.setdefault("dejunk", {}).update(csp=decision.csp, csp_rules=list(decision.modifiers))
        if decision.replace:
            # The body is held (responseheaders) and changed by a page worker (response).
            f.metadata.setdefault("dejunk", {})["replace"] = [list(pair) for pair in decision.replace]

        if request.has_cookie:
            # Every host the request names or goes to must accept cookies for them to be sent.
            for view in views:
                cookie = self.policies.check("cookie", view.host)
                if not cookie.accepted:
                    del f.request.headers["cookie"]
                    self._policy_event(f, "cookie", view.host, cookie.pattern, mark=False)
                    break
        f._dejunk_passed = True

    def _recent(self, request: Request, action: str, rule: str | None = None, list_name: str | None = None,
                line: int | None = None) -> None:
        self.recent.add(request.url, request.type, request.source_host or request.host, action, rule, list_name, line)

    def _decide_views(self, views: tuple[Request, ...]):
        """`_decide` for each view of a request (see flows.request_views), the stricter answer: (step, found, view).

        A view the connect policy rejects refuses the request, then one a rule blocks; dejunk steps
        aside only if every view is on an allowed site; else the first list decision stands.
        """
        if len(views) == 1:
            return (*self._decide(views[0]), views[0])
        results = [(*self._decide(view), view) for view in views]
        for step, found, view in results:
            if step == "policy_connect":
                return step, found, view
        for step, found, view in results:
            if step == "engine" and found.blocked:
                return step, found, view
        for step, found, view in results:
            if step == "engine":
                return step, found, view
        return results[0]

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

    def _block(self, f: http.HTTPFlow, request, decision, popup=None) -> None:
        # `popup`: the request as a popup, when a `$popup` rule blocked the navigation (answered as a page).
        answer, resource = self._answer_for(request, decision)
        location = decision.rule_location
        if resource is not None:
            action, words = "redirected", f"redirected to {resource.name} by {decision.filter} ({location})"
            self.stats.add("redirected", request.host)
        else:
            action, words = "blocked", f"blocked by {decision.filter} ({location})"
        if popup is not None:
            words += f" as a popup from {popup.source_url or 'another site'}"
            self.stats.add("blocked_popup", request.host)
        request_type = request.type if popup is None else popup.type
        self.stats.add("blocked", request.host)
        if self.store is not None:
            self.store.count(blocked=1, blocked_host=request.host, rule=decision.filter)
        self.recent.add(request.url, request_type, request.source_host or request.host, action, decision.filter,
                        decision.list, decision.line)
        self._record(
            "blocked", url=request.url, host=request.host, type=request_type,
            rule=decision.filter, list=decision.list, line=decision.line,
            redirect=resource.name if resource else None, important=decision.important,
        )
        self._note(
            f, MARK_BLOCKED, words, action=action, rule=decision.filter, list=decision.list,
            line=decision.line, type=request_type, redirect=resource.name if resource else None,
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
        """Apply image and cookie policies; returns whether the body is held (a page, a body to change, a small body)."""
        data = f.metadata.get("dejunk", {})
        action = data.get("action")
        if action in ANSWERED_ACTIONS:
            return False  # dejunk's own answer: mitmproxy emulates this hook for it
        if action == "allowed_site":
            if not self.keep_bodies:
                f.response.stream = True
            return False
        request = flow_request(f)
        host = request.host
        response = f.response
        found = header_values(response.headers, _RESPONSE_HEADERS)
        content_type = found.get(b"content-type", "").lower()
        if request.type in _DOCUMENT_TYPES and self.engine is not None:
            removals = self.engine.header_removals(request.url)
            if removals:
                self._remove_headers(f, removals, found)
        csp = data.get("csp")
        if csp:
            response.headers.add("Content-Security-Policy", csp)
            self.stats.add("csp", host)
            rules = data.get("csp_rules", [])
            self._record("csp", url=f.request.pretty_url, host=host, csp=csp, rules=rules)
            self._note(f, f.marked or MARK_MODIFIED, f"CSP added ({csp}) by {', '.join(rules)}")
        if b"set-cookie" in found:
            rejected, verdict = self._response_policy("cookie", f, host)
            if not verdict.accepted:
                del response.headers["set-cookie"]
                self._policy_event(f, "cookie", rejected, verdict.pattern, mark=False)
        if content_type.startswith("image/") and not bodiless(f):
            rejected, verdict = self._response_policy("image", f, host)
            if not verdict.accepted:
                self._replace_image(f, verdict.pattern, rejected)
                return False
        buffered = content_type.startswith(BUFFERED_TYPES) and self._may_rewrite(f)
        # A body `$replace` rules change is held too, and only then (whatever its type).
        replacing = bool(data.get("replace")) and self._may_replace(f, content_type, request.type)
        length = found.get(b"content-length", "")
        if (buffered or replacing) and length.isdigit() and int(length) > self.settings.hold_limit:
            buffered = False
            if replacing:
                replacing = False
                self._not_replaced(f, f"larger than the most dejunk holds ({self.settings.hold_limit} bytes): "
                                      "delivered as it comes")
        if replacing:
            data["replace_held"] = True
            buffered = True
        if not buffered and not self.keep_bodies:
            if length.isdigit() and int(length) <= min(SMALL_BODY_BYTES, self.settings.hold_limit) and not (
                    content_type.startswith(BUFFERED_TYPES) and self._may_rewrite(f)):
                # A small body of known length is held whole by mitmproxy, as without dejunk: streaming
                # it costs the proxy more than holding it. Only while it comes at once, though: one
                # arriving in pieces streams from its first piece on (`_small_body_chunk`).
                f._dejunk_small_held = int(length)  # not part of the flow's saved state
                f._dejunk_plain = response  # nothing for the response hook to do with this response
                return True
            # Only pages dejunk may rewrite are held in memory; everything else flows through
            # (unless flows are kept to be looked at: then mitmproxy decides, as without dejunk).
            response.stream = counting_stream(f)
            if content_type.startswith(BUFFERED_TYPES) and self._may_rewrite(f) and not bodiless(f):
                self._inject_into_stream(f, found)
        return buffered

    def _inject_into_stream(self, f: http.HTTPFlow, found: dict) -> None:
        """A page too large to hold still gets its scriptlets and styles, where that is safe: sent without
        Content-Encoding, in an encoding where markup is ASCII, with its head in the first bytes."""
        rules = self.engine.cosmetic(f.request.pretty_url)
        if rules is None or not rules.injects:
            return
        response = f.response
        reason = None
        if not _identity(found.get(b"content-encoding")):
            reason = "a page too large to hold, sent compressed"
        else:
            charset = response.headers.get("content-type", "").lower().partition("charset=")[2].strip(" \"';")
            if charset.startswith(("utf-16", "utf-32", "ucs-2", "iso-2022", "hz")):
                reason = f"a page too large to hold, in {charset}"
        if reason is not None:
            self._not_injected(f, [f"scriptlets and styles: {reason}"])
            return
        xml = response.headers.get("content-type", "").lower().startswith("application/xhtml+xml")
        policies = inject.Policies(tuple(response.headers.get_all("content-security-policy")),
                                   tuple(response.headers.get_all("content-security-policy-report-only")), xml=xml)
        markup = policies.element("script", page_script(rules)) + policies.element("style", css_ascii(
            "".join(rules.styles)))
        if policies.left_out:
            self._not_injected(f, policies.left_out)
        if not markup:
            return
        if policies.changed:
            response.headers.set_all("content-security-policy", policies.enforced)
            response.headers.set_all("content-security-policy-report-only", policies.report_only)
        data = markup.encode("ascii")
        length = response.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                self._not_injected(f, ["scriptlets and styles: a page too large to hold, with a bad Content-Length"])
                return
            response.headers["content-length"] = str(int(length) + len(data))  # the markup goes in exactly once
        injector = inject.StreamInjector(data)
        response.stream = lambda chunk, counting=response.stream: counting(injector(chunk))
        self.stats.add("injected_streamed", f.request.pretty_host)
        self._note(f, f.marked or MARK_MODIFIED, f"added {'scriptlets' if rules.scriptlets else 'styles'} to a page "
                   "too large to hold, as it streamed", injected_rules=list(rules.injected_rules))

    def _large_page(self, f: http.HTTPFlow):
        """A held body that grew past the hold limit: streamed from now on (a page gets its scriptlets still)."""
        f.response.stream = counting_stream(f)
        try:
            if f.response.headers.get("content-type", "").lower().startswith(BUFFERED_TYPES) and self._may_rewrite(f):
                found = header_values(f.response.headers, _RESPONSE_HEADERS)
                self._inject_into_stream(f, found)
        except Exception as error:
            self._contain("responseheaders", f, error)
        return f.response.stream

    def _remove_headers(self, f: http.HTTPFlow, removals, found: dict) -> None:
        """Remove the response headers `##^responseheader()` rules name (every field of each)."""
        url, host = f.request.pretty_url, flow_request(f).host
        for removal in removals:
            if removal.name not in f.response.headers:
                continue
            del f.response.headers[removal.name]
            found.pop(removal.name.encode(), None)
            self.stats.add("header_removed", host)
            self._record("header_removed", url=url, host=host, header=removal.name, rule=removal.rule,
                         list=removal.list, line=removal.line)
            self._note(f, f.marked or MARK_MODIFIED, f"response header {removal.name} removed by {removal.rule} "
                                                     f"({removal.list}:{removal.line})")

    @staticmethod
    def _may_replace(f: http.HTTPFlow, content_type: str, request_type: str) -> bool:
        """Whether `$replace` rules may change this response: a whole text body (never a part of one)."""
        status = f.response.status_code
        return (200 <= status < 300 and status != 206 and "content-range" not in f.response.headers
                and f.request.method != "HEAD" and replaceable(content_type, request_type))

    def _not_replaced(self, f: http.HTTPFlow, reason: str) -> None:
        """A body `$replace` rules apply to goes out unchanged: count, record, mark and log it (once per flow)."""
        data = f.metadata.setdefault("dejunk", {})
        if data.get("not_replaced"):
            return
        rules = [label for _, label in data.get("replace", ())]
        url, host = f.request.pretty_url, flow_request(f).host
        self.stats.add("not_replaced", host)
        self._record("not_replaced", url=url, host=host, reason=reason, rules=rules)
        self._note(f, f.marked or MARK_FAILED, f"body not changed by $replace: {reason}", not_replaced=reason)
        failure, count = self.failures.add("replace", RuntimeError(reason.split(":")[0]))
        if count:
            more = f" ({times(failure.count)} in all)" if failure.count > 1 else ""
            logger.warning(f"dejunk: body delivered unchanged, not changed by $replace ({', '.join(rules)}): "
                           f"{reason} ({url}){more}")

    def _response_policy(self, policy: str, f: http.HTTPFlow, host: str):
        """(host, verdict) of a policy on a response: the Host header's host, and the host connected to
        when that is another (a rejection by either stands, as for requests)."""
        verdict = self.policies.check(policy, host)
        if verdict.accepted:
            connected = normalize_host(f.request.host)
            if connected and connected != host:
                other = self.policies.check(policy, connected)
                if not other.accepted:
                    return connected, other
        return host, verdict

    @staticmethod
    def _small_body_chunk(f: http.HTTPFlow, held: int):
        """A small body is held only while it comes at once: one arriving in pieces streams from its first
        piece on, so the client gets the headers and the first bytes at once, as it would unheld."""
        length = getattr(f, "_dejunk_small_held", None)
        if length is None or held >= length:
            return None
        f._dejunk_small_held = None
        return counting_stream(f)

    def _slow_page(self, f: http.HTTPFlow):
        """A held page still arriving after the response timeout: it goes on unrewritten, as it comes."""
        if getattr(f, "_dejunk_small_held", None) is not None:
            return counting_stream(f)  # a small body held only because that is cheaper: it streams on, unremarked
        host = f.request.pretty_host
        reason = f"still arriving {self.settings.response_timeout} s after its headers: sent as it comes, unrewritten"
        self.stats.add("not_rewritten_slow", host)
        self._record("not_rewritten", url=f.request.pretty_url, host=host, reason=reason)
        self._note(f, f.marked, f"page not rewritten: {reason}", not_rewritten=reason)
        if f.metadata.get("dejunk", {}).get("replace_held"):
            self._not_replaced(f, reason)
        return counting_stream(f)

    def _may_rewrite(self, f: http.HTTPFlow) -> bool:
        """Whether this response is one dejunk may remove ad elements from (its type aside).

        Never a part of a page (206, or any `Content-Range`): the client puts the parts together
        by byte offsets, so they pass byte-identical.
        """
        return (
            self.settings.cosmetic != "off"
            and 200 <= f.response.status_code < 300
            and f.response.status_code != 206
            and "content-range" not in f.response.headers
            and f.metadata.get("dejunk", {}).get("action") not in (*ANSWERED_ACTIONS, "allowed_site")
            and self.engine is not None
            and self.engine.cosmetic_store is not None
        )

    def _replace_image(self, f: http.HTTPFlow, pattern: str | None, host: str) -> None:
        # Decided on the headers alone: the upstream body is read and dropped as it arrives and the
        # client gets the GIF, so no image is ever held in memory. (204, 304 and other bodiless
        # answers carry no image and pass as they are: see `bodiless`.)
        response = f.response
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > len(TRANSPARENT_GIF) and self.store is not None:
            self.store.count(bytes_saved=int(length) - len(TRANSPARENT_GIF))
        for name in ("content-encoding", "transfer-encoding", "content-length", "etag", "last-modified"):
            response.headers.pop(name, None)
        response.status_code = 200
        response.headers.update(image_replacement_headers(pattern or "default"))
        sent = False

        def swallow(chunk: bytes) -> bytes:
            # Called for each chunk and once with b"" at the end: the GIF goes out exactly once,
            # even for an empty body (only the end call comes then).
            nonlocal sent
            if sent:
                return b""
            sent = True
            return TRANSPARENT_GIF

        response.stream = swallow
        f.metadata.setdefault("dejunk", {})["image_replaced"] = True
        self._policy_event(f, "image", host, pattern)

    @staticmethod
    def _finish_replaced_image(f: http.HTTPFlow) -> None:
        """A replaced image whose body mitmproxy never streamed (the upstream said at once that
        there is none) gets the GIF here, so that the response matches its Content-Length."""
        if (f.metadata.get("dejunk", {}).get("image_replaced") and f.response.raw_content == b""
                and f.request.method != "HEAD"):
            f.response.raw_content = TRANSPARENT_GIF

    def response(self, f: http.HTTPFlow):
        # Synchronous unless a page is to be rewritten: then it returns the coroutine that does it,
        # which mitmproxy awaits. Most responses never pay for a coroutine.
        self.upstream.flow_done(f)
        if not self.settings.enabled or f.response is None:
            return None
        if getattr(f, "_dejunk_plain", None) is f.response:
            return None  # held only because it is small, no page and nothing to replace: most responses
        try:
            self._reassert_block(f)
            self._finish_replaced_image(f)
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
        """(raw body, Content-Encoding, cosmetic rules or None, `$replace` replacements, only inject) when a worker
        has something to do with this response (an HTML page with cosmetic rules, a body `$replace` changes), else None."""
        # The body stays as the server sent it: a worker decodes it (with a cap) and encodes the result,
        # since either can take long (a decompression bomb, brotli) and nothing slow runs on the event loop.
        response = f.response
        data = f.metadata.get("dejunk", {})
        replacements = tuple(tuple(pair) for pair in data.get("replace", ())) if data.get("replace_held") else ()
        if response.stream or response.raw_content is None:
            if replacements:
                self._not_replaced(f, "its body was streamed")
            return None
        content_type = response.headers.get("content-type", "")
        rewrite = content_type.lower().startswith(BUFFERED_TYPES) and self._may_rewrite(f)
        if not rewrite and not replacements:
            return None
        raw = response.raw_content
        if not raw:
            return None
        limit = self.settings.max_rewrite_bytes
        content_encoding = response.headers.get("content-encoding")
        if len(raw) > limit:
            if replacements:
                self._not_replaced(f, f"larger than dejunk_max_rewrite_bytes ({limit} bytes)")
            # Held whole (flows kept to be looked at) yet too large to rewrite: its scriptlets and styles still go in.
            rules = self.engine.cosmetic(f.request.pretty_url) if rewrite else None
            if rules is None or not rules.injects:
                return None
            if not _identity(content_encoding):
                self._not_injected(f, ["scriptlets and styles: a page too large to rewrite, sent compressed"])
                return None
            return raw, content_encoding, rules, (), True
        try:
            coding = compression.check(content_encoding)
        except compression.Unsupported as e:  # leave the body as it came, and say so
            self._body_failed(f, str(e), rewrite, replacements)
            return None
        rules = None
        if rewrite:
            rules = self.engine.cosmetic(f.request.pretty_url)
            # Decided without parsing, and without a trip to a worker (a compressed body is looked at there).
            if skip_reason(raw if coding in compression.IDENTITY else b"<", rules, content_type) is not None:
                rules = None
        if rules is None and not replacements:
            return None
        return raw, content_encoding, rules, replacements, False

    async def _rewrite(self, f: http.HTTPFlow, raw: bytes, content_encoding: str | None, rules,
                       replacements: tuple = (), inject_only: bool = False) -> None:
        url = f.request.pretty_url
        timeout, limit = self.settings.rewrite_timeout, self.settings.max_rewrite_bytes
        if inject_only:
            limit = len(raw)
        rewrite = rules is not None
        try:
            headers = f.response.headers
            done = await self.rewrite_pool().rewrite(
                raw, content_encoding=content_encoding, url=url, content_type=headers.get("content-type"),
                rules=rules, mode=self.settings.cosmetic, timeout=timeout, limit=limit, replacements=replacements,
                csp=tuple(headers.get_all("content-security-policy")),
                csp_report_only=tuple(headers.get_all("content-security-policy-report-only")),
                inject_only=inject_only,
            )
        except QueueTimeout as e:  # waiting is not rewriting: its own reason, so a slow spell shows as one
            self._body_failed(f, str(e), rewrite, replacements)
            return
        except TimeoutError:
            self._body_failed(f, f"rewrite took longer than {timeout} s", rewrite, replacements)
            return
        except UndecodableBody as e:
            self._body_failed(f, f"cannot decode the body: {e}", rewrite, replacements)
            return
        except WorkerDied as e:
            self._worker_died(str(e))
            self._body_failed(f, str(e), rewrite, replacements)
            return
        except Exception as e:  # the page goes out as it came; the cause is recorded
            self._body_failed(f, f"{type(e).__name__}: {e}", rewrite, replacements)
            return
        for death in done.replaced:
            self._worker_died(death)
        if done.too_large:
            self._body_failed(f, f"larger than dejunk_max_rewrite_bytes ({limit} bytes) once decoded", rewrite,
                              replacements)
            return
        if done.replace_note and replacements:
            self._not_replaced(f, done.replace_note)
        if done.result is not None and done.result.not_injected:
            self._not_injected(f, done.result.not_injected)
        if done.raw_content is None:
            return
        try:
            self._apply_rewrite(f, url, done, rules)
        except Exception as error:
            self._contain("response", f, error)

    def _body_failed(self, f: http.HTTPFlow, message: str, rewrite: bool, replacements: tuple) -> None:
        """A body goes out as it came: recorded as a failed rewrite, and as not replaced, as it was meant."""
        if rewrite:
            self._rewrite_failed(f, message)
        if replacements:
            self._not_replaced(f, message)

    def _apply_rewrite(self, f: http.HTTPFlow, url: str, done, rules) -> None:
        # The worker encoded the new body as the page was encoded; Content-Length follows it, as
        # mitmproxy's own `content` setter keeps it (and leaves it out beside Transfer-Encoding).
        response = f.response
        # Bytes saved: what the client no longer gets (as sent, encoded), for the statistics.
        saved = len(response.raw_content or b"") - len(done.raw_content)
        response.raw_content = done.raw_content
        if "transfer-encoding" not in response.headers:
            response.headers["content-length"] = str(len(done.raw_content))
        if saved > 0 and self.store is not None:
            self.store.count(bytes_saved=saved)
        if done.replaced_by:
            host = flow_request(f).host
            before, after = done.replace_sizes
            self.stats.add("replaced", host)
            self._record("replaced", url=url, host=host, rules=list(done.replaced_by), bytes_before=before,
                         bytes_after=after)
            self._note(f, f.marked or MARK_MODIFIED, f"body changed by {', '.join(done.replaced_by)}",
                       replaced=list(done.replaced_by))
        result = done.result
        if result is None or not result.changed:
            return
        # What dejunk added may run under the page's policy, and nothing else more than before (see html.inject).
        if result.csp is not None:
            response.headers.set_all("content-security-policy", list(result.csp))
        if result.csp_report_only is not None:
            response.headers.set_all("content-security-policy-report-only", list(result.csp_report_only))
        count = result.removed + result.hidden
        host = f.request.pretty_host
        self.stats.add("rewritten", host)
        if count:
            self.stats.add("elements_removed" if result.removed else "elements_hidden", host, count)
        if result.edited:  # `:remove-attr()`, `:remove-class()`: the elements stay, changed
            self.stats.add("elements_edited", host, result.edited)
        injected_rules = list(rules.injected_rules) if result.injected else []
        for what in result.injected:
            self.stats.add(f"{what}_injected", host)
        self._record(
            "rewritten", url=url, removed=result.removed, hidden=result.hidden, edited=result.edited,
            selectors=result.selectors,
            bytes_before=result.bytes_before, bytes_after=result.bytes_after, mode=result.mode,
            ms=round(result.elapsed_ms, 1), injected=result.injected, injected_rules=injected_rules,
        )
        self._note(f, MARK_REWRITTEN, result.summary(), action="rewritten", removed=result.removed,
                   hidden=result.hidden, selectors=result.selectors, bytes_before=result.bytes_before,
                   rule_places=[[hit.list, hit.line] for hit in result.rule_hits],
                   bytes_after=result.bytes_after, injected=result.injected)

    def _not_injected(self, f: http.HTTPFlow, reasons: list[str]) -> None:
        """Scriptlets or styles the page's own policy does not allow: counted, recorded, noted on the flow."""
        host = f.request.pretty_host
        self.stats.add("not_injected", host)
        self._record("not_injected", url=f.request.pretty_url, host=host, reasons=reasons)
        self._note(f, f.marked, "not added to the page: " + "; ".join(reasons), not_injected=reasons)

    def _rewrite_failed(self, f: http.HTTPFlow, message: str) -> None:
        self.stats.add("rewrite_error", f.request.pretty_host)
        self._record("rewrite_error", url=f.request.pretty_url, message=message)
        failure, count = self.failures.add("rewrite", RuntimeError(message.split(":")[0]))
        if count:
            more = f" ({times(failure.count)} in all)" if failure.count > 1 else ""
            logger.warning(f"dejunk: page delivered unchanged: {message} ({f.request.pretty_url}){more}")

    def _worker_died(self, message: str) -> None:
        """A page worker died (killed, crashed, out of memory) and another took its place: count and say so."""
        self.stats.add("worker_died")
        self._record("worker_died", message=message)
        logger.warning(f"dejunk: {message}; a new worker took its place")

    def _reassert_block(self, f: http.HTTPFlow) -> None:
        # Server replay runs after scripts and replaces a response set in `request`: put the block back.
        data = f.metadata.get("dejunk", {})
        if data.get("action") in ("blocked", "redirected") and "x-dejunk" not in f.response.headers:
            request = flow_request(f)
            decision = self.engine.check_request(request)
            popup = popup_view(f, request) if not decision.blocked and data.get("type") == "popup" else None
            if popup is not None:
                decision = self.engine.check_request(popup)
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
        if message == flow.Error.KILLED_MESSAGE:
            return  # the user ended it
        if client_left(f):
            self._client_abort(f, message)
            return
        kind, detail = self.upstream.known_failure(f) or (classify_failure(message), message)
        host, port = f.request.pretty_host, f.request.port
        connect_phase = kind in ("connect_timeout", "tls")
        timeout = self.settings.connect_timeout if connect_phase else self.settings.response_timeout
        self.stats.add("upstream_error", host)
        self.stats.add(f"upstream_error_{kind}", host)
        if self.store is not None:
            self.store.count(upstream_error=kind)
        self._record("upstream_error", host=host, port=port, kind=kind, message=detail, url=f.request.pretty_url)
        self._note(f, MARK_UPSTREAM, f"upstream failed ({kind}): {detail}", action="upstream_error", kind=kind)
        if self.settings.error_pages:
            page = to_response(error_answer(kind, f.request.pretty_url, host, port, detail, timeout))
            offer_error_page(f, page)

    def _client_abort(self, f: http.HTTPFlow, message: str) -> None:
        # Browsers cancel requests all the time (navigation, a closed tab): counted and recorded, not
        # logged, and never an upstream failure.
        host = f.request.pretty_host
        self.stats.add("client_abort", host)
        self._record("client_abort", host=host, url=f.request.pretty_url, message=message)
        self._note(f, f.marked, f"the client left before the response was complete ({message})", client_abort=True)

    def http_connect_error(self, f: http.HTTPFlow):
        # Only with connection_strategy=eager: the CONNECT itself failed upstream.
        if not self.settings.enabled or f.response is None:
            return
        if f.metadata.get("dejunk", {}).get("action") in ANSWERED_ACTIONS:
            return  # dejunk refused the CONNECT itself (see `http_connect`)
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
        if self.store is not None:
            self.store.count(upstream_error=kind)
        self._record("upstream_error", host=host, port=port, kind=kind, message=message, url=f"{host}:{port}")
        self._note(f, MARK_UPSTREAM, f"upstream failed ({kind}): {message}", action="upstream_error", kind=kind)
        if self.settings.error_pages:
            f.response = to_response(error_answer(kind, f"https://{host}:{port}/", host, port, message))

    # --- connections --------------------------------------------------------------------------

    def http_connect(self, f: http.HTTPFlow):
        """Refuse a CONNECT to a host refused as a whole, where nothing later could stop its connection.

        Ordinarily the tunnel opens: requests inside it get dejunk's answers (the connect policy's
        page, a blocked GIF...) and any other connection is refused at `server_connect`. But an
        upstream proxy makes the connection on its side, and eager connections open on the
        CONNECT: then the CONNECT itself gets the 403.
        """
        if not self.settings.enabled or f.response is not None:
            return
        if f.server_conn.via is None and not self.settings.eager_connect:
            return
        try:
            self._on_connect(f)
        except Exception as error:
            self._contain("http_connect", f, error)

    def _on_connect(self, f: http.HTTPFlow) -> None:
        host, port = f.request.host, f.request.port
        if self.failed is not None:
            self._refuse(f)
            return
        refusal = self._connection_refusal(host, port)
        if refusal is None:
            return
        kind, found = refusal
        if kind == "policy":
            self._policy_event(f, "connect", host, found.pattern)
            self.recent.add(f"{host}:{port}", "other", host, "policy", f"connect policy: {found.pattern or 'its default'}")
            page = policy_page(f"https://{host}:{port}/", host, found.pattern)
            header = f"policy connect; pattern={found.pattern}"
        else:
            self._record_block(f"{host}:{port}", host, "other", found, where="connect")
            self.stats.add("blocked", host)
            if self.store is not None:
                self.store.count(1, 1, blocked_host=host, rule=found.filter)
            self.recent.add(f"{host}:{port}", "other", host, "blocked", found.filter, found.list, found.line)
            self._note(f, MARK_BLOCKED, f"blocked by {found.filter} ({found.rule_location}): the whole host",
                       action="blocked", rule=found.filter, list=found.list, line=found.line, type="other")
            page = blocked_answer("document", f"https://{host}:{port}/", found.filter, found.rule_location).body
            header = dejunk_header("blocked", found.filter)
        f.response = to_response(Answer(403, page, {"Content-Type": "text/html; charset=utf-8", "X-Dejunk": header}))

    def server_connect(self, client, server) -> None:
        """Refuse a server connection to a host refused as a whole (raw TCP, passed-through TLS, ...).

        HTTP requests are decided before their connection opens (lazily): one let through vouches
        for its connection for a while (`_vouch`), so a rule's exception or an allowed site keeps
        working. Any other connection to a host the connect policy rejects, or that a rule blocks
        whatever the request and the page (see `_host_blocked`), is refused: mitmproxy opens
        nothing when a `server_connect` hook sets `server.error`.
        """
        if not self.settings.enabled or not server.address or server.error:
            return
        if isinstance(getattr(client, "proxy_mode", None), UpstreamMode):
            return  # the connection goes to the upstream proxy; `http_connect` decided on its target
        try:
            self._on_server_connect(client, server)
        except Exception as error:
            self._contain("server_connect", None, error)

    def _on_server_connect(self, client, server) -> None:
        host, port = str(server.address[0]), server.address[1]
        passed = self._passed.get((client.id, host.lower(), port))
        if passed is not None and time.monotonic() - passed < self.PASSED_SECONDS:
            return
        if self.failed is not None:
            self.stats.add("refused_not_filtering", host)
            server.error = f"dejunk is not filtering ({self.failed}): no connection is made"
            return
        refusal = self._connection_refusal(host, port)
        if refusal is None:
            return
        kind, found = refusal
        if kind == "policy":
            self.stats.add("policy_connect", host)
            self._record("policy", policy="connect", host=host, pattern=found.pattern, port=port, where="connection")
            server.error = f"dejunk: the connect policy rejects {host} ({found.pattern or 'its default'})"
        else:
            self.stats.add("blocked", host)
            if self.store is not None:
                self.store.count(1, 1, blocked_host=host, rule=found.filter)
            self._record_block(f"{host}:{port}", host, "other", found, where="connection")
            server.error = f"dejunk: {host} is blocked by {found.filter} ({found.rule_location})"
        # No flow shows a connection that is not HTTP to dejunk (raw TCP, TLS passed through): the log does.
        logger.info(f"dejunk: no connection to {host}:{port}: {server.error[len('dejunk: '):]}")

    def _connection_refusal(self, host: str, port: int):
        """("policy", verdict) or ("rule", decision) if a connection to host is refused as a whole, else None."""
        if self._allowed_site(host, ""):
            return None
        verdict = self.policies.check("connect", host)
        if not verdict.accepted:
            return "policy", verdict
        if self.engine is not None:
            decision = self._host_blocked(host, port)
            if decision is not None:
                return "rule", decision
        return None

    def _host_blocked(self, host: str, port: int):
        """The decision blocking every request to host, whatever its path, type or page, else None.

        A connection that is not HTTP to dejunk carries no URL, type or page: it is refused only
        for a host the lists block outright, as a request of type `other` to its root, both from
        another site and from itself (so `$third-party` alone does not refuse an app's own host).
        """
        name = f"[{host}]" if ":" in host else host
        url = f"{'https' if port == 443 else 'http'}://{name}/"
        third = self.engine.check_request(Request.from_strings(url, None, "other"))
        if not third.blocked:
            return None
        first = self.engine.check_request(Request.from_strings(url, url, "other"))
        return third if first.blocked else None

    def _record_block(self, url: str, host: str, request_type: str, decision, **fields) -> None:
        self._record(
            "blocked", url=url, host=host, type=request_type, rule=decision.filter, list=decision.list,
            line=decision.line, redirect=None, important=decision.important, **fields,
        )

    # --- explaining ------------------------------------------------------------------------------

    def outcome(self, request: Request, *others: Request) -> str:
        """In words, what the proxy does with `request` now (`others`: the same request as sent to another host)."""
        return explain(self, request, *others).text
