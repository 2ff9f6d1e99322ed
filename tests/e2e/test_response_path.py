"""Every response stays a valid response, progress is never cut, and client aborts are no upstream failures.

Through a real mitmdump (the proxy fixture: dejunk_connect_timeout=2, dejunk_response_timeout=3).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from filters.proxy.pages import TRANSPARENT_GIF

from .harness import fetch
from .origin import PAGE

RESPONSE_TIMEOUT = 3
SLACK = 2
CLIENTS = [
    pytest.param("http", False, id="http1"),
    pytest.param("https", True, id="https-http2"),
]


def unique(path: str) -> str:
    """`path` with a query no other test uses, so that its events are told apart."""
    return f"{path}?t={uuid.uuid4().hex[:12]}"


def events_for(proxy, path: str, event: str) -> list[dict]:
    return [e for e in proxy.events() if e["event"] == event and e.get("url", "").endswith(path)]


# --- client aborts --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme,http2", CLIENTS)
@pytest.mark.parametrize("what", ["trickle-body.bin", "trickle-body.html"], ids=["streamed", "held-page"])
def test_a_client_that_leaves_mid_response_is_a_client_abort(proxy, origin, tls_origin, scheme, http2, what):
    server = tls_origin if scheme == "https" else origin
    path = unique(f"/{what}")
    result = fetch(proxy, f"{scheme}://site.test:{server.port}{path}", http2=http2, max_time=1.5)
    assert result.exit_code == 28  # curl gave up (timeout): the client left mid-response
    event = proxy.wait_for_event(lambda e: e["event"] == "client_abort" and e["url"].endswith(path))
    assert event["host"] == "site.test" and event["message"]
    time.sleep(0.5)  # an upstream_error would be recorded by now
    assert not events_for(proxy, path, "upstream_error"), proxy.events()[-5:]


# --- replaced images ------------------------------------------------------------------------------


@pytest.mark.parametrize("path,method,status", [
    ("/empty.png", "GET", 200),
    ("/photo.png", "HEAD", 200),
    ("/no-content.png", "GET", 204),
    ("/not-modified.png", "GET", 304),
])
@pytest.mark.parametrize("scheme,http2", CLIENTS)
def test_a_replaced_image_is_a_complete_response(proxy, origin, tls_origin, scheme, http2, path, method, status):
    server = tls_origin if scheme == "https" else origin
    extra = ["--head"] if method == "HEAD" else []
    result = fetch(proxy, f"{scheme}://noimages.test:{server.port}{path}", http2=http2, max_time=5, extra=extra)
    assert result.exit_code == 0, (result.exit_code, result.seconds)  # curl got the whole response
    assert result.seconds < 3
    assert result.status == status
    if status == 200 and method == "GET":
        assert result.body == TRANSPARENT_GIF
        assert result.headers["content-type"] == "image/gif"
        assert result.headers["content-length"] == str(len(TRANSPARENT_GIF))
    else:
        # HEAD, 204, 304: no body; a HEAD says what a GET would get
        assert result.body == b"" or method == "HEAD"
        if method == "HEAD":
            assert result.headers["content-length"] == str(len(TRANSPARENT_GIF))
        else:
            assert "content-length" not in result.headers or result.headers["content-length"] == "0"


# --- partial content -------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme,http2", CLIENTS)
def test_a_partial_page_passes_byte_identical(proxy, origin, tls_origin, scheme, http2):
    server = tls_origin if scheme == "https" else origin
    page = PAGE.replace(b"{port}", str(server.port).encode())
    result = fetch(proxy, f"{scheme}://site.test:{server.port}/partial.html", http2=http2,
                   headers={"Range": "bytes=0-", "Sec-Fetch-Dest": "document"})
    assert result.status == 206
    assert result.body == page[: len(page) - 20]  # the ad slot is still there: nothing was cut
    assert result.headers["content-range"] == f"bytes 0-{len(page) - 21}/{len(page)}"
    assert b'class="ad-slot"' in result.body


# --- progress is not a timeout -------------------------------------------------------------------


def test_a_page_that_keeps_coming_is_delivered_whole_and_unrewritten(proxy, origin):
    # 20 pieces over 5 s: never 3 s without a byte, but longer than the 3 s a page is held for.
    path = unique("/slow-page.html")
    page = PAGE.replace(b"{port}", str(origin.port).encode())
    result = fetch(proxy, f"http://site.test:{origin.port}{path}&seconds=5", max_time=15)
    assert result.exit_code == 0 and result.status == 200
    assert result.body == page  # as it came: the ad slot stays, nothing is lost
    assert RESPONSE_TIMEOUT - 0.5 <= result.first_byte_seconds <= RESPONSE_TIMEOUT + SLACK
    event = proxy.wait_for_event(lambda e: e["event"] == "not_rewritten" and e["url"].endswith(path + "&seconds=5"))
    assert "3 s" in event["reason"]
    assert not events_for(proxy, path + "&seconds=5", "upstream_error")


def test_a_page_that_arrives_in_time_is_still_rewritten(proxy, origin):
    path = unique("/slow-page.html")
    result = fetch(proxy, f"http://site.test:{origin.port}{path}&seconds=1", max_time=15)
    assert result.status == 200 and b"The article text" in result.body and b"ad-slot" not in result.body


def test_a_large_page_streamed_slowly_is_not_cut(proxy, origin):
    # Past the hold limit (5 MiB) at once, so mitmproxy streams it; the rest keeps coming for 5 s.
    path = unique("/slow-page.html")
    result = fetch(proxy, f"http://site.test:{origin.port}{path}&kb=6144&fast_kb=5200&seconds=5", max_time=20)
    assert result.exit_code == 0 and result.status == 200
    assert len(result.body) == 6144 * 1024 + 15 and result.body.endswith(b"</body></html>\n")
    assert not events_for(proxy, path + "&kb=6144&fast_kb=5200&seconds=5", "upstream_error")



# --- HTTP/2 upstream: a stream times out alone ------------------------------------------------------


def test_one_stream_timing_out_leaves_its_siblings_on_the_connection_alone(proxy, h2_origin, workdir):
    # Two streams on one HTTP/2 connection to the upstream: /never gets no answer (a 504 after the
    # response timeout); /slow.bin answers at once and keeps coming for 6 s, past that timeout.
    base = f"https://site.test:{h2_origin.port}"
    never, slow = unique("/never"), unique("/slow.bin")
    outputs = {path: workdir / f"parallel-{index}" for index, path in enumerate((never, slow))}
    args = ["curl", "-s", "--http2", "--parallel", "--proxy", proxy.url, "--cacert", str(proxy.ca_cert),
            "--noproxy", "", "--max-time", "20", "-w", "%{url_effective} %{http_code} %{exitcode}\\n"]
    for path, output in outputs.items():
        args += [f"{base}{path}", "-o", str(output)]
    done = subprocess.run(args, capture_output=True, timeout=30, env={**os.environ, "NO_PROXY": ""})
    results = {line.split()[0][len(base):]: line.split()[1:] for line in done.stdout.decode().splitlines()}
    connections = {number for number, path in h2_origin.seen if path in (never, slow)}
    assert len(connections) == 1, h2_origin.seen  # both streams went over the same upstream connection
    assert results[never] == ["504", "0"]
    assert results[slow] == ["200", "0"], results  # the sibling was not cut
    assert outputs[slow].read_bytes() == b"s" * 100 * h2_origin.STEPS
    event = proxy.wait_for_event(lambda e: e["event"] == "upstream_error" and e["url"].endswith(never))
    assert event["kind"] == "response_timeout"
    assert not events_for(proxy, slow, "upstream_error")
    deadline = time.monotonic() + 2
    while never not in [path for _, path in h2_origin.reset] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [path for _, path in h2_origin.reset] == [never]  # the upstream was told to stop that stream


def test_a_lone_stream_on_an_http2_upstream_times_out(proxy, h2_origin):
    # (mitmproxy offers the upstream the client's ALPN: only an HTTP/2 client reaches an h2-only origin)
    http2 = True
    path = unique("/never")
    result = fetch(proxy, f"https://site.test:{h2_origin.port}{path}", http2=http2, max_time=15)
    assert result.status == 504 and result.headers["x-dejunk"] == "upstream response_timeout"
    assert RESPONSE_TIMEOUT - 0.5 <= result.seconds <= RESPONSE_TIMEOUT + SLACK
    after = fetch(proxy, f"https://site.test:{h2_origin.port}/quick", http2=http2, max_time=5)
    assert after.status == 200 and after.body == b"quick"
