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
- `UpstreamWatch`: mitmproxy has no upstream connect or response timeout. Timers started from
  the connection and flow hooks cancel the upstream connection's task when a deadline passes;
  mitmproxy then fails the flow through its normal error path, and the `error` hook sees why.
- `quiet_streaming_notices`: drops mitmproxy's per-stream notice where it is logged (one more
  wrapped method, `ConnectionHandler.log`).
- `install_body_size_check`: leaves mitmproxy's `stream_large_bodies` check on response headers
  to dejunk's own hook, which decides the same thing right after (wraps `check_body_size`).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import http
from mitmproxy.net.http import url

from .request import Request, source_from_headers, type_from_headers

logger = logging.getLogger(__name__)

# --- settings -------------------------------------------------------------------------------------


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


# --- request model ------------------------------------------------------------------------------


_REQUEST_HEADERS = frozenset({b"host", b"sec-fetch-dest", b"accept", b"upgrade", b"referer", b"origin", b"cookie"})

@functools.lru_cache(maxsize=4096)
def _url_prefix(scheme: str, host_header: str) -> tuple[str, str]:
    # `pretty_url` parses (and validates) the Host header on every call; a Host header repeats
    # across a site's requests, so "scheme://host[:port]" and the host are kept per header.
    host, port = url.parse_authority(host_header, check=False)
    port = port or url.default_port(scheme) or 443
    return url.unparse(scheme, host, port), host


def flow_url(request: http.Request, host_header: str | None) -> tuple[str, str]:
    """(URL, host) as `pretty_url` / `pretty_host` give them, from an already-read Host header."""
    if request.data.method.upper() == b"CONNECT":  # `first_line_format == "authority"`, without decoding
        return request.authority, request.host
    if request.is_http2 or request.is_http3:
        host_header = request.authority or host_header
    if not host_header:
        return request.url, request.host
    prefix, host = _url_prefix(request.scheme, host_header)
    path = request.path
    return prefix + ("" if path == "*" else path), host


def header_values(headers, wanted: frozenset[bytes]) -> dict[bytes, str]:
    """The first value of each wanted header (lower-case names), in one pass over the raw fields.

    mitmproxy's `headers.get` scans and case-folds every field on each call; on the request path
    one pass for all the names dejunk needs is several times cheaper.
    """
    found: dict[bytes, str] = {}
    for name, value in headers.fields:
        key = name.lower()
        if key in wanted and key not in found:
            found[key] = value.decode("utf-8", "surrogateescape")  # as mitmproxy decodes headers
    return found


def request_from_flow(flow: http.HTTPFlow) -> Request:
    """The filters' view of a flow's request (type from Sec-Fetch-Dest, Accept, extension; source page)."""
    request = flow.request
    found = header_values(request.headers, _REQUEST_HEADERS)
    address, host = flow_url(request, found.get(b"host"))
    request_type = type_from_headers(
        address, sec_fetch_dest=found.get(b"sec-fetch-dest"), accept=found.get(b"accept"), upgrade=found.get(b"upgrade")
    )
    source = source_from_headers(address, request_type, found.get(b"referer"), found.get(b"origin"))
    return Request.from_strings(address, source, request_type, request.method, has_cookie=b"cookie" in found, host=host)


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


# --- wrapping mitmproxy methods -------------------------------------------------------------------


def _wrap_once(cls, name: str, original_attr: str, wrapper) -> bool:
    """Put `wrapper` in place of `cls.name`, keeping the original as `cls.original_attr`.

    Idempotent across script reloads: the original is kept once, but the wrapper is rebound
    every time, so it is the newest module's (whose state the reloaded addon uses). False when
    `cls` has no such method (another mitmproxy version): nothing is changed then.
    """
    if not hasattr(cls, original_attr):
        original = getattr(cls, name, None)
        if not callable(original):
            return False
        setattr(cls, original_attr, original)
    setattr(cls, name, wrapper)
    return True


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
    if not _wrap_once(HttpStream, "handle_protocol_error", _ORIGINAL_ATTR, _handle_protocol_error):  # pragma: no cover
        logger.warning("dejunk: this mitmproxy has no HttpStream.handle_protocol_error; using its own error pages")
        return False
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


# --- log and memory housekeeping ---------------------------------------------------------------------


_STREAMING_NOTICE = "Streaming response from "
_ORIGINAL_LOG_ATTR = "_dejunk_original_log"


