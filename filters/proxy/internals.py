"""Every mitmproxy internal dejunk relies on, in one place, for the lack of a public API.

Checked against mitmproxy 11.0.2 and 12.x. `problems()` checks the shape of each one (startup
logs what is missing and what dejunk loses then); each has a test on the real path in
tests/proxy/test_internals.py and an end-to-end test through a real mitmdump.

1. `proxy.layers.http.HttpStream.handle_protocol_error(event)`, a command generator: wrapped by
   `install_error_pages` so that a page offered from the `error` hook (`offer_error_page`) is
   sent instead of mitmproxy's own 502 page (mitmproxy ignores a response set in that hook).
   Relies on: the stream's `flow`, `stream_id`, `context.client`, `client_state`,
   `server_state`, `state_done`, `state_stream_response_body`; the commands `SendHttp(event,
   connection)`, `ResponseHeaders(stream_id, response, end_stream)`, `ResponseData(stream_id,
   data)`, `ResponseEndOfMessage(stream_id)`; `ResponseProtocolError.code` telling whether a
   response is to be sent at all (11: the status 444 `NO_RESPONSE` means none; 12: an
   `ErrorCode` whose `http_status_code()` is None means none). Without it: mitmproxy's pages.
2. `HttpStream.check_body_size(request)`, a command generator returning a bool: wrapped by
   `install_body_size_check` to skip mitmproxy's `stream_large_bodies` check on response headers
   while dejunk's `responseheaders` hook makes that decision (reads `response_body_buf`), and on
   each chunk of a held body while `watch_held_bodies` sees it (it streams a body past dejunk's
   hold limit, never above `stream_large_bodies`); and
   for a request dejunk answered in `requestheaders` (`drop_request_body`), to read and drop its
   body instead of streaming it (mitmproxy cannot stream a body and send an addon's response:
   it raises) or holding it (clears `request_body_buf`). Without it: the check runs twice, a
   little slower, and a refused request with a body gets its connection closed, not dejunk's answer.
   The same wrapper feeds `watch_held_bodies`: it sees every chunk of a held response body and
   can switch that body to streaming as mitmproxy does for `stream_large_bodies` (relies on the
   stream's `flow`, `response_body_buf`, `stream_id`, `start_response_stream()`,
   `handle_event(ResponseData(stream_id, data))`). Without it: no progress is seen on a held
   page, which must then arrive whole within the response timeout after its headers.
3. `proxy.server.ConnectionHandler.log(message, level, exc_info)`: wrapped by
   `quiet_streaming_notices` to drop "Streaming response from HOST." before a log record is
   built. Without it: a logging filter drops the notice, a little slower.
4. `addons.proxyserver.Proxyserver.connections` (client id -> handler), the handler's
   `transports` (connection -> `ConnectionIO`) and `ConnectionIO.handler` (the asyncio task that
   opens and reads the upstream connection): `connection_task` finds the task that the upstream
   deadlines cancel (mitmproxy has no upstream connect or response timeout). Without it: no
   deadlines; a hanging upstream hangs its page until mitmproxy's idle timeout.
5. `OptManager.deferred` and its values for `--set` strings (objects whose `val` holds the
   strings): `take_deferred` checks dejunk's options given before the script declared them,
   which mitmproxy would otherwise parse later and, on a bad value, drop without a word.
6. `addons.proxyserver.Proxyserver.is_running`: `proxy_starting` tells a start (the listeners
   are not open yet, and dejunk may keep them closed) from a script reload in a running proxy.
   Without it: a start that fails prints mitmproxy's "listening" line before it stops.
7. `proxy.layers.http.HttpLayer._handle_event(event)`, a command generator: wrapped by
   `install_stream_failures` so that a `StreamFailure` (a `MessageInjected` that `fail_stream`
   hands to `Proxyserver.inject_event`) fails the one HTTP stream of its flow: the layer's
   `streams` (stream id -> `HttpStream`, whose `flow` is matched) and `connections` (connection
   -> the layer or the CONNECT stream for it), `event_to_child(child, event)`,
   `RequestProtocolError(stream_id, message, code)` sent to the upstream connection's layer
   (HTTP/2: resets that stream, CANCEL being 499 in 11 and `ErrorCode.CANCEL` in 12) and
   `ResponseProtocolError(stream_id, message, code)` to the stream (502 in 11,
   `ErrorCode.GENERIC_SERVER_ERROR` in 12; its normal error path: `error`
   hook, error page, stream dropped). Through a CONNECT tunnel the event goes to the tunnel's
   `HttpStream` once its `_handle_event` is `passthrough`, which hands it to its `child_layer`. (mitmproxy's
   own routing of injected messages does not reach HTTP/2 streams, and `flow.kill()` does not
   stop a flow in transit.) Without it: a response timeout on an HTTP/2 upstream cancels the
   whole connection, and with it the other streams on it.
8. `addonmanager.AddonManager._iter_hooks(addon, event)`: it walks a script's module as a node of
   the addon tree and skips an attribute that is None as it skips a missing one.
   `skip_module_hook_lookups` gives the module every hook name it lacks, as None (see there).
   Without it: about 1 µs more per event on Python 3.11, some 10 µs a request.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import http
from mitmproxy.proxy.events import MessageInjected

from ..printable import printable_logger

logger = printable_logger(__name__)


# --- wrapping methods ------------------------------------------------------------------------------


def _wrap_once(cls, name: str, original_attr: str, wrapper) -> bool:
    """Put `wrapper` in place of `cls.name`, keeping the original as `cls.original_attr`.

    Idempotent across script reloads: the original is kept once, but the wrapper is rebound
    every time, so it is the newest module's (whose state the reloaded addon uses). False when
    `cls` has no such method: nothing is changed then.
    """
    if not hasattr(cls, original_attr):
        original = getattr(cls, name, None)
        if not callable(original):
            return False
        setattr(cls, original_attr, original)
    setattr(cls, name, wrapper)
    return True


def _unwrap(cls, name: str, original_attr: str) -> None:
    """Put the original method back (tests; dejunk itself keeps its wrappers installed)."""
    original = cls.__dict__.get(original_attr)
    if original is not None:
        setattr(cls, name, original)
        delattr(cls, original_attr)


def _http_stream():
    try:
        from mitmproxy.proxy.layers.http import HttpStream
    except ImportError:
        return None
    return HttpStream


# --- 1. error pages -------------------------------------------------------------------------------

_offered_pages: dict[str, http.Response] = {}
_ORIGINAL_ERROR_ATTR = "_dejunk_original_handle_protocol_error"


def error_pages_installed() -> bool:
    """Whether a page offered from the error hook will reach the client."""
    stream = _http_stream()
    return stream is not None and hasattr(stream, _ORIGINAL_ERROR_ATTR)


def install_error_pages() -> bool:
    """Wrap HttpStream.handle_protocol_error once (idempotent across script reloads)."""
    stream = _http_stream()
    return stream is not None and _wrap_once(stream, "handle_protocol_error", _ORIGINAL_ERROR_ATTR,
                                             _handle_protocol_error)


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

    original = getattr(type(self), _ORIGINAL_ERROR_ATTR)(self, event)
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


def sends_no_response(code) -> bool:
    """Whether a protocol error's code tells mitmproxy to send the client nothing (a kill, a close)."""
    http_status_code = getattr(code, "http_status_code", None)
    if callable(http_status_code):  # mitmproxy 12: an ErrorCode
        return http_status_code() is None
    from mitmproxy.net.http import status_codes  # mitmproxy 11: a status code, 444 meaning none

    return code == status_codes.NO_RESPONSE


