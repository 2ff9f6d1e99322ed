"""The mitmproxy internals dejunk relies on, each on its real path under the installed mitmproxy.

End-to-end, through a real mitmdump: error pages in tests/e2e/test_failures.py (every failure
kind gets dejunk's page), upstream deadlines there too (a server that never answers gets a 504
in time), the body-size check in tests/e2e/test_load.py (large pages stream in bounded memory),
deferred options in tests/e2e/test_startup.py (a bad --set value stops the start).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from mitmproxy import connection, optmanager
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.http import HttpStream, ResponseData, ResponseProtocolError
from mitmproxy.proxy.server import ConnectionHandler
from mitmproxy.test import taddons, tflow, tutils

from filters.proxy import internals


def test_every_internal_has_the_expected_shape():
    assert internals.problems() == []


def test_a_changed_internal_is_reported_with_what_dejunk_loses(monkeypatch):
    monkeypatch.delattr(ConnectionHandler, "log")
    monkeypatch.delattr(ConnectionHandler, internals._ORIGINAL_LOG_ATTR, raising=False)
    [(name, problem, loss)] = internals.problems()
    assert name == "streaming notices" and "gone" in problem and "logging filter" in loss


def test_a_changed_signature_is_reported(monkeypatch):
    def check_body_size(self, request, extra):
        yield

    monkeypatch.setattr(HttpStream, "check_body_size", check_body_size)
    monkeypatch.delattr(HttpStream, internals._ORIGINAL_CHECK_ATTR, raising=False)
    found = {name: problem for name, problem, _ in internals.problems()}
    assert set(found) == {"body-size check", "held bodies"}  # the held-body watch rides on the same method
    assert "(request, extra)" in found["body-size check"]


# --- error pages ---------------------------------------------------------------------------------


def test_offer_needs_a_live_flow():
    internals.install_error_pages()
    flow = tflow.tflow()
    flow.live = False
    assert internals.offer_error_page(flow, flow.response) is False


def _codes():
    """(kill, connect failed): the codes mitmproxy's own paths put in a protocol error for the client."""
    try:
        from mitmproxy.proxy.layers.http import ErrorCode  # mitmproxy 12
    except ImportError:
        from mitmproxy.net.http import status_codes  # mitmproxy 11

        return status_codes.NO_RESPONSE, status_codes.BAD_GATEWAY
    return ErrorCode.KILL, ErrorCode.CONNECT_FAILED


def test_a_killed_flow_gets_no_page():
    kill, connect_failed = _codes()
    assert internals.sends_no_response(kill)
    assert not internals.sends_no_response(connect_failed)


@pytest.fixture
def options():
    """mitmproxy's options with the proxy server's (stream_large_bodies, body_size_limit, ...)."""
    with taddons.context(Proxyserver()) as tctx:
        yield tctx.options


def _stream(options) -> HttpStream:
    client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=0)
    stream = HttpStream(Context(client, options), stream_id=1)
    stream.flow = tflow.tflow()
    return stream


def _drive(generator):
    commands = []
    try:
        while True:
            commands.append(next(generator))
    except StopIteration as stop:
        return commands, stop.value


def test_the_offered_page_replaces_mitmproxys_error_response(options):
    internals.install_error_pages()
    stream = _stream(options)
    flow = stream.flow
    stream.client_state = stream.state_done
    stream.server_state = stream.state_wait_for_response_headers
    page = tutils.tresp(status_code=502, content=b"dejunk's page")
    assert internals.offer_error_page(flow, page)
    event = ResponseProtocolError(1, "Connection refused", _codes()[1])
    commands = []
    generator = stream.handle_protocol_error(event)
    command = next(generator)
    try:
        while True:
            commands.append(command)
            command = generator.send(None)  # mitmproxy answers the error hook; nothing else comes back
    except StopIteration:
        pass
    sent = [c.event for c in commands if type(c).__name__ == "SendHttp"]
    assert [type(e).__name__ for e in sent] == ["ResponseHeaders", "ResponseData", "ResponseEndOfMessage"]
    assert sent[0].response is page and sent[1].data == b"dejunk's page" and flow.response is page
    assert flow.error.msg == "Connection refused" and flow.id not in internals._offered_pages


