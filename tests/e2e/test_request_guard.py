"""Nothing reaches a host that a rule or a policy refuses: large uploads, a Host header that is not
the host connected to, raw TCP and passed-through TLS in CONNECT tunnels (real mitmdump, loopback)."""

from __future__ import annotations

import http.client
import socket
import time

import pytest

from .harness import Proxy, fetch
from .origin import Recorder, make_tls_context

UPLOAD = 3 * 1024 * 1024  # larger than the proxy's stream_large_bodies (1m): mitmproxy would stream it
GRACE = 0.5  # after the client has its answer, time for a late connection to show up


@pytest.fixture(scope="module")
def guard_proxy(workdir, test_list, test_config):
    """dejunk that streams request bodies over 1 MiB, and passes TLS to hosts named ignored.* through."""
    instance = Proxy(workdir, name="guard", options={
        "dejunk_lists": [test_list],
        "dejunk_config": test_config,
        "stream_large_bodies": "1m",
        "ignore_hosts": [r"^ignored\."],
        "ssl_insecure": True,
    })
    yield instance
    instance.stop()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


@pytest.fixture(scope="module")
def tls_context(workdir):
    return make_tls_context(workdir)


@pytest.fixture
def tls_recorder(tls_context):
    server = Recorder(tls_context)
    yield server
    server.close()


def upload(proxy: Proxy, url: str, size: int = UPLOAD, headers: dict[str, str] | None = None):
    body = proxy.workdir / "upload.bin"
    if not body.exists() or body.stat().st_size != size:
        body.write_bytes(b"u" * size)
    return fetch(proxy, url, headers=headers, extra=["--data-binary", f"@{body}", "-H", "Content-Type: application/octet-stream"])


def received_nothing(server: Recorder) -> bool:
    time.sleep(GRACE)
    return server.connections == 0 and server.bytes_received == 0


# --- 1. the decision comes before the body ------------------------------------------------------


def test_an_allowed_large_upload_reaches_its_host(guard_proxy, recorder):
    result = upload(guard_proxy, f"http://site.test:{recorder.port}/upload")
    assert result.status == 200 and result.body == b"ok"
    assert recorder.connections == 1 and recorder.bytes_received > UPLOAD


def test_a_large_upload_to_a_blocked_host_reaches_nobody(guard_proxy, recorder):
    result = upload(guard_proxy, f"http://ads.test:{recorder.port}/upload")
    assert result.status == 403 and "blocked" in result.headers.get("x-dejunk", "")
    assert received_nothing(recorder)
    guard_proxy.wait_for_event(lambda e: e["event"] == "blocked" and e["url"].endswith(f":{recorder.port}/upload"))


def test_a_large_upload_to_a_rejected_host_reaches_nobody(guard_proxy, recorder):
    result = upload(guard_proxy, f"http://forbidden.test:{recorder.port}/upload")
    assert result.status == 403 and "the connect policy rejects it" in result.text()
    assert received_nothing(recorder)


@pytest.mark.parametrize("http2", [False, True])
def test_a_large_https_upload_to_a_blocked_host_reaches_nobody(guard_proxy, tls_recorder, http2):
    body = guard_proxy.workdir / "upload.bin"
    body.write_bytes(b"u" * UPLOAD)
    result = fetch(guard_proxy, f"https://ads.test:{tls_recorder.port}/upload", http2=http2,
                   extra=["--data-binary", f"@{body}"])
    assert result.status == 403 and "blocked" in result.headers.get("x-dejunk", "")
    assert received_nothing(tls_recorder)


def test_the_cookie_policy_strips_cookies_from_large_uploads(guard_proxy, recorder):
    result = upload(guard_proxy, f"http://site.test:{recorder.port}/upload", headers={"Cookie": "id=42"})
    assert result.status == 200
    head = recorder.heads()[0].lower()
    assert head.startswith(b"post /upload") and b"cookie" not in head