def _page_commands(stream, command, event):
    from mitmproxy.proxy.layers.http import ResponseData, ResponseEndOfMessage, ResponseHeaders, SendHttp

    if not (isinstance(command, SendHttp) and command.event is event and command.connection is stream.context.client):
        return None
    page = _offered_pages.pop(stream.flow.id, None)
    if page is None or sends_no_response(event.code):
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


# --- 2. mitmproxy's body-size check on response headers -------------------------------------------

_ORIGINAL_CHECK_ATTR = "_dejunk_original_check_body_size"
_skip_header_size_check = False


def install_body_size_check() -> bool:
    """Wrap HttpStream.check_body_size once (idempotent across reloads); False if it is missing.

    With `stream_large_bodies` set, mitmproxy re-reads and re-parses a response's framing headers
    for its size as soon as they arrive, on every response: over 1% of its work per small
    request. While dejunk filters (see `skip_header_size_check`) its `responseheaders` hook makes
    that decision itself, right after, for every response: only pages it may rewrite, with a
    length up to the limit or not yet known, are held. So the check at the headers is skipped;
    so is mitmproxy's check on every chunk of a body being held while `watch_held_bodies` sees
    them: the watcher switches a body that grows past dejunk's hold limit (at most
    `stream_large_bodies`) to streaming itself. A `body_size_limit` keeps the whole check.
    """
    stream = _http_stream()
    return stream is not None and _wrap_once(stream, "check_body_size", _ORIGINAL_CHECK_ATTR, _check_body_size)


