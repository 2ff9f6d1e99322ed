"""Upstream failures: their kinds, and the connect and response deadlines mitmproxy does not have.

- `classify_failure`: an upstream error message in one of dejunk's failure kinds.
- `UpstreamWatch`: timers started from the connection and flow hooks cancel the upstream
  connection's task when a deadline passes; mitmproxy then fails the flow through its normal
  error path, and the `error` hook sees why. (Finding that task is one of the internals in
  `internals`.) A response that keeps making progress is never cut: after its headers, the
  response timeout is an idle timeout (time without a byte of the body), and a page held for
  rewriting that is still coming when the timeout has passed is streamed on unrewritten.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from mitmproxy import http

from .internals import connection_task, fail_stream, watch_held_bodies
from ..printable import printable_logger

logger = printable_logger(__name__)

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


# --- timeouts -------------------------------------------------------------------------------------


class UpstreamWatch:
    """Upstream deadlines (enforced by cancelling connections) and what failed before a flow knew.

    Deadlines:

    - connect: from `server_connect` until the TCP connection is up;
    - TLS: from `server_connected` until the TLS handshake is done (same limit as connect);
    - response: from when the request could be sent (request complete and connection ready)
      until the response headers arrived (checked by a sweep every half second);
    A flow past its response deadline on an HTTP/2 upstream fails alone (`internals.fail_stream`:
    its stream is reset, the other streams on the connection go on); on HTTP/1 its connection,
    which carries only it, is cancelled (so is the HTTP/2 one if the stream did not fail).
    - held body (a page dejunk holds to rewrite it): idle, at most the response timeout between
      two chunks (`internals.watch_held_bodies` shows each chunk); a page still coming when the
      response timeout has passed since its headers is not held any longer but streamed on as
      it comes, unrewritten (`on_slow_page` says so); streamed bodies have no dejunk limit.
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
        # flow id -> (flow, phase, since, last progress): phase "response" waits for headers,
        # "body" for the rest of a held body
        self._waiting: dict[str, tuple[http.HTTPFlow, str, float, float]] = {}
        # Called when a held page is let go unrewritten (too slow); returns its stream function.
        self.on_slow_page: Callable[[http.HTTPFlow], Callable] = lambda flow: True
        # A held body that grows past `hold_limit` bytes (None: no limit here) is streamed on through
        # what `on_large_page` returns, before mitmproxy's own `stream_large_bodies` would stream it bare.
        self.hold_limit: int | None = None
        self.on_large_page: Callable[[http.HTTPFlow], Callable] = lambda flow: True
        # Asked on each chunk of a held body (`held` bytes so far): a stream function to let it go now, or None.
        self.on_held_chunk: Callable[[http.HTTPFlow, int], Callable | None] = lambda flow, held: None

    def watch_held_bodies(self, watch: bool) -> None:
        """Start (or stop) seeing the chunks of held bodies: see `held_body_progress`."""
        watch_held_bodies(self.held_body_progress if watch else None)

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
        task = connection_task(self._get_master(), client, server)
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
            now = time.time()
            self._waiting[flow.id] = (flow, "response", now, now)
            self._ensure_sweep()

    def response_headers(self, flow: http.HTTPFlow, buffered: bool) -> None:
        if buffered and flow.live:
            now = time.time()
            self._waiting[flow.id] = (flow, "body", now, now)
            self._ensure_sweep()
        else:
            self._waiting.pop(flow.id, None)

    def held_body_progress(self, flow: http.HTTPFlow, held: int = 0):
        """A chunk of a held body arrived (`held` bytes so far): note it; a stream function when the page is to be let go."""
        if self.hold_limit is not None and held > self.hold_limit:
            self._waiting.pop(flow.id, None)
            return self.on_large_page(flow)
        entry = self._waiting.get(flow.id)
        if entry is None or entry[1] != "body":
            return None
        stream = self.on_held_chunk(flow, held)
        if stream is not None:
            del self._waiting[flow.id]
            return stream
        now = time.time()
        if now - entry[2] < self.response_timeout:
            self._waiting[flow.id] = (flow, "body", entry[2], now)
            return None
        # Still coming after the response timeout: the client has waited long enough for a rewrite.
        del self._waiting[flow.id]
        return self.on_slow_page(flow)

    def flow_done(self, flow: http.HTTPFlow) -> None:
        self._waiting.pop(flow.id, None)

    def _ensure_sweep(self) -> None:
        if ("sweep",) not in self._timers:
            self._start(("sweep",), self.SWEEP_INTERVAL, self._sweep)

    def _sweep(self) -> None:
        now = time.time()
        for flow_id, (flow, phase, since, last) in list(self._waiting.items()):
            if flow.error is not None or not flow.live:
                del self._waiting[flow_id]
            elif phase == "response":
                self._check_response(flow, now)
            elif phase == "failing":
                if now - since >= self.STREAM_FAILURE_GRACE:
                    del self._waiting[flow_id]
                    logger.warning(f"dejunk: could not fail one HTTP/2 stream alone ({flow.request.pretty_url}): "
                                   "closing its upstream connection instead")
                    self._cancel_connection(flow, flow.metadata["dejunk"]["abort_reason"])
            elif flow.response is not None and (flow.response.timestamp_end is not None or flow.response.stream):
                del self._waiting[flow_id]  # complete, or streamed by mitmproxy (grew past the hold limit)
            elif now - last >= self.response_timeout:
                del self._waiting[flow_id]
                self._abort_flow(flow, f"no body bytes for {self.response_timeout} s")
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

    # How long a stream failed on its own may take to reach the `error` hook before its whole
    # connection is cancelled instead.
    STREAM_FAILURE_GRACE = 2.0

    def _abort_flow(self, flow: http.HTTPFlow, why: str) -> None:
        message = f"{ABORT_PREFIX} response_timeout: {why}"
        if flow.server_conn.alpn == b"h2" and fail_stream(self._get_master(), flow, message):
            # Other requests share this HTTP/2 connection: only this stream times out.
            self._mark_abort(flow, why)
            now = time.time()
            self._waiting[flow.id] = (flow, "failing", now, now)
            self._ensure_sweep()
            return
        self._cancel_connection(flow, why)

    def _cancel_connection(self, flow: http.HTTPFlow, why: str) -> None:
        task = connection_task(self._get_master(), flow.client_conn, flow.server_conn)
        if task is None or task.done():
            return
        self._mark_abort(flow, why)
        task.cancel(f"{ABORT_PREFIX} response_timeout: {why}")

    @staticmethod
    def _mark_abort(flow: http.HTTPFlow, why: str) -> None:
        flow.metadata.setdefault("dejunk", {})["abort"] = "response_timeout"
        flow.metadata["dejunk"]["abort_reason"] = why

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