def test_removeparam_applies_to_large_uploads(guard_proxy, recorder):
    result = upload(guard_proxy, f"http://site.test:{recorder.port}/upload?utm_source=x&id=1")
    assert result.status == 200
    assert recorder.heads()[0].startswith(b"POST /upload?id=1 ")


@pytest.fixture(scope="module")
def no_hold_proxy(workdir, test_list, test_config):
    """dejunk holding no body at all: dejunk_max_rewrite_bytes=0 makes mitmproxy stream every body."""
    instance = Proxy(workdir, name="no-hold", options={
        "dejunk_lists": [test_list], "dejunk_config": test_config, "dejunk_max_rewrite_bytes": 0,
    })
    yield instance
    instance.stop()


def test_with_no_body_held_a_small_upload_to_a_blocked_host_reaches_nobody(no_hold_proxy, recorder):
    result = upload(no_hold_proxy, f"http://ads.test:{recorder.port}/small", size=2000)
    assert result.status == 403
    assert received_nothing(recorder)


# --- 2. the host connected to decides, not only the Host header ---------------------------------


@pytest.mark.parametrize("url_host,host_header", [
    ("ads.test", "site.test"),          # connects to a blocked host under an innocent name
    ("site.test", "ads.test"),          # names a blocked host: refused as before
])
def test_absolute_form_requests_are_refused_if_either_host_is_blocked(guard_proxy, recorder, url_host, host_header):
    result = fetch(guard_proxy, f"http://{url_host}:{recorder.port}/x.js",
                   headers={"Host": f"{host_header}:{recorder.port}"})
    assert result.status == 403 and "blocked" in result.headers.get("x-dejunk", "")
    assert received_nothing(recorder)


def test_absolute_form_requests_are_refused_if_the_connect_policy_rejects_the_host_connected_to(guard_proxy, recorder):
    result = fetch(guard_proxy, f"http://forbidden.test:{recorder.port}/page",
                   headers={"Host": f"site.test:{recorder.port}"})
    assert result.status == 403 and "forbidden.test" in result.text()
    assert received_nothing(recorder)


@pytest.mark.parametrize("http2", [False, True])
def test_a_tunnel_to_a_blocked_host_cannot_name_another_host_inside(guard_proxy, tls_recorder, http2):
    result = fetch(guard_proxy, f"https://ads.test:{tls_recorder.port}/x.js", http2=http2,
                   headers={"Host": f"site.test:{tls_recorder.port}"})
    assert result.status == 403 and "blocked" in result.headers.get("x-dejunk", "")
    assert received_nothing(tls_recorder)


def test_a_tunnel_to_an_allowed_host_still_works_with_its_own_name(guard_proxy, tls_recorder):
    result = fetch(guard_proxy, f"https://site.test:{tls_recorder.port}/x.js")
    assert result.status == 200 and result.body == b"ok"
    assert tls_recorder.connections == 1


# --- 3. connections that are not filtered as HTTP ---------------------------------------------


