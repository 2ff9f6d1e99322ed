"""Every kind of upstream failure ends in a clear answer, within the configured timeouts plus 2 s.

The proxy fixture runs with dejunk_connect_timeout=2 and dejunk_response_timeout=3.
"""

from __future__ import annotations

import socket
import threading

import pytest

from .harness import Proxy, fetch

CONNECT_TIMEOUT = 2
RESPONSE_TIMEOUT = 3
SLACK = 2

CLIENTS = [
    pytest.param("http", False, id="http1"),
    pytest.param("https", False, id="https-http1"),
    pytest.param("https", True, id="https-http2"),
]


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def assert_error_page(result, status: int, kind: str, host: str, port: int):
    assert result.status == status, (result.status, result.text()[:500])
    page = result.text()
    assert f"{host}:{port}" in page, page
    assert f"<dd class=\"url\">{kind}</dd>" in page
    assert result.headers["x-dejunk"] == f"upstream {kind}"


def upstream_event(proxy, host: str, port: int, kind: str, path: str | None = None) -> dict:
    return proxy.wait_for_event(
        lambda e: e["event"] == "upstream_error" and e["host"] == host and e["port"] == port and e["kind"] == kind
        and (path is None or e["url"].endswith(path))
    )


@pytest.mark.parametrize("scheme,http2", CLIENTS)
def test_name_not_found(proxy, scheme, http2):
    port = 443 if scheme == "https" else 80
    result = fetch(proxy, f"{scheme}://nowhere.invalid/", http2=http2)
    assert_error_page(result, 502, "dns", "nowhere.invalid", port)
    assert "could not be resolved" in result.text()
    assert result.seconds <= CONNECT_TIMEOUT + SLACK
    upstream_event(proxy, "nowhere.invalid", port, "dns")


@pytest.mark.parametrize("scheme,http2", CLIENTS)
def test_connection_refused(proxy, scheme, http2):
    port = closed_port()
    result = fetch(proxy, f"{scheme}://site.test:{port}/", http2=http2)
    assert_error_page(result, 502, "refused", "site.test", port)
    assert result.seconds <= CONNECT_TIMEOUT + SLACK
    upstream_event(proxy, "site.test", port, "refused")


@pytest.mark.parametrize("scheme,http2", CLIENTS)
def test_connect_timeout(proxy, backlogged, scheme, http2):
    result = fetch(proxy, f"{scheme}://site.test:{backlogged.port}/", http2=http2)
    assert_error_page(result, 504, "connect_timeout", "site.test", backlogged.port)
    assert CONNECT_TIMEOUT - 0.5 <= result.seconds <= CONNECT_TIMEOUT + SLACK
    upstream_event(proxy, "site.test", backlogged.port, "connect_timeout")


@pytest.mark.parametrize("http2", [False, True], ids=["https-http1", "https-http2"])
def test_tls_handshake_that_never_finishes(proxy, silent, http2):
    result = fetch(proxy, f"https://site.test:{silent.port}/", http2=http2)
    assert_error_page(result, 504, "connect_timeout", "site.test", silent.port)
    assert "TLS handshake not done" in result.text()
    assert CONNECT_TIMEOUT - 0.5 <= result.seconds <= CONNECT_TIMEOUT + SLACK
    upstream_event(proxy, "site.test", silent.port, "connect_timeout")


@pytest.mark.parametrize("scheme,http2", CLIENTS)
def test_upstream_accepts_and_never_answers(proxy, origin, tls_origin, scheme, http2):
    server = tls_origin if scheme == "https" else origin
    result = fetch(proxy, f"{scheme}://site.test:{server.port}/hang", http2=http2)
    assert_error_page(result, 504, "response_timeout", "site.test", server.port)
    assert RESPONSE_TIMEOUT - 0.5 <= result.seconds <= RESPONSE_TIMEOUT + SLACK
    upstream_event(proxy, "site.test", server.port, "response_timeout")