def skip_header_size_check(skip: bool) -> None:
    """Whether mitmproxy's size check on response headers (and held chunks, if watched) is left to dejunk (see above).

    Only while the hold limit given to the watcher is at most `stream_large_bodies`.
    """
    global _skip_header_size_check
    _skip_header_size_check = skip


def body_size_check_installed() -> bool:
    stream = _http_stream()
    return stream is not None and hasattr(stream, _ORIGINAL_CHECK_ATTR)


_DROP_BODY_ATTR = "_dejunk_drop_request_body"


def drop_request_body(flow: http.HTTPFlow) -> bool:
    """From `requestheaders`, for a flow dejunk has answered: its request body is read and dropped.

    Nothing of it is streamed upstream or held in memory, whatever its size; the client gets the
    answer once it has sent the body. False when that cannot be done (see `install_body_size_check`).
    """
    flow.request.stream = False  # mitmproxy may have chosen streaming on the headers already
    if not body_size_check_installed():
        return False
    setattr(flow, _DROP_BODY_ATTR, True)  # not part of the flow's saved state
    return True


_HOLD_BODY_ATTR = "_dejunk_hold_request_body"
_TOO_LARGE_ATTR = "_dejunk_request_body_too_large"


def hold_request_body(flow: http.HTTPFlow, limit: int) -> bool:
    """From `requestheaders`, for a request dejunk answers once its body is in: hold the body, never stream it.

    A body growing past `limit` bytes is dropped from there on (`request_body_too_large` says so).
    False when mitmproxy's own check stays (see `install_body_size_check`): then a body past
    `stream_large_bodies` would stream, and the caller must refuse what it cannot hold.
    """
    flow.request.stream = False  # mitmproxy may have chosen streaming on the headers already
    if not body_size_check_installed():
        return False
    setattr(flow, _HOLD_BODY_ATTR, limit)  # not part of the flow's saved state
    return True


def request_body_too_large(flow: http.HTTPFlow) -> bool:
    """Whether a body held by `hold_request_body` grew past its limit (and was dropped)."""
    return getattr(flow, _TOO_LARGE_ATTR, False)


def _check_body_size(self, request: bool):
    if request and getattr(self.flow, _DROP_BODY_ATTR, False):
        self.request_body_buf.clear()  # called on every chunk: the chunk just added goes
        return False
    if request and getattr(self.flow, _HOLD_BODY_ATTR, None) is not None:
        if len(self.request_body_buf) > getattr(self.flow, _HOLD_BODY_ATTR):
            self.request_body_buf.clear()
            setattr(self.flow, _TOO_LARGE_ATTR, True)
            setattr(self.flow, _HOLD_BODY_ATTR, None)
            setattr(self.flow, _DROP_BODY_ATTR, True)  # the rest is read and dropped
        return False
    if not request and self.response_body_buf and _held_body_progress is not None:
        # A chunk of a held response body just arrived (mitmproxy checks the size on each one).
        stream = _held_body_progress(self.flow, len(self.response_body_buf))
        if stream is not None:
            return (yield from _stream_from_now_on(self, stream))
        if _skip_header_size_check:
            return False  # the watch streams a body past dejunk's hold limit, at most stream_large_bodies
    if _skip_header_size_check and not request and not self.response_body_buf:
        return False
    return (yield from getattr(type(self), _ORIGINAL_CHECK_ATTR)(self, request))


# --- 2b. the progress of a held response body ------------------------------------------------------

_held_body_progress: Callable[[http.HTTPFlow, int], Callable | None] | None = None


def watch_held_bodies(progress: Callable[[http.HTTPFlow, int], Callable | None] | None) -> None:
    """Call `progress(flow, bytes held)` for every chunk of a response body mitmproxy holds (not streams).

    mitmproxy shows a held body to no one until it is complete; through the body-size check
    (wrapped by `install_body_size_check`, which runs on every held chunk) dejunk sees it grow.
    When `progress` returns a stream function, the body is streamed from then on, as mitmproxy
    streams one that grows past `stream_large_bodies`: the headers and what was held go to the
    client at once, the rest passes through that function. None stops watching.
    """
    global _held_body_progress
    _held_body_progress = progress


