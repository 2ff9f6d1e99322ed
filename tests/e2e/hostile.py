"""Hostile page bodies and a loopback origin that serves them, for the end-to-end tests and `bench.py hostile`.

- `gzip_bomb(size)` / `brotli_bomb(size)`: HTML that inflates to `size` bytes (zeros after a tag)
  from a few hundred bytes to a megabyte; made in steps, never holding `size` bytes.
- `big_page(size)`: an ordinary page about `size` bytes long with ad elements (`.ad-slot`) to remove.
- `hostile_page(elements)`: tens of thousands of ad elements, then as many nested ones, never closed.
- `HostileOrigin`: serves named bodies (`/NAME`, with Content-Type, Content-Encoding and Content-
  Length) and a tiny `/small` response, on a loopback port, from a thread; `stop()` ends it.
- `probe_while`: a small request through the proxy every ~20 ms, and the proxy's memory, sampled
  while something else goes through (the longest wait is how long the proxy stalled).
"""

from __future__ import annotations

import http.client
import http.server
import random
import statistics
import threading
import time
import zlib
from dataclasses import dataclass, field

import brotli

from .load import rss_kb

_HEAD = b"<!DOCTYPE html><html><head><title>bomb</title></head><body><div class=\"ad-slot\">ad</div><p>"
_CHUNK = 1 << 20


def gzip_bomb(size: int) -> bytes:
    """A gzip body that decodes to about `size` bytes of HTML."""
    encoder = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [encoder.compress(_HEAD)]
    zeros = b"\0" * _CHUNK
    for _ in range(max(1, size // _CHUNK)):
        parts.append(encoder.compress(zeros))
    parts.append(encoder.flush())
    return b"".join(parts)


def brotli_bomb(size: int) -> bytes:
    """A brotli body that decodes to about `size` bytes of HTML."""
    # Quality 5 packs zeros as tightly as 11 does (a few hundred bytes for 256 MiB), forty times faster.
    encoder = brotli.Compressor(quality=5)
    parts = [encoder.process(_HEAD)]
    zeros = b"\0" * _CHUNK
    for _ in range(max(1, size // _CHUNK)):
        parts.append(encoder.process(zeros))
    parts.append(encoder.finish())
    return b"".join(parts)


def big_page(size: int) -> bytes:
    """An HTML page of about `size` bytes: articles of varied words (compressing as text does), an ad after every tenth."""
    words = random.Random(size)
    vocabulary = [bytes(words.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(words.randint(2, 10))) for _ in range(3000)]
    ad = b'<div class="ad-slot"><a href="https://ads.test/c"><img src="https://ads.test/b.png"></a></div>\n'
    body = []
    total = 0
    while total < size:
        for _ in range(10):
            text = b" ".join(words.choice(vocabulary) for _ in range(120))
            body.append(b"<article><h2>Headline</h2><p>" + text + b".</p></article>\n")
            total += len(body[-1])
        body.append(ad)
        total += len(ad)
    return b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>big</title></head><body>" + b"".join(body) + b"</body></html>"


def hostile_page(elements: int = 40_000) -> bytes:
    """A page that takes a rewriter many seconds: `elements` ad elements, then as many nested and unclosed."""
    return (b"<html><body>" + b'<div class="ad-slot"><p>x</p></div>' * elements
            + b'<div class="ad-slot">' * (elements // 2) + b"</body></html>")


class HostileOrigin:
    """Serves `bodies` (name -> (body, content encoding or None)) as text/html on a loopback port."""

    def __init__(self, bodies: dict[str, tuple[bytes, str | None]]):
        self.bodies = bodies
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait between them

            def do_GET(self):
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                if name == "small":
                    body, coding, content_type = b"ok", None, "text/plain"
                elif name in origin.bodies:
                    (body, coding), content_type = origin.bodies[name], "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                if coding:
                    self.send_header("Content-Encoding", coding)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.timeout = 1
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def url(self, name: str, host: str = "hostile.test") -> str:
        return f"http://{host}:{self.port}/{name}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


# --- measuring a proxy while hostile bodies go through ------------------------------------------


@dataclass
class Fetched:
    """One response through the proxy, its body as sent (not decoded)."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def get(proxy_port: int, url: str, timeout: float = 60) -> Fetched:
    """GET `url` through the proxy on loopback (absolute-form request); the body as it came, still encoded."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=timeout)
    try:
        connection.request("GET", url, headers={"Accept-Encoding": "gzip, br, zstd", "Sec-Fetch-Dest": "document"})
        response = connection.getresponse()
        body = response.read()
        return Fetched(response.status, {k.lower(): v for k, v in response.getheaders()}, body,
                       time.monotonic() - started)
    finally:
        connection.close()


@dataclass
class Probe:
    """Small requests every `interval` seconds and the proxy's memory, sampled while something else runs."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    rss_start_kb: int = 0
    rss_peak_kb: int = 0

    @property
    def longest(self) -> float:
        return max(self.latencies, default=0.0)

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0

    @property
    def rss_growth_mb(self) -> float:
        return (self.rss_peak_kb - self.rss_start_kb) / 1024


def probe_while(proxy_port: int, proxy_pid: int, small_url: str, action, *, interval: float = 0.02,
                limit: float = 120) -> tuple[Probe, object]:
    """Run `action()` while a thread sends a small request every `interval` s and samples the proxy's RSS."""
    probe = Probe(rss_start_kb=rss_kb(proxy_pid))
    probe.rss_peak_kb = probe.rss_start_kb
    done = threading.Event()

    def loop() -> None:
        connection = None
        deadline = time.monotonic() + limit
        while not done.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
                connection.request("GET", small_url)
                response = connection.getresponse()
                response.read()
                probe.latencies.append(time.monotonic() - started)
            except (OSError, http.client.HTTPException):
                probe.errors += 1
                connection = None
            done.wait(max(0.0, interval - (time.monotonic() - started)))
        if connection is not None:
            connection.close()

    def sample() -> None:  # apart from the requests, which wait while the proxy stalls
        deadline = time.monotonic() + limit
        while not done.wait(0.005) and time.monotonic() < deadline:
            probe.rss_peak_kb = max(probe.rss_peak_kb, rss_kb(proxy_pid))

    threads = [threading.Thread(target=loop, daemon=True), threading.Thread(target=sample, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)  # a few samples of the quiet proxy first
        result = action()
        time.sleep(0.3)
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=35)
    return probe, result