def raw_tunnel(proxy: Proxy, target: str, payload: bytes = b"\x00\x01RAW bytes, not HTTP\n") -> bytes:
    """CONNECT to `target` and, if the proxy agrees, send bytes that are not HTTP; the CONNECT answer."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        answer = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        if answer.startswith(b"HTTP/1.1 200"):
            try:
                sock.sendall(payload)
                sock.settimeout(1)
                sock.recv(4096)  # the relay answers nothing; the wait lets the bytes go through
            except OSError:
                pass
        return answer


def test_raw_tcp_to_an_allowed_host_is_relayed(guard_proxy, recorder):
    raw_tunnel(guard_proxy, f"site.test:{recorder.port}")
    deadline = time.monotonic() + 5
    while recorder.bytes_received == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert recorder.connections == 1 and recorder.received[0].startswith(b"\x00\x01RAW")


@pytest.mark.parametrize("host", ["forbidden.test", "ads.test"])
def test_raw_tcp_to_a_rejected_or_blocked_host_gets_no_connection(guard_proxy, recorder, host):
    raw_tunnel(guard_proxy, f"{host}:{recorder.port}")
    assert received_nothing(recorder)
    guard_proxy.wait_for_event(lambda e: e.get("host") == host and e.get("where") == "connection")


def test_raw_tcp_to_a_host_excepted_from_a_block_is_relayed(guard_proxy, recorder):
    raw_tunnel(guard_proxy, f"allowed.ads.test:{recorder.port}")  # @@||allowed.ads.test^
    deadline = time.monotonic() + 5
    while recorder.bytes_received == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert recorder.connections == 1


@pytest.mark.parametrize("host", ["ignored.forbidden.test", "ignored.ads.test"])
def test_tls_passed_through_to_a_rejected_or_blocked_host_gets_no_connection(guard_proxy, tls_recorder, host):
    result = fetch(guard_proxy, f"https://{host}:{tls_recorder.port}/x.js", max_time=5, extra=["--insecure"])
    assert result.status != 200
    assert received_nothing(tls_recorder)


def test_tls_passed_through_to_an_allowed_host_works(guard_proxy, tls_recorder):
    result = fetch(guard_proxy, f"https://ignored.site.test:{tls_recorder.port}/x.js", max_time=5, extra=["--insecure"])
    assert result.status == 200 and result.body == b"ok"
    assert tls_recorder.connections == 1


# --- other proxy modes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_reverse_proxy_refuses_requests_if_its_target_is_blocked(workdir, test_list, test_config, recorder):
    # The target is the host connected to; with keep_host_header the client's Host header names another.
    port = free_port()
    proxy = Proxy(workdir, name="reverse", options={
        "dejunk_lists": [test_list], "dejunk_config": test_config, "keep_host_header": True,
        "mode": ["regular", f"reverse:http://ads.test:{recorder.port}@127.0.0.1:{port}"],
    })
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/x.js", headers={"Host": "site.test"})
        response = connection.getresponse()
        assert response.status == 403 and "blocked" in response.getheader("x-dejunk", "")
        connection.close()
    finally:
        proxy.stop()
    assert received_nothing(recorder)


def test_with_an_upstream_proxy_a_connect_to_a_rejected_host_is_refused_itself(workdir, test_list, test_config, recorder):
    # The upstream proxy (the recorder here) would make the connection: the CONNECT gets the 403.
    port = free_port()
    proxy = Proxy(workdir, name="upstream", options={
        "dejunk_lists": [test_list], "dejunk_config": test_config,
        "mode": ["regular", f"upstream:http://127.0.0.1:{recorder.port}@127.0.0.1:{port}"],
    })
    try:
        proxy.port = port  # talk to the upstream-mode listener
        answer = raw_tunnel(proxy, "forbidden.test:443")
    finally:
        proxy.stop()
    assert answer.startswith(b"HTTP/1.1 403") and b"X-Dejunk: policy connect" in answer
    assert received_nothing(recorder)


def test_with_eager_connections_a_connect_to_a_rejected_host_is_refused_itself(workdir, test_list, test_config, recorder):
    proxy = Proxy(workdir, name="eager", options={
        "dejunk_lists": [test_list], "dejunk_config": test_config,
        "connection_strategy": "eager", "dejunk_error_pages": False,
    })
    try:
        answer = raw_tunnel(proxy, f"forbidden.test:{recorder.port}")
        allowed = raw_tunnel(proxy, f"site.test:{recorder.port}")
        events = proxy.events()
    finally:
        proxy.stop()
    assert answer.startswith(b"HTTP/1.1 403") and b"X-Dejunk: policy connect" in answer
    assert allowed.startswith(b"HTTP/1.1 200")
    assert recorder.connections == 1 and recorder.received[0].startswith(b"\x00\x01RAW")  # site.test's only
    assert not [e for e in events if e["event"] == "upstream_error"]