def _stream_from_now_on(stream_layer, stream):
    from mitmproxy.proxy.layers.http import ResponseData

    stream_layer.flow.response.stream = stream
    held = bytes(stream_layer.response_body_buf)
    stream_layer.response_body_buf.clear()
    yield from stream_layer.start_response_stream()
    yield from stream_layer.handle_event(ResponseData(stream_layer.stream_id, held))
    return False


# --- 3. the per-stream log notice -----------------------------------------------------------------

STREAMING_NOTICE = "Streaming response from "
_ORIGINAL_LOG_ATTR = "_dejunk_original_log"


class _StreamingNotices(logging.Filter):
    """Drops mitmproxy's per-stream "Streaming response from HOST." notice (fallback only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(STREAMING_NOTICE))


def _log_without_streaming_notices(self, message, *args, **kwargs):
    if type(message) is str and message.startswith(STREAMING_NOTICE):
        return None
    return getattr(type(self), _ORIGINAL_LOG_ATTR)(self, message, *args, **kwargs)


def _connection_handler():
    try:
        from mitmproxy.proxy.server import ConnectionHandler
    except ImportError:
        return None
    return ConnectionHandler


def quiet_streaming_notices() -> bool:
    """Drop mitmproxy's "Streaming response from HOST." notice: dejunk streams nearly every response.

    The notice is dropped where the connection handler logs it, before a log record is made: a
    logging filter would see it only after the record (caller lookup and all) had been built, a
    cost paid on every streamed request. Idempotent across script reloads; without that method a
    filter on the connection logger does the same, more slowly (returns False then).
    """
    handler = _connection_handler()
    if handler is not None and _wrap_once(handler, "log", _ORIGINAL_LOG_ATTR, _log_without_streaming_notices):
        return True
    server_logger = logging.getLogger("mitmproxy.proxy.server")
    if not any(type(f).__name__ == "_StreamingNotices" for f in server_logger.filters):
        server_logger.addFilter(_StreamingNotices())
    return False


# --- 4. the task behind an upstream connection ---------------------------------------------------


def connection_task(master, client, server):
    """The asyncio task mitmproxy runs for a server connection (open + read loop), if still alive."""
    proxyserver = master.addons.get("proxyserver") if master is not None else None
    connections = getattr(proxyserver, "connections", None)
    if connections is None:
        return None
    handler = connections.get(client.id)
    if handler is None:
        return None
    io = handler.transports.get(server)
    return getattr(io, "handler", None) if io is not None else None


def proxy_starting(master) -> bool:
    """Whether mitmproxy is starting: it has a proxy server that is not running yet."""
    proxyserver = master.addons.get("proxyserver") if master is not None else None
    return proxyserver is not None and getattr(proxyserver, "is_running", True) is False


# --- 7. failing one HTTP stream -------------------------------------------------------------------

_ORIGINAL_LAYER_ATTR = "_dejunk_original_handle_event"


@dataclass
class StreamFailure(MessageInjected):
    """Injected by `fail_stream`: the flow's HTTP stream fails with `message`, its connection stays."""


def _http_layer():
    try:
        from mitmproxy.proxy.layers.http import HttpLayer
    except ImportError:
        return None
    return HttpLayer


def install_stream_failures() -> bool:
    """Wrap HttpLayer._handle_event once (idempotent across reloads) to route `StreamFailure`s."""
    cls = _http_layer()
    return cls is not None and _wrap_once(cls, "_handle_event", _ORIGINAL_LAYER_ATTR, _http_layer_handle_event)


def stream_failures_installed() -> bool:
    cls = _http_layer()
    return cls is not None and hasattr(cls, _ORIGINAL_LAYER_ATTR)


def fail_stream(master, flow: http.HTTPFlow, message: str) -> bool:
    """Fail one HTTP stream as if its upstream had reset it; False if that cannot be tried.

    The stream gets a response protocol error (the `error` hook runs, the client gets the error
    page) and the upstream stream is reset (HTTP/2 CANCEL); the other streams on both
    connections go on. The event is delivered asynchronously: the caller checks later that the
    flow did fail, and cancels the connection if it did not.
    """
    proxyserver = master.addons.get("proxyserver") if master is not None else None
    if proxyserver is None or not stream_failures_installed() or not flow.live:
        return False
    try:
        proxyserver.inject_event(StreamFailure(flow, message))
    except ValueError:  # the client connection is gone
        return False
    return True


