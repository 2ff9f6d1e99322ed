"""What dejunk does to a flow at each of mitmproxy's hooks: block, apply policies, rewrite, explain failures.

The addon holds one `Filtering` and hands it every flow. What it works with (engine, policies,
allowed sites, settings, event log) are plain attributes the addon sets when options change; the
engine is swapped with one assignment, so a flow sees either the old engine or the new one. Each
hook contains its own failures (`_contain`): the flow goes on unfiltered, marked and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import flow, http

from ..engine import Engine
from ..html import compression
from ..html.rewrite import skip_reason
from ..network.resources import get_resource
from .events import EventLog, FailureLog, Stats
from ..request import Request
from .flows import header_values, request_from_flow
from .upstream import UpstreamWatch, classify_failure
from .internals import offer_error_page
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
from .policy import Policies, host_matches
from .pool import QueueTimeout, RewritePool, UndecodableBody, WorkerDied

logger = logging.getLogger("dejunk")


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


def times(n: int) -> str:
    """'once', '2 times', ...: how often something happened, in words."""
    return "once" if n == 1 else f"{n} times"


class Filtering:
    """The per-flow work of the addon's hooks, with the state it works from."""

    def __init__(self, upstream: UpstreamWatch, rewrite_pool: Callable[[], RewritePool]):
        self.engine: Engine | None = None
        self.policies = Policies()
        self.allow: list[str] = []
        self.settings = ProxySettings()
        self.events = EventLog(None)
        self.stats = Stats()
        self.failures = FailureLog()
        self.upstream = upstream
        self.rewrite_pool = rewrite_pool  # the page workers for the engine in use
        # Why dejunk cannot filter: then every request is refused rather than passed on unfiltered.
        self.failed: str | None = None
        self.keep_bodies = False  # flows are kept to be looked at (mitmweb, console, -w): bodies stay

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
        f.comment = comment if not f.comment else f"{f.comment}\n{comment}"
        f.metadata.setdefault("dejunk", {}).update(data)

    def _allowed_site(self, host: str, source_host: str) -> str | None:
        if not self.allow:
            return None
        return host_matches(self.allow, host) or (host_matches(self.allow, source_host) if source_host else None)

    # --- hooks --------------------------------------------------------------------------------

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
            if not self.keep_bodies:
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
        if not buffered and not self.keep_bodies:
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
        """(raw body, Content-Encoding, rules) when this response is an HTML page with cosmetic rules to apply, else None."""
        # The body stays as the server sent it: a worker decodes it (with a cap) and encodes the result,
        # since either can take long (a decompression bomb, brotli) and nothing slow runs on the event loop.
        response = f.response
        if response.stream or response.raw_content is None or not self._may_rewrite(f):
            return None
        content_type = response.headers.get("content-type", "")
        if not content_type.lower().startswith(BUFFERED_TYPES):
            return None
        raw = response.raw_content
        if not raw or len(raw) > self.settings.max_rewrite_bytes:
            return None
        content_encoding = response.headers.get("content-encoding")
        try:
            coding = compression.check(content_encoding)
        except compression.Unsupported as e:  # leave the page as it came, and say so
            self._rewrite_failed(f, str(e))
            return None
        rules = self.engine.cosmetic(f.request.pretty_url)
        # Decided without parsing, and without a trip to a worker (a compressed body is looked at there).
        if skip_reason(raw if coding in compression.IDENTITY else b"<", rules, content_type) is not None:
            return None
        return raw, content_encoding, rules

    async def _rewrite(self, f: http.HTTPFlow, raw: bytes, content_encoding: str | None, rules) -> None:
        url = f.request.pretty_url
        timeout, limit = self.settings.rewrite_timeout, self.settings.max_rewrite_bytes
        try:
            done = await self.rewrite_pool().rewrite(
                raw, content_encoding=content_encoding, url=url, content_type=f.response.headers.get("content-type"),
                rules=rules, mode=self.settings.cosmetic, timeout=timeout, limit=limit,
            )
        except QueueTimeout as e:  # waiting is not rewriting: its own reason, so a slow spell shows as one
            self._rewrite_failed(f, str(e))
            return
        except TimeoutError:
            self._rewrite_failed(f, f"rewrite took longer than {timeout} s")
            return
        except UndecodableBody as e:
            self._rewrite_failed(f, f"cannot decode the body: {e}")
            return
        except WorkerDied as e:
            self._worker_died(str(e))
            self._rewrite_failed(f, str(e))
            return
        except Exception as e:  # the page goes out as it came; the cause is recorded
            self._rewrite_failed(f, f"{type(e).__name__}: {e}")
            return
        for death in done.replaced:
            self._worker_died(death)
        if done.too_large:
            self._rewrite_failed(f, f"larger than dejunk_max_rewrite_bytes ({limit} bytes) once decoded")
            return
        if not done.result.changed:
            return
        try:
            self._apply_rewrite(f, url, done)
        except Exception as error:
            self._contain("response", f, error)

    def _apply_rewrite(self, f: http.HTTPFlow, url: str, done) -> None:
        # The worker encoded the new body as the page was encoded; Content-Length follows it, as
        # mitmproxy's own `content` setter keeps it (and leaves it out beside Transfer-Encoding).
        response = f.response
        response.raw_content = done.raw_content
        if "transfer-encoding" not in response.headers:
            response.headers["content-length"] = str(len(done.raw_content))
        result = done.result
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

    # --- explaining ------------------------------------------------------------------------------

    def outcome(self, request: Request) -> str:
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