class _StreamingNotices(logging.Filter):
    """Drops mitmproxy's per-stream "Streaming response from HOST." notice (fallback only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_STREAMING_NOTICE))


def _log_without_streaming_notices(self, message, *args, **kwargs):
    if type(message) is str and message.startswith(_STREAMING_NOTICE):
        return None
    return getattr(type(self), _ORIGINAL_LOG_ATTR)(self, message, *args, **kwargs)


def quiet_streaming_notices() -> None:
    """Drop mitmproxy's "Streaming response from HOST." notice: dejunk streams nearly every response.

    The notice is dropped where the connection handler logs it, before a log record is made: a
    logging filter would see it only after the record (caller lookup and all) had been built, a
    cost paid on every streamed request. Idempotent across script reloads; without that method
    (another mitmproxy version) a filter on the connection logger does the same, more slowly.
    """
    try:
        from mitmproxy.proxy.server import ConnectionHandler
    except ImportError:  # pragma: no cover - another mitmproxy layout
        ConnectionHandler = None
    if ConnectionHandler is not None and _wrap_once(
        ConnectionHandler, "log", _ORIGINAL_LOG_ATTR, _log_without_streaming_notices
    ):
        return
    server_logger = logging.getLogger("mitmproxy.proxy.server")
    if not any(type(f).__name__ == "_StreamingNotices" for f in server_logger.filters):
        server_logger.addFilter(_StreamingNotices())


# --- mitmproxy's body-size check ------------------------------------------------------------------

_ORIGINAL_CHECK_ATTR = "_dejunk_original_check_body_size"
_skip_header_size_check = False


def install_body_size_check() -> bool:
    """Wrap HttpStream.check_body_size once (idempotent across reloads); False if it is missing.

    With `stream_large_bodies` set, mitmproxy re-reads and re-parses a response's framing headers
    for its size as soon as they arrive, on every response: over 1% of its work per small
    request. While dejunk filters (see `skip_header_size_check`) its `responseheaders` hook makes
    that decision itself, right after, for every response: only pages it may rewrite, with a
    length up to the limit or not yet known, are held. So the check at the headers is skipped;
    the check on every chunk of a body being held stays, and still switches a body that grows
    past the limit to streaming. A `body_size_limit` keeps the whole check.
    """
    try:
        from mitmproxy.proxy.layers.http import HttpStream
    except ImportError:  # pragma: no cover - another mitmproxy layout
        return False
    return _wrap_once(HttpStream, "check_body_size", _ORIGINAL_CHECK_ATTR, _check_body_size)


def skip_header_size_check(skip: bool) -> None:
    """Whether mitmproxy's size check on response headers is left to dejunk's hook (see above)."""
    global _skip_header_size_check
    _skip_header_size_check = skip


def _check_body_size(self, request: bool):
    if _skip_header_size_check and not request and not self.response_body_buf:
        return False
    return (yield from getattr(type(self), _ORIGINAL_CHECK_ATTR)(self, request))


def settle_heap() -> None:
    """After an engine is built or swapped: move what is alive out of the garbage collector's sight.

    An engine holds a few hundred thousand long-lived objects; without this every full collection
    walks them all, while the proxy serves requests. Objects die by reference counting as before.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


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
      until the response headers arrived (checked by a sweep every half second);
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
        self._waiting: dict[str, tuple[http.HTTPFlow, str, float]] = {}

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

    # response phase: one sweep every half second checks all waiting flows (a timer per flow
    # would cost more on every request than the sweep costs in all)

    SWEEP_INTERVAL = 0.5

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.live and flow.response is None:
            self._waiting[flow.id] = (flow, "response", time.time())
            self._ensure_sweep()

    def response_headers(self, flow: http.HTTPFlow, buffered: bool) -> None:
        if buffered and flow.live:
            self._waiting[flow.id] = (flow, "body", time.time())
            self._ensure_sweep()
        else:
            self._waiting.pop(flow.id, None)

    def flow_done(self, flow: http.HTTPFlow) -> None:
        self._waiting.pop(flow.id, None)

    def _ensure_sweep(self) -> None:
        if ("sweep",) not in self._timers:
            self._start(("sweep",), self.SWEEP_INTERVAL, self._sweep)

    def _sweep(self) -> None:
        now = time.time()
        for flow_id, (flow, phase, since) in list(self._waiting.items()):
            if flow.error is not None or not flow.live:
                del self._waiting[flow_id]
            elif phase == "response":
                self._check_response(flow, now)
            elif flow.response is not None and flow.response.timestamp_end is not None:
                del self._waiting[flow_id]
            elif now - since >= self.response_timeout:
                del self._waiting[flow_id]
                self._abort_flow(flow, f"response body not complete within {self.response_timeout} s")
        if self._waiting:
            self._ensure_sweep()

    def _check_response(self, flow: http.HTTPFlow, now: float) -> None:
        if flow.response is not None:
            del self._waiting[flow.id]
            return
        server = flow.server_conn
        if server.timestamp_tcp_setup is None or (server.tls and server.timestamp_tls_setup is None):
            return  # still connecting: the connect and TLS deadlines cover that
        ready = max(flow.request.timestamp_end or 0, server.timestamp_tls_setup or server.timestamp_tcp_setup or 0)
        if now - ready >= self.response_timeout:
            del self._waiting[flow.id]
            self._abort_flow(flow, f"no response headers within {self.response_timeout} s")

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
        self._waiting.clear()
