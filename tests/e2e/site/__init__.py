"""The end-to-end test site: a news page, an ad network and a tracker, served on loopback.

One server answers for every host name in this folder (`news.test`, `ads.test`,
`tracker.test`), choosing the folder by the request's Host header; the proxy's test resolver
sends all of them to 127.0.0.1. `{{ads}}` and `{{tracker}}` in text files become those hosts'
origins (scheme and port included), so a page served over HTTPS embeds HTTPS ads.
`/img/WxH/rgb.png` is a solid PNG of that size and colour, made on request.
"""

from __future__ import annotations

import http.server
import ssl
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

SITE = Path(__file__).resolve().parent
SITE_LIST = SITE / "site-list.txt"
HOSTS = ("news.test", "ads.test", "tracker.test")
TEXT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "application/javascript"}
# A 1x1 opaque black GIF: what a tracker sends back, distinct from a blocker's transparent one.
TRACKING_GIF = bytes.fromhex("47494638396101000100800000000000ffffff2c00000000010001000002024401003b")


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour."""
    row = b"\x00" + bytes(rgb) * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Hit:
    """One request the site received."""

    host: str
    path: str
    headers: dict[str, str]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SiteHTTPServer

    def log_message(self, format, *args):  # quiet: the hits list is the log
        pass

    def do_GET(self):
        host = (self.headers.get("host") or "").rsplit(":", 1)[0].lower()
        self.server.site.record(Hit(host, self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = self.path.split("?", 1)[0]
        body, content_type = self.server.site.resource(host, path)
        if body is None:
            self._reply(404, b"not found", "text/plain")
        else:
            self._reply(200, body, content_type)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _SiteHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    site: SiteServer
    tls_context: ssl.SSLContext | None = None

    def get_request(self):
        conn, address = super().get_request()
        conn.settimeout(30)
        if self.tls_context is not None:
            # The handshake happens on the first read, in the connection's own thread.
            conn = self.tls_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, address

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-request is not the test's concern


class SiteServer:
    """The site on a loopback port, plain HTTP or TLS, and the requests it received."""

    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self.scheme = "https" if tls_context else "http"
        self._server = _SiteHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self._server.tls_context = tls_context
        self.port = self._server.server_address[1]
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def origin(self, host: str) -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def url(self, host: str = "news.test", path: str = "/") -> str:
        return self.origin(host) + path

    def record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def hits(self, host: str | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self._hits if host is None or h.host == host]

    def resource(self, host: str, path: str) -> tuple[bytes | None, str]:
        """The body and content type for a host and path (None: not found)."""
        if host not in HOSTS:
            return None, ""
        if path.startswith("/img/") and path.endswith(".png"):
            return _generated_png(path), "image/png"
        if path.endswith(".gif"):
            return TRACKING_GIF, "image/gif"
        if path.endswith("/"):
            path += "index.html"
        file = (SITE / host / path.lstrip("/")).resolve()
        if SITE / host not in file.parents or not file.is_file():
            return None, ""
        content_type = TEXT_TYPES.get(file.suffix, "application/octet-stream")
        text = file.read_text(encoding="utf-8")
        text = text.replace("{{ads}}", self.origin("ads.test")).replace("{{tracker}}", self.origin("tracker.test"))
        return text.encode("utf-8"), content_type

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _generated_png(path: str) -> bytes | None:
    try:
        size, colour = path[len("/img/"):-len(".png")].split("/")
        width, height = (int(n) for n in size.split("x"))
        rgb = tuple(int(c * 2, 16) for c in colour)
    except ValueError:
        return None
    if not (0 < width <= 2000 and 0 < height <= 2000 and len(rgb) == 3):
        return None
    return solid_png(width, height, rgb)
