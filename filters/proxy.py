"""mitmproxy-specific machinery the addon needs beyond its hooks.

- `request_from_flow`: the filters' request model from a flow's headers.
- `classify_failure`: an upstream error message in one of dejunk's failure kinds.
- Error pages: mitmproxy 11.0.2 answers a failed upstream with its own 502 page (which, for a
  DNS failure, does not even name the host) and ignores a response set in the `error` hook.
  `install_error_pages()` wraps one method, `HttpStream.handle_protocol_error`, so that a page
  offered from the `error` hook with `offer_error_page(flow, response)` is sent instead of
  mitmproxy's page, provided the client has not received response headers yet. Everything else
  (the error hook, flow state, connection handling) stays mitmproxy's. If the wrapped method is
  missing (another mitmproxy version), nothing is patched and mitmproxy's own page is sent.
- `UpstreamTimeouts`: mitmproxy has no upstream connect or response timeout. Timers started from
  the connection and flow hooks cancel the upstream connection's task when a deadline passes;
  mitmproxy then fails the flow through its normal error path, and the `error` hook sees why.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from mitmproxy import http

from .request import Request, source_from_headers, type_from_headers

logger = logging.getLogger(__name__)

# --- request model ------------------------------------------------------------------------------


def request_type_of(flow: http.HTTPFlow) -> str:
    """The resource type of a flow's request: Sec-Fetch-Dest, then Accept, then the extension."""
    headers = flow.request.headers
    return type_from_headers(
        flow.request.pretty_url,
        sec_fetch_dest=headers.get("sec-fetch-dest"),
        accept=headers.get("accept"),
        upgrade=headers.get("upgrade"),
    )


def request_from_flow(flow: http.HTTPFlow) -> Request:
    """The filters' view of a flow's request."""
    url = flow.request.pretty_url
    request_type = request_type_of(flow)
    headers = flow.request.headers
    source = source_from_headers(url, request_type, headers.get("referer"), headers.get("origin"))
    return Request.from_strings(url, source, request_type, flow.request.method)


# --- failure classification ---------------------------------------------------------------------

ABORT_PREFIX = "dejunk:"

_FAILURE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("dns", re.compile(r"Errno -[235]\b|Errno 8\b|Errno 11001|name or service not known|nodename nor servname|"
                       r"temporary failure in name resolution|no address associated|getaddrinfo", re.I)),
    ("refused", re.compile(r"Errno 111\b|Errno 61\b|connection refused|ECONNREFUSED|Errno 10061", re.I)),
    ("connect_timeout", re.compile(r"Errno 110\b|Errno 60\b|connect call failed.*timed out|connection timed out", re.I)),
    ("tls", re.compile(r"\bTLS\b|\bSSL\b|certificate|handshake|does not speak TLS", re.I)),
    ("reset", re.compile(r"Errno 104\b|Errno 54\b|Errno 32\b|reset|broken pipe|complete message body|"
                         r"peer closed|server closed connection|connection closed|stream reset|EOF", re.I)),
    ("protocol", re.compile(r"protocol error|cannot parse|unexpected server response|invalid|malformed|refusing", re.I)),
]


def classify_failure(message: str) -> str:
    """One of dns, refused, connect_timeout, response_timeout, tls, reset, protocol."""
    if message.startswith(ABORT_PREFIX):
        kind = message[len(ABORT_PREFIX) :].split(":", 1)[0].strip()
        if kind:
            return kind
    for kind, pattern in _FAILURE_PATTERNS:
        if pattern.search(message):
            return kind
    return "protocol"


# --- error pages ----------------------------------------------------------------------------------

_offered_pages: dict[str, http.Response] = {}
_ORIGINAL_ATTR = "_dejunk_original_handle_protocol_error"


def error_pages_installed() -> bool:
    """Whether a page offered from the error hook will reach the client."""
    from mitmproxy.proxy.layers.http import HttpStream

    return hasattr(HttpStream, _ORIGINAL_ATTR)


def install_error_pages() -> bool:
    """Wrap HttpStream.handle_protocol_error once (idempotent across script reloads)."""
    try:
        from mitmproxy.proxy.layers.http import HttpStream
    except ImportError:  # pragma: no cover - another mitmproxy layout
        return False
    if not hasattr(HttpStream, _ORIGINAL_ATTR):
        original = getattr(HttpStream, "handle_protocol_error", None)
        if original is None:  # pragma: no cover
            logger.warning("dejunk: this mitmproxy has no HttpStream.handle_protocol_error; using its own error pages")
            return False
        setattr(HttpStream, _ORIGINAL_ATTR, original)
    # Rebind on every install: after a script reload the wrapper must be this module's, whose
    # `_offered_pages` the reloaded addon fills.
    HttpStream.handle_protocol_error = _handle_protocol_error
    return True