def test_headers_trickling_one_byte_a_second(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/trickle-headers")
    assert_error_page(result, 504, "response_timeout", "site.test", origin.port)
    assert result.seconds <= RESPONSE_TIMEOUT + SLACK
    upstream_event(proxy, "site.test", origin.port, "response_timeout", "/trickle-headers")


def test_page_body_trickling_one_byte_a_second(proxy, origin):
    # A page is held (to be rewritten), but one that keeps coming is never cut: once the response
    # timeout has passed it goes on unrewritten, as it comes.
    result = fetch(proxy, f"http://site.test:{origin.port}/trickle-body.html", max_time=RESPONSE_TIMEOUT + SLACK + 1)
    assert result.status == 200
    assert RESPONSE_TIMEOUT - 0.5 <= result.first_byte_seconds <= RESPONSE_TIMEOUT + SLACK
    assert 3 <= len(result.body) < 40 and set(result.body) == {ord("x")}


def test_page_body_that_stops_coming(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/stall-body.html")
    assert_error_page(result, 504, "response_timeout", "site.test", origin.port)
    assert RESPONSE_TIMEOUT - 0.5 <= result.seconds <= RESPONSE_TIMEOUT + SLACK
    event = upstream_event(proxy, "site.test", origin.port, "response_timeout", "/stall-body.html")
    assert "no body bytes" in event["message"]


def test_download_trickling_is_streamed_not_held(proxy, origin):
    # Non-page bodies stream: the client gets the headers and the first bytes at once.
    result = fetch(proxy, f"http://site.test:{origin.port}/trickle-body.bin", max_time=4)
    assert result.status == 200
    assert result.first_byte_seconds < SLACK
    assert 1 <= len(result.body) < 40


@pytest.mark.parametrize("scheme,http2", CLIENTS)
def test_reset_mid_body_of_a_page(proxy, origin, tls_origin, scheme, http2):
    server = tls_origin if scheme == "https" else origin
    result = fetch(proxy, f"{scheme}://site.test:{server.port}/reset.html", http2=http2)
    assert_error_page(result, 502, "reset", "site.test", server.port)
    assert result.seconds <= RESPONSE_TIMEOUT + SLACK
    upstream_event(proxy, "site.test", server.port, "reset")


def test_reset_mid_body_of_a_streamed_download_closes_the_connection(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/reset.bin")
    # Headers were already sent: nothing left but to cut the client off, short of the promised length.
    assert result.status == 200
    assert result.exit_code != 0 and len(result.body) < 10000
    upstream_event(proxy, "site.test", origin.port, "reset")


def test_upstream_closes_without_answering(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/close")
    assert_error_page(result, 502, "reset", "site.test", origin.port)
    upstream_event(proxy, "site.test", origin.port, "reset", "/close")


def test_upstream_sends_garbage(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/garbage")
    assert_error_page(result, 502, "protocol", "site.test", origin.port)
    upstream_event(proxy, "site.test", origin.port, "protocol")


@pytest.mark.parametrize("http2", [False, True], ids=["https-http1", "https-http2"])
def test_upstream_does_not_speak_tls(proxy, plain_http_only, http2):
    port = plain_http_only.port
    result = fetch(proxy, f"https://site.test:{port}/", http2=http2)
    assert_error_page(result, 502, "tls", "site.test", port)
    assert "does not speak TLS" in result.text()
    upstream_event(proxy, "site.test", port, "tls")


@pytest.fixture(scope="module")
def verifying_proxy(workdir, test_list):
    """dejunk with upstream certificate verification on (mitmproxy's default)."""
    instance = Proxy(workdir, name="verifying", options={"dejunk_lists": [test_list], "dejunk_connect_timeout": 2})
    yield instance
    instance.stop()


def test_untrusted_upstream_certificate(verifying_proxy, tls_origin):
    result = fetch(verifying_proxy, f"https://site.test:{tls_origin.port}/page.html")
    assert_error_page(result, 502, "tls", "site.test", tls_origin.port)
    assert "certificate" in result.text().lower()
    upstream_event(verifying_proxy, "site.test", tls_origin.port, "tls")


def test_proxy_keeps_serving_while_an_upstream_hangs(proxy, origin):
    hung = {}
    thread = threading.Thread(target=lambda: hung.update(r=fetch(proxy, f"http://site.test:{origin.port}/hang")))
    thread.start()
    try:
        for _ in range(5):
            quick = fetch(proxy, f"http://site.test:{origin.port}/page.html")
            assert quick.status == 200 and quick.seconds < 1.5
    finally:
        thread.join(timeout=RESPONSE_TIMEOUT + SLACK + 5)
    assert hung["r"].status == 504


def test_proxy_keeps_serving_while_every_slow_fault_is_in_progress(proxy, origin, tls_origin, backlogged, silent):
    # The faults that hold a connection open, all at once; meanwhile another client is served at once.
    faulty = [
        (f"http://site.test:{origin.port}/hang", False),
        (f"https://site.test:{tls_origin.port}/hang", True),
        (f"http://site.test:{origin.port}/trickle-headers", False),
        (f"http://site.test:{origin.port}/stall-body.html", False),
        (f"http://site.test:{backlogged.port}/", False),
        (f"https://site.test:{silent.port}/", True),
    ]
    answers: dict[str, object] = {}
    threads = [threading.Thread(target=lambda u=url, h=http2: answers.update({u: fetch(proxy, u, http2=h)}))
               for url, http2 in faulty]
    for thread in threads:
        thread.start()
    try:
        quick = []
        for _ in range(8):
            quick.append(fetch(proxy, f"http://site.test:{origin.port}/page.html"))
            quick.append(fetch(proxy, f"https://site.test:{tls_origin.port}/page.html", http2=True))
        assert all(r.status == 200 and r.seconds < 1.5 for r in quick), [(r.status, r.seconds) for r in quick]
    finally:
        for thread in threads:
            thread.join(timeout=RESPONSE_TIMEOUT + SLACK + 5)
    assert {url: r.status for url, r in answers.items()} == {url: 504 for url, _ in faulty}
    assert all(r.seconds <= max(CONNECT_TIMEOUT, RESPONSE_TIMEOUT) + SLACK for r in answers.values())
