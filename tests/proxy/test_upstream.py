"""Upstream failures sorted into dejunk's kinds, from the messages mitmproxy gives."""

from __future__ import annotations

import pytest

from filters.proxy.upstream import ABORT_PREFIX, classify_failure


@pytest.mark.parametrize(
    "message,kind",
    [
        ("[Errno -2] Name or service not known", "dns"),
        ("[Errno -3] Temporary failure in name resolution", "dns"),
        ("[Errno -5] No address associated with hostname", "dns"),
        ("[Errno 111] Connect call failed ('127.0.0.1', 9)", "refused"),
        ("Multiple exceptions: [Errno 111] Connect call failed ('::1', 9, 0, 0), [Errno 111] Connect call failed ('127.0.0.1', 9)", "refused"),
        ("[Errno 110] Connect call failed ('10.0.0.1', 80)", "connect_timeout"),
        ("Certificate verify failed: self-signed certificate", "tls"),
        ("The remote server does not speak TLS.", "tls"),
        ("HTTP/1 protocol error: peer closed connection without sending complete message body: received 100 bytes, expected 10000", "reset"),
        ("[Errno 104] Connection reset by peer", "reset"),
        ("server closed connection", "reset"),
        ("Cannot parse HTTP response: Bad HTTP response line: b'XX'", "protocol"),
        ("something nobody has seen before", "protocol"),
        (f"{ABORT_PREFIX} connect_timeout: no connection within 20 s", "connect_timeout"),
        (f"{ABORT_PREFIX} response_timeout: no response headers within 60 s", "response_timeout"),
    ],
)
def test_classify_failure(message, kind):
    assert classify_failure(message) == kind


def test_a_held_body_that_keeps_coming_is_let_go_after_the_timeout_not_cut(monkeypatch):
    from mitmproxy.test import tflow

    from filters.proxy import upstream

    now = [1000.0]
    monkeypatch.setattr(upstream.time, "time", lambda: now[0])
    watch = upstream.UpstreamWatch(lambda: None)
    watch.response_timeout = 3
    stream = object()
    watch.on_slow_page = lambda flow: stream
    f = tflow.tflow(resp=True)
    f.response.timestamp_end = None
    f.live = True
    watch.response_headers(f, buffered=True)
    aborted = []
    monkeypatch.setattr(watch, "_abort_flow", lambda flow, why: aborted.append(why))
    for _ in range(5):  # a chunk every 0.5 s: 2.5 s of progress, still within the timeout
        now[0] += 0.5
        assert watch.held_body_progress(f) is None
    now[0] += 2.9
    watch._sweep()  # 2.9 s since the last chunk: idle, but not for 3 s
    assert not aborted
    now[0] += 0.1
    assert watch.held_body_progress(f) is stream  # 5.5 s after the headers: streamed on, not held
    watch._sweep()
    assert not aborted and f.id not in watch._waiting
    watch.cancel_all()


def test_a_held_body_that_stops_coming_times_out(monkeypatch):
    from mitmproxy.test import tflow

    from filters.proxy import upstream

    now = [1000.0]
    monkeypatch.setattr(upstream.time, "time", lambda: now[0])
    watch = upstream.UpstreamWatch(lambda: None)
    watch.response_timeout = 3
    f = tflow.tflow(resp=True)
    f.response.timestamp_end = None
    f.live = True
    watch.response_headers(f, buffered=True)
    aborted = []
    monkeypatch.setattr(watch, "_abort_flow", lambda flow, why: aborted.append(why))
    now[0] += 1
    watch.held_body_progress(f)
    now[0] += 3
    watch._sweep()
    assert aborted == ["no body bytes for 3 s"]
    watch.cancel_all()