# --- the body-size check -------------------------------------------------------------------------


@pytest.mark.parametrize("skip,buffered,checked", [
    (False, b"", True),   # dejunk not deciding: mitmproxy checks on the headers as usual
    (True, b"", False),   # response headers: dejunk's hook decides right after
    (True, b"x", True),   # a body being held: mitmproxy still streams it past the limit
])
def test_size_check_on_real_response_headers(options, skip, buffered, checked):
    internals.install_body_size_check()
    options.update(stream_large_bodies="1k")
    stream = _stream(options)
    stream.flow.response = tutils.tresp(content=b"")
    stream.flow.response.headers["content-length"] = "4096"
    stream.response_body_buf = bytearray(buffered * 4096)
    internals.skip_header_size_check(skip)
    try:
        _drive(stream.check_body_size(False))
    finally:
        internals.skip_header_size_check(False)
    assert bool(stream.flow.response.stream) is checked


def test_a_held_chunk_is_left_to_dejunks_watch_while_dejunk_decides(options):
    # dejunk's watch streams a held body past its hold limit, which is at most stream_large_bodies:
    # mitmproxy's own check on each chunk (it parses both size options again) would find nothing more.
    internals.install_body_size_check()
    options.update(stream_large_bodies="1k")
    stream = _stream(options)
    stream.flow.response = tutils.tresp(content=b"")
    stream.response_body_buf = bytearray(4096)
    seen = []
    internals.watch_held_bodies(lambda flow, held: seen.append(held))
    internals.skip_header_size_check(True)
    try:
        _drive(stream.check_body_size(False))
        assert seen == [4096] and not stream.flow.response.stream  # the watch said: hold on
        internals.skip_header_size_check(False)  # dejunk not deciding (a body_size_limit, flows kept)
        _drive(stream.check_body_size(False))
        assert seen == [4096, 4096] and stream.flow.response.stream  # mitmproxy checks as well
    finally:
        internals.skip_header_size_check(False)
        internals.watch_held_bodies(None)


def test_request_bodies_are_always_checked(options):
    internals.install_body_size_check()
    options.update(stream_large_bodies="1k")
    stream = _stream(options)
    stream.flow.request.headers["content-length"] = "4096"
    internals.skip_header_size_check(True)
    try:
        _drive(stream.check_body_size(True))
    finally:
        internals.skip_header_size_check(False)
    assert stream.flow.request.stream


def test_a_held_body_is_seen_growing_and_can_be_streamed_from_then_on(options):
    internals.install_body_size_check()
    stream = _stream(options)
    stream.flow.response = tutils.tresp(content=b"")
    stream.server_state = stream.state_consume_response_body
    seen = []
    passed = []

    def progress(flow, held):
        assert held == len(stream.response_body_buf)
        seen.append(held)
        return None if len(seen) < 2 else (lambda chunk: passed.append(chunk) or chunk)

    internals.watch_held_bodies(progress)
    try:
        _drive(stream.handle_event(ResponseData(1, b"first ")))
        assert seen == [6] and not stream.flow.response.stream  # still held
        commands, _ = _drive(stream.handle_event(ResponseData(1, b"second")))
        _drive(stream.handle_event(ResponseData(1, b" third")))
    finally:
        internals.watch_held_bodies(None)
    sent = [c.event for c in commands if type(c).__name__ == "SendHttp"]
    assert [type(e).__name__ for e in sent] == ["ResponseHeaders", "ResponseData"]
    assert sent[1].data == b"first second" and passed == [b"first second", b" third"]
    assert seen == [6, 12] and stream.server_state == stream.state_stream_response_body


# --- failing one stream --------------------------------------------------------------------------