def offer_error_page(flow: http.HTTPFlow, response: http.Response) -> bool:
    """From the `error` hook: send `response` instead of mitmproxy's error page, if still possible."""
    if not error_pages_installed() or not flow.live:
        return False
    _offered_pages[flow.id] = response
    return True


def _handle_protocol_error(self, event):
    # Relay the original generator's commands (and what the layer sends back into it), replacing
    # only the one command that would send mitmproxy's error page to the client.
    from mitmproxy.proxy.layers.http import ResponseProtocolError

    original = getattr(type(self), _ORIGINAL_ATTR)(self, event)
    flow_id = self.flow.id if getattr(self, "flow", None) is not None else None
    try:
        command = next(original)
        while True:
            replacement = None
            if flow_id is not None and isinstance(event, ResponseProtocolError):
                replacement = _page_commands(self, command, event)
            if replacement:
                for page_command in replacement:
                    yield page_command
                result = None
            else:
                result = yield command
            command = original.send(result)
    except StopIteration as stop:
        return stop.value
    finally:
        if flow_id is not None:
            _offered_pages.pop(flow_id, None)


def _page_commands(stream, command, event):
    from mitmproxy.proxy.layers.http import (
        ResponseData,
        ResponseEndOfMessage,
        ResponseHeaders,
        SendHttp,
    )
    from mitmproxy.net.http import status_codes

    if not (isinstance(command, SendHttp) and command.event is event and command.connection is stream.context.client):
        return None
    page = _offered_pages.pop(stream.flow.id, None)
    if page is None or event.code == status_codes.NO_RESPONSE:
        return None
    # Only while the client has seen nothing of a response and has sent its whole request.
    if stream.server_state == stream.state_stream_response_body or stream.client_state != stream.state_done:
        return None
    stream.flow.response = page
    return [
        SendHttp(ResponseHeaders(stream.stream_id, page, end_stream=False), stream.context.client),
        SendHttp(ResponseData(stream.stream_id, page.raw_content or b""), stream.context.client),
        SendHttp(ResponseEndOfMessage(stream.stream_id), stream.context.client),
    ]


# --- timeouts -------------------------------------------------------------------------------------


def _connection_task(master, client, server) -> asyncio.Task | None:
    """The task mitmproxy runs for a server connection (open + read loop), if it is still alive."""
    proxyserver = master.addons.get("proxyserver") if master is not None else None
    if proxyserver is None:
        return None
    handler = proxyserver.connections.get(client.id)
    if handler is None:
        return None
    io = handler.transports.get(server)
    return getattr(io, "handler", None) if io is not None else None