def _http_layer_handle_event(self, event):
    # A plain function handing back the command generator, not a generator itself: every event and
    # every command of every HTTP connection passes here, and a wrapping generator would add a
    # frame to each step of each (a few percent of the proxy's work on small requests).
    if type(event).__name__ == "StreamFailure" and isinstance(event, MessageInjected):
        # (by name: after a script reload, an event made by the previous module's class)
        return _fail_stream_in(self, event)
    return getattr(type(self), _ORIGINAL_LAYER_ATTR)(self, event)


def _fail_stream_in(layer, event):
    try:
        # Everything that could raise comes before the first command: an exception inside a
        # layer takes the whole client connection down ("mitmproxy has crashed!").
        steps = _stream_failure_steps(layer, event)
    except Exception:
        logger.exception("dejunk: cannot fail one HTTP stream; its connection will be closed instead")
        return
    for child, child_event in steps:
        yield from layer.event_to_child(child, child_event)


def _stream_failure_steps(layer, event) -> list[tuple[object, object]]:
    """(child, event) pairs that fail the flow's stream in this HttpLayer, or pass `event` on."""
    from mitmproxy.proxy.layers.http import HttpStream, RequestProtocolError, ResponseProtocolError

    flow = event.flow
    stream = next((s for s in list(layer.streams.values()) if getattr(s, "flow", None) is flow), None)
    if stream is None:
        # Not this layer's: a CONNECT tunnel holds the flow's upstream connection (HTTPS in
        # regular mode); its stream passes the event on to the layers inside the tunnel.
        tunnel = layer.connections.get(flow.server_conn)
        if isinstance(tunnel, HttpStream) and getattr(tunnel, "child_layer", None) is not None \
                and tunnel._handle_event == tunnel.passthrough:
            return [(tunnel, event)]
        return []
    cancel, server_error = _stream_error_codes()
    steps = []
    upstream = layer.connections.get(flow.server_conn)
    if upstream is not None and not isinstance(upstream, HttpStream):
        # Reset the upstream stream first, so that nothing more arrives for it.
        steps.append((upstream, RequestProtocolError(stream.stream_id, event.message, cancel)))
    steps.append((stream, ResponseProtocolError(stream.stream_id, event.message, server_error)))
    return steps


def _stream_error_codes():
    """(CANCEL for the upstream stream, a server error for the client): 12 has ErrorCodes, 11 status codes."""
    try:
        from mitmproxy.proxy.layers.http import ErrorCode
    except ImportError:
        from mitmproxy.net.http import status_codes

        return status_codes.CLIENT_CLOSED_REQUEST, status_codes.BAD_GATEWAY
    return ErrorCode.CANCEL, ErrorCode.GENERIC_SERVER_ERROR


# --- 5. option values given before dejunk declared its options ------------------------------------


def take_deferred(options, prefix: str) -> dict[str, tuple[object, bool]]:
    """Remove the deferred values of options named `prefix*` that are now declared.

    Returns name -> (value, whether it is a list of `--set` strings); values from config.yaml
    come already parsed.
    """
    taken: dict[str, tuple[object, bool]] = {}
    for name in [n for n in options.deferred if n.startswith(prefix) and n in options]:
        value = options.deferred.pop(name)
        strings = getattr(value, "val", None)
        taken[name] = (list(strings), True) if isinstance(strings, list) else (value, False)
    return taken


# --- 8. hook look-ups on the script's module ------------------------------------------------------

# mitmproxy warns about a module or addon that has these (hooks it renamed or deprecated).
_WARNED_HOOK_NAMES = frozenset({"add_log"})


def skip_module_hook_lookups(namespace: dict) -> list[str]:
    """Give a script's module every hook name it lacks, as None; returns the names given.

    mitmproxy looks each event's hook up on the script's module too (a node of the addon tree,
    above the addons it lists), on every event: a request has eight (four hooks, each followed by
    `update`). On Python 3.11 a name a module lacks raises an AttributeError, message and all,
    each time: about 1 µs, some 10 µs a request, near 1 % of what mitmproxy itself spends on a
    small one. A None is skipped as a missing name is, at the cost of a dictionary look-up.
    Nothing is given when mitmproxy would not skip it (see `_module_lookup_shape`).
    """
    import mitmproxy.proxy.layers  # noqa: F401  (defines the per-flow hooks, as the proxy server has)
    import mitmproxy.proxy.server_hooks  # noqa: F401
    from mitmproxy import hooks

    if _module_lookup_shape() is not None:
        return []
    given = [name for name in hooks.all_hooks if name not in namespace and name not in _WARNED_HOOK_NAMES]
    for name in given:
        namespace[name] = None
    return given