def test_ordinary_events_reach_the_http_layer_without_a_frame_of_dejunks(options):
    # Every event and command of every HTTP connection passes the wrapper: it hands back mitmproxy's
    # own command generator instead of running it inside a generator of its own.
    import inspect
    from mitmproxy.proxy import events
    from mitmproxy.proxy.layers.http import HttpLayer, HTTPMode

    internals.install_stream_failures()
    assert not inspect.isgeneratorfunction(HttpLayer._handle_event)
    client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=0)
    layer = HttpLayer(Context(client, options), HTTPMode.regular)
    generator = layer._handle_event(events.Start())
    original = getattr(HttpLayer, internals._ORIGINAL_LAYER_ATTR)
    assert generator.gi_code is original.__code__
    generator.close()


def test_a_stream_failure_fails_its_stream_through_the_normal_error_path(options):
    from mitmproxy.proxy.layers.http import HttpLayer, HTTPMode

    internals.install_stream_failures()
    client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=0)
    layer = HttpLayer(Context(client, options), HTTPMode.regular)
    stream = _stream(options)
    stream.client_state = stream.state_done
    stream.server_state = stream.state_wait_for_response_headers
    other = _stream(options)
    layer.streams = {1: other, 3: stream}
    commands = list(layer.handle_event(internals.StreamFailure(stream.flow, "dejunk: response_timeout: test")))
    assert [type(c).__name__ for c in commands] == ["HttpErrorHook"]  # mitmproxy's error hook, then it waits
    assert stream.flow.error.msg == "dejunk: response_timeout: test" and other.flow.error is None
    # A flow no layer holds: nothing happens (the upstream watch then closes the connection).
    assert list(layer.handle_event(internals.StreamFailure(tflow.tflow(), "x"))) == []


@pytest.mark.parametrize("dropped", [False, True])
def test_the_body_of_a_request_dejunk_answered_is_dropped_not_streamed(options, dropped):
    # mitmproxy would stream a body past stream_large_bodies, and cannot while a response is set.
    internals.install_body_size_check()
    options.update(stream_large_bodies="1k")
    stream = _stream(options)
    stream.flow.request.headers["content-length"] = "8192"
    if dropped:
        stream.flow.response = tutils.tresp()
        assert internals.drop_request_body(stream.flow)
        stream.request_body_buf += b"x" * 4096  # the first chunk of the body arrived
    _drive(stream.check_body_size(True))
    if dropped:
        assert not stream.flow.request.stream and len(stream.request_body_buf) == 0
    else:
        assert stream.flow.request.stream


def test_a_held_request_body_is_never_streamed_and_past_its_limit_is_dropped(options):
    internals.install_body_size_check()
    options.update(stream_large_bodies="1k")
    stream = _stream(options)
    assert internals.hold_request_body(stream.flow, 4096)
    stream.request_body_buf += b"x" * 2048  # past stream_large_bodies, within the hold's limit
    _drive(stream.check_body_size(True))
    assert not stream.flow.request.stream and len(stream.request_body_buf) == 2048
    assert not internals.request_body_too_large(stream.flow)
    stream.request_body_buf += b"x" * 4096
    _drive(stream.check_body_size(True))
    assert not stream.flow.request.stream and len(stream.request_body_buf) == 0
    assert internals.request_body_too_large(stream.flow)
    stream.request_body_buf += b"x" * 4096  # the rest is read and dropped
    _drive(stream.check_body_size(True))
    assert len(stream.request_body_buf) == 0


def test_an_answered_connect_skipping_the_eager_connection_is_checked_in_the_source(monkeypatch):
    def handle_connect_regular(self):
        yield  # opens the connection whatever the hook did

    monkeypatch.setattr(HttpStream, "handle_connect_regular", handle_connect_regular)
    found = {name: problem for name, problem, _ in internals.problems()}
    assert set(found) == {"answered CONNECT"} and "eager" in found["answered CONNECT"]


# --- the streaming notice ------------------------------------------------------------------------


def test_streaming_notice_is_dropped_before_a_log_record_is_made(caplog):
    assert internals.quiet_streaming_notices()
    assert internals.quiet_streaming_notices()  # a script reload installs it again: still one wrapper
    handler_class = type("Handler", (ConnectionHandler,), {"handle_hook": lambda self, hook: None})
    handler = handler_class.__new__(handler_class)  # no connection: `log` reads only `client`
    handler.client = SimpleNamespace(peername=("127.0.0.1", 5000))
    with caplog.at_level(logging.INFO, logger="mitmproxy.proxy.server"):
        handler.log("Streaming response from news.test.")
        handler.log("client connect")
        handler.log("Streaming request to upload.test.")  # not dejunk's doing: kept
    assert [r.getMessage() for r in caplog.records] == ["client connect", "Streaming request to upload.test."]