class UpstreamWatch:
    """Upstream deadlines (enforced by cancelling connections) and what failed before a flow knew.

    Deadlines:

    - connect: from `server_connect` until the TCP connection is up;
    - TLS: from `server_connected` until the TLS handshake is done (same limit as connect);
    - response: from when the request could be sent (request complete and connection ready)
      until the response headers arrived;
    - buffered body: a response dejunk buffers (to rewrite it) must be complete within the
      response timeout after its headers; streamed responses have no such limit.
    Failures before a flow owns its connection (our connect and TLS aborts, TLS handshake errors,
    which mitmproxy reports to the flow only as "connection closed") are remembered per (client,
    address) for a few seconds, so the `error` hook can say what really happened.
    """

    def __init__(self, get_master: Callable[[], object]):
        self._get_master = get_master
        self.connect_timeout = 20
        self.response_timeout = 60
        self._timers: dict[object, asyncio.TimerHandle] = {}
        self._failed: dict[tuple, tuple[str, str, float]] = {}

    # connection phase

    def server_connect(self, client, server) -> None:
        self._start(("connect", server.id), self.connect_timeout, self._check_connect, client, server)

    def server_connected(self, client, server) -> None:
        self._cancel(("connect", server.id))
        if server.tls:
            self._start(("tls", server.id), self.connect_timeout, self._check_tls, client, server)

    def tls_done(self, server) -> None:
        self._cancel(("tls", server.id))

    def tls_failed(self, client, server) -> None:
        self._cancel(("tls", server.id))
        if (client.id, tuple(server.address or ())) not in self._failed:
            self._remember(client, server, "tls", f"TLS handshake failed: {server.error or 'unknown error'}")

    def server_closed(self, server) -> None:
        self._cancel(("connect", server.id))
        self._cancel(("tls", server.id))

    def _check_connect(self, client, server) -> None:
        if server.timestamp_tcp_setup is None and server.error is None:
            self._abort(client, server, "connect_timeout", f"no connection within {self.connect_timeout} s")

    def _check_tls(self, client, server) -> None:
        if server.timestamp_tls_setup is None and server.error is None:
            # A handshake that never finishes is a connection that never completes: a timeout (504).
            self._abort(client, server, "connect_timeout", f"TLS handshake not done within {self.connect_timeout} s")

    def _abort(self, client, server, kind: str, why: str) -> None:
        task = _connection_task(self._get_master(), client, server)
        if task is None or task.done():
            return
        self._remember(client, server, kind, why)
        task.cancel(f"{ABORT_PREFIX} {kind}: {why}")

    def _remember(self, client, server, kind: str, detail: str) -> None:
        self._failed[(client.id, tuple(server.address or ()))] = (kind, detail, time.monotonic())

    def known_failure(self, flow: http.HTTPFlow) -> tuple[str, str] | None:
        """(kind, detail) of a failure this class caused or saw for the flow's upstream, if any."""
        data = flow.metadata.get("dejunk", {})
        if data.get("abort"):
            return data["abort"], data.get("abort_reason", "")
        hit = self._failed.get((flow.client_conn.id, (flow.request.host, flow.request.port)))
        if hit and time.monotonic() - hit[2] < 5:
            return hit[0], hit[1]
        return None

    # response phase

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.live and flow.response is None:
            self._start(("response", flow.id), self.response_timeout, self._check_response, flow)

    def response_headers(self, flow: http.HTTPFlow, buffered: bool) -> None:
        self._cancel(("response", flow.id))
        if buffered and flow.live:
            self._start(("body", flow.id), self.response_timeout, self._check_body, flow)

    def flow_done(self, flow: http.HTTPFlow) -> None:
        self._cancel(("response", flow.id))
        self._cancel(("body", flow.id))

    def _check_response(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or flow.error is not None or not flow.live:
            return
        server = flow.server_conn
        if server.timestamp_tcp_setup is None or (server.tls and server.timestamp_tls_setup is None):
            # Still connecting: the connect and TLS deadlines cover that; look again shortly.
            self._start(("response", flow.id), 1.0, self._check_response, flow)
            return
        ready = max(flow.request.timestamp_end or 0, server.timestamp_tls_setup or server.timestamp_tcp_setup or 0)
        remaining = ready + self.response_timeout - time.time()
        if remaining > 0.05:
            self._start(("response", flow.id), remaining, self._check_response, flow)
            return
        self._abort_flow(flow, f"no response headers within {self.response_timeout} s")

    def _check_body(self, flow: http.HTTPFlow) -> None:
        if flow.error is None and flow.live and flow.response is not None and flow.response.timestamp_end is None:
            self._abort_flow(flow, f"response body not complete within {self.response_timeout} s")

    def _abort_flow(self, flow: http.HTTPFlow, why: str) -> None:
        task = _connection_task(self._get_master(), flow.client_conn, flow.server_conn)
        if task is None or task.done():
            return
        flow.metadata.setdefault("dejunk", {})["abort"] = "response_timeout"
        flow.metadata["dejunk"]["abort_reason"] = why
        task.cancel(f"{ABORT_PREFIX} response_timeout: {why}")

    # timer bookkeeping

    def _start(self, key, delay: float, callback, *args) -> None:
        self._cancel(key)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (unit tests, offline replay): no deadlines
        self._timers[key] = loop.call_later(delay, self._fire, key, callback, args)

    def _fire(self, key, callback, args) -> None:
        self._timers.pop(key, None)
        try:
            callback(*args)
        except Exception:  # a timer must never take the event loop down
            logger.exception("dejunk: upstream timeout check failed")
        now = time.monotonic()
        for k in [k for k, (_, _, t) in self._failed.items() if now - t > 30]:
            del self._failed[k]

    def _cancel(self, key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