# --- the shape check ------------------------------------------------------------------------------


def _generator_method(cls, name: str, params: tuple[str, ...], original_attr: str) -> str | None:
    if cls is None:
        return "mitmproxy.proxy.layers.http.HttpStream is gone"
    method = cls.__dict__.get(original_attr) or getattr(cls, name, None)
    if method is None:
        return f"HttpStream.{name} is gone"
    if not inspect.isgeneratorfunction(method):
        return f"HttpStream.{name} is no longer a command generator"
    found = tuple(inspect.signature(method).parameters)[1:]
    if found != params:
        return f"HttpStream.{name} now takes ({', '.join(found)}), not ({', '.join(params)})"
    return None


def _error_page_shape() -> str | None:
    cls = _http_stream()
    problem = _generator_method(cls, "handle_protocol_error", ("event",), _ORIGINAL_ERROR_ATTR)
    if problem:
        return problem
    missing = [n for n in ("state_done", "state_stream_response_body") if not hasattr(cls, n)]
    missing += _missing_http_names("ResponseData", "ResponseEndOfMessage", "ResponseHeaders",
                                   "ResponseProtocolError", "SendHttp")
    return f"HttpStream error handling changed: {', '.join(missing)} missing" if missing else None


def _proxyserver():
    from mitmproxy.addons.proxyserver import Proxyserver

    return Proxyserver


def _connection_task_shape() -> str | None:
    handler = _connection_handler()
    if handler is None:
        return "mitmproxy.proxy.server.ConnectionHandler is gone"
    try:
        from mitmproxy.addons.proxyserver import Proxyserver
        from mitmproxy.proxy.server import ConnectionIO
    except ImportError as e:
        return f"proxy server internals changed: {e}"
    for cls, attribute in ((Proxyserver, "connections"), (handler, "transports"), (ConnectionIO, "handler")):
        if attribute not in inspect.get_annotations(cls):
            return f"{cls.__name__}.{attribute} is gone"
    return None


def _log_shape() -> str | None:
    handler = _connection_handler()
    method = handler and (handler.__dict__.get(_ORIGINAL_LOG_ATTR) or getattr(handler, "log", None))
    if method is None:
        return "ConnectionHandler.log is gone"
    if tuple(inspect.signature(method).parameters)[:3] != ("self", "message", "level"):
        return "ConnectionHandler.log takes other arguments"
    return None


def _body_size_shape() -> str | None:
    cls = _http_stream()
    problem = _generator_method(cls, "check_body_size", ("request",), _ORIGINAL_CHECK_ATTR)
    if problem:
        return problem
    missing = [n for n in ("request_body_buf", "response_body_buf", "flow") if n not in inspect.get_annotations(cls)]
    return f"HttpStream.{', '.join(missing)} gone" if missing else None


def _deferred_shape() -> str | None:
    from mitmproxy import optmanager

    options = optmanager.OptManager()
    if not isinstance(getattr(options, "deferred", None), dict):
        return "OptManager.deferred is gone"
    options.set("dejunk_probe=1", defer=True)
    if getattr(options.deferred.get("dejunk_probe"), "val", None) != ["1"]:
        return "deferred --set values are kept in another form"
    return None


def _held_bodies_shape() -> str | None:
    cls = _http_stream()
    problem = _generator_method(cls, "check_body_size", ("request",), _ORIGINAL_CHECK_ATTR)
    if problem:
        return problem
    if not inspect.isgeneratorfunction(getattr(cls, "start_response_stream", None)):
        return "HttpStream.start_response_stream is gone"
    if "response_body_buf" not in inspect.get_annotations(cls):
        return "HttpStream.response_body_buf is gone"
    missing = _missing_http_names("ResponseData")
    return f"HTTP events changed: {', '.join(missing)} missing" if missing else None


def _missing_http_names(*names: str) -> list[str]:
    """Which of `names` mitmproxy.proxy.layers.http no longer has."""
    import mitmproxy.proxy.layers.http as http_layers

    return [name for name in names if not hasattr(http_layers, name)]