# --- the upstream connection's task --------------------------------------------------------------


def test_connection_task_is_found_where_the_proxy_server_keeps_it():
    task = object()
    server = connection.Server(address=("a.test", 80))
    client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=0)
    handler = SimpleNamespace(transports={server: SimpleNamespace(handler=task)})
    master = SimpleNamespace(addons=SimpleNamespace(get=lambda name: SimpleNamespace(connections={client.id: handler})))
    assert internals.connection_task(master, client, server) is task
    assert internals.connection_task(None, client, server) is None


# --- deferred options ----------------------------------------------------------------------------


def test_deferred_values_are_taken_as_mitmproxy_keeps_them():
    options = optmanager.OptManager()
    options.set("dejunk_x=abc", "dejunk_x=def", "other_y=1", defer=True)
    options.add_option("dejunk_x", int, 1, "")
    options.add_option("other_y", int, 1, "")
    assert internals.take_deferred(options, "dejunk_") == {"dejunk_x": (["abc", "def"], True)}
    assert "dejunk_x" not in options.deferred and "other_y" in options.deferred


# --- hook look-ups on the script's module --------------------------------------------------------


class _Recorder:
    def __init__(self):
        self.calls = []

    def request(self, flow):
        self.calls.append(("request", flow))

    def done(self):
        self.calls.append(("done", None))


def _script_module(**names):
    module = ModuleType("a_script")
    module.addons = [_Recorder()]
    vars(module).update(names)
    return module


def test_a_module_given_its_hook_names_is_walked_as_before(caplog):
    from mitmproxy import hooks
    from mitmproxy.proxy.layers.http import HttpRequestHook, HttpResponseHook

    def response(flow):  # a hook the module defines itself is kept
        calls.append(("module response", flow))

    calls = []
    module = _script_module(response=response)
    given = internals.skip_module_hook_lookups(vars(module))
    assert {"request", "requestheaders", "update", "done", "load"} <= set(given)
    assert "response" not in given and module.response is response
    assert "add_log" not in given and not hasattr(module, "add_log")  # mitmproxy warns about a module with one
    assert set(given) | {"response", "add_log"} >= set(hooks.all_hooks)
    with caplog.at_level(logging.WARNING), taddons.context() as tctx:
        tctx.master.addons.register(module)
        f = tflow.tflow(resp=True)
        tctx.master.addons.invoke_addon_sync(module, HttpRequestHook(f))
        tctx.master.addons.invoke_addon_sync(module, HttpResponseHook(f))
        tctx.master.addons.invoke_addon_sync(module, hooks.UpdateHook([f]))
    assert module.addons[0].calls == [("request", f)]
    assert calls == [("module response", f)]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_hook_names_are_not_given_where_mitmproxy_would_call_them(monkeypatch):
    from mitmproxy import addonmanager

    def iter_hooks(self, addon, event):  # a mitmproxy that no longer skips a None
        for a in addonmanager.traverse([addon]):
            if hasattr(a, event.name):
                yield a, getattr(a, event.name)

    monkeypatch.setattr(addonmanager.AddonManager, "_iter_hooks", iter_hooks)
    module = _script_module()
    assert internals.skip_module_hook_lookups(vars(module)) == []
    assert not hasattr(module, "request")
    [(name, problem, loss)] = internals.problems()
    assert name == "hook look-ups" and "calls a hook set to None" in problem and "3.11" in loss


def test_the_floor_addon_of_the_proxy_bench_is_shaped_like_dejunk():
    from mitmproxy.addons.script import load_script

    module = load_script(str(Path(__file__).resolve().parents[2] / "scripts" / "bench_empty_addon.py"))
    assert module.requestheaders is None and module.update is None
    assert [type(a).__name__ for a in module.addons] == ["EmptyHooks"]
