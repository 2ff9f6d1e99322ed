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