def _stream_failure_shape() -> str | None:
    cls = _http_layer()
    if cls is None:
        return "mitmproxy.proxy.layers.http.HttpLayer is gone"
    method = cls.__dict__.get(_ORIGINAL_LAYER_ATTR) or getattr(cls, "_handle_event", None)
    if method is None or not inspect.isgeneratorfunction(method):
        return "HttpLayer._handle_event is no longer a command generator"
    for attribute in ("streams", "connections"):
        if attribute not in inspect.get_annotations(cls):
            return f"HttpLayer.{attribute} is gone"
    if not callable(getattr(cls, "event_to_child", None)):
        return "HttpLayer.event_to_child is gone"
    stream = _http_stream()
    if stream is None or not callable(getattr(stream, "passthrough", None)):
        return "HttpStream.passthrough is gone"
    missing = _missing_http_names("RequestProtocolError", "ResponseProtocolError")
    if missing:
        return f"HTTP events changed: {', '.join(missing)} missing"
    if not callable(getattr(_proxyserver(), "inject_event", None)):
        return "Proxyserver.inject_event is gone"
    return None


def _connect_answer_shape() -> str | None:
    cls = _http_stream()
    method = getattr(cls, "handle_connect_regular", None) if cls is not None else None
    if method is None:
        return "HttpStream.handle_connect_regular is gone"
    try:
        source = inspect.getsource(method)
    except (OSError, TypeError) as e:
        return f"the source of HttpStream.handle_connect_regular cannot be read ({e})"
    if "not self.flow.response" not in source or "connection_strategy" not in source:
        return "HttpStream.handle_connect_regular no longer skips the eager connection for an answered CONNECT"
    return None


def _module_lookup_shape() -> str | None:
    from types import SimpleNamespace

    from mitmproxy import addonmanager, hooks

    # `_iter_hooks` uses nothing of the manager itself: asked on a stand-in node with the hook set to None.
    node = SimpleNamespace(addons=[SimpleNamespace(done=None)], done=None)
    try:
        found = list(addonmanager.AddonManager._iter_hooks(None, node, hooks.DoneHook()))
    except Exception as e:
        return f"AddonManager._iter_hooks fails on a hook set to None ({type(e).__name__}: {e})"
    return f"AddonManager._iter_hooks calls a hook set to None ({found})" if found else None


# (what dejunk loses without it, shape check)
INTERNALS: dict[str, tuple[str, Callable[[], str | None]]] = {
    "error pages": ("mitmproxy's own error pages are shown instead of dejunk's", _error_page_shape),
    "body-size check": ("mitmproxy checks response sizes twice (slower); a refused request with a body has its "
                        "connection closed instead of getting dejunk's answer", _body_size_shape),
    "held bodies": ("a page held to be rewritten must arrive whole within the response timeout, even while "
                    "it keeps coming (it is cut then, not delivered unrewritten)", _held_bodies_shape),
    "streaming notices": ("the streaming notice is dropped by a slower logging filter", _log_shape),
    "upstream deadlines": ("no upstream connect or response timeouts: a hanging server hangs its page",
                           _connection_task_shape),
    "stream failures": ("a response timeout on an HTTP/2 upstream closes the whole connection, failing "
                        "the other requests on it too", _stream_failure_shape),
    "deferred options": ("a bad dejunk option given before the script loads is not caught at startup",
                         _deferred_shape),
    "answered CONNECT": ("with connection_strategy=eager, https:// on the dashboard's name gets mitmproxy's 502 "
                         "(nothing is looked up or connected)", _connect_answer_shape),
    "hook look-ups": ("about 1 µs more per event on Python 3.11 (some 10 µs a request)", _module_lookup_shape),
    "proxy server state": ("a start that fails prints mitmproxy's listening line before it stops",
                           lambda: None if "is_running" in inspect.get_annotations(_proxyserver()) else
                           "Proxyserver.is_running is gone"),
}


def problems() -> list[tuple[str, str, str]]:
    """(internal, what changed, what dejunk loses) for each internal that is not as expected."""
    found = []
    for name, (loss, check) in INTERNALS.items():
        try:
            problem = check()
        except Exception as e:  # a check that breaks is itself a change of shape
            problem = f"{type(e).__name__}: {e}"
        if problem:
            found.append((name, problem, loss))
    return found
