"""A scriptable origin server on loopback for end-to-end tests.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies, one chunked page) and misbehaves on request:
the path chooses the behaviour. Every request is logged so tests can tell whether a blocked
request reached the upstream. Every wait is bounded, and `stop()` ends them all.
"""

from __future__ import annotations

import datetime
import gzip
import json
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Test news</title>
<script src="http://ads.test:{port}/ad.js"></script></head>
<body><article><h1>Headline</h1><p>The article text that must survive.</p></article>
<div class="ad-slot"><img src="http://ads.test:{port}/banner.png"></div>
</body></html>
"""

# A valid 1x1 PNG (opaque red), small enough to inline.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
)

MAX_WAIT = 30.0  # no behaviour keeps a connection longer than this


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    host: str


@dataclass
class Origin:
    """A running origin server (plain or TLS) and the requests it received."""

    port: int
    tls: bool
    seen: list[Seen] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _sock: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    def requests_to(self, path_prefix: str) -> list[Seen]:
        return [s for s in self.seen if urlsplit(s.target).path.startswith(path_prefix)]

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        for t in self._threads:
            t.join(timeout=5)


def start_origin(tls_context: ssl.SSLContext | None = None) -> Origin:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.2)
    origin = Origin(port=sock.getsockname()[1], tls=tls_context is not None, _sock=sock)
    thread = threading.Thread(target=_accept_loop, args=(origin, sock, tls_context), daemon=True)
    thread.start()
    origin._threads.append(thread)
    return origin


def _accept_loop(origin: Origin, sock: socket.socket, tls_context) -> None:
    while not origin._stop.is_set():
        try:
            conn, _ = sock.accept()
        except (TimeoutError, socket.timeout):
            continue
        except OSError:
            return
        t = threading.Thread(target=_serve, args=(origin, conn, tls_context), daemon=True)
        t.start()


def _serve(origin: Origin, conn: socket.socket, tls_context) -> None:
    conn.settimeout(MAX_WAIT)
    try:
        if tls_context is not None:
            conn = tls_context.wrap_socket(conn, server_side=True)
        reader = conn.makefile("rb")
        for _ in range(100):  # keep-alive, bounded
            request = _read_request(reader)
            if request is None:
                return
            origin.seen.append(request)
            if not _respond(origin, conn, request):
                return
    except (OSError, ssl.SSLError, ValueError):
        return
    finally:
        try:
            conn.close()
        except OSError:
            pass


def _read_request(reader) -> Seen | None:
    line = reader.readline(65536 * 4)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    for _ in range(200):
        raw = reader.readline(65536)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length:
        reader.read(length)
    return Seen(method, target, headers, headers.get("host", ""))


def _send(conn, status: str, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
    head = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in (extra or {}).items()]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def _respond(origin: Origin, conn, request: Seen) -> bool:
    """Answer one request; False closes the connection."""
    parts = urlsplit(request.target)
    path, query = parts.path, parse_qs(parts.query)
    wait = origin._stop.wait
    if path == "/hang":
        wait(MAX_WAIT)
        return False
    if path == "/close":
        return False
    if path == "/garbage":
        conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        wait(0.5)
        return False
    if path == "/trickle-headers":
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: " + b"x" * 20:
            if wait(1.0):
                return False
            conn.sendall(bytes([byte]))
        return False
    if path.startswith("/trickle-body"):
        content_type = "text/html" if path.endswith(".html") else "application/octet-stream"
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: 40\r\n\r\n".encode())
        for _ in range(40):
            conn.sendall(b"x")
            if wait(1.0):
                return False
        return False
    if path.startswith("/reset"):
        content_type = "text/html" if path.endswith(".html") else "application/octet-stream"
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: 10000\r\n\r\n".encode())
        conn.sendall(b"y" * 100)
        wait(0.3)
        # An abortive close: the peer sees a reset, not an orderly end.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    if request.method == "HEAD" and path.endswith(".png"):
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(PNG)}\r\n\r\n".encode())
        return True
    if path == "/empty.png":
        _send(conn, "200 OK", b"", "image/png")
        return True
    if path in ("/no-content.png", "/not-modified.png"):
        status = "204 No Content" if path == "/no-content.png" else "304 Not Modified"
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: image/png\r\nETag: \"v1\"\r\n\r\n".encode())
        return True
    if path == "/partial.html":
        # The first part of the page, as a server answers "Range: bytes=0-" with a cap.
        page = PAGE.replace(b"{port}", str(origin.port).encode())
        part = page[: len(page) - 20]
        _send(conn, "206 Partial Content", part, "text/html; charset=utf-8",
              {"Content-Range": f"bytes 0-{len(part) - 1}/{len(page)}"})
        return True
    if path.startswith("/slow-page"):
        return _send_slowly(conn, query, wait, origin.port)
    if path == "/stall-body.html":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n<html><body>")
        wait(MAX_WAIT)
        return False
    if "/echo" in path:
        body = json.dumps({"target": request.target, "headers": request.headers}).encode()
        _send(conn, "200 OK", body, "application/json", {"Set-Cookie": "echo=1; Path=/"})
        return True
    if path.endswith(".png"):
        _send(conn, "200 OK", PNG, "image/png", {"Set-Cookie": "img=1"})
        return True
    if path.endswith(".js"):
        _send(conn, "200 OK", b"window.adLoaded = true;", "application/javascript")
        return True
    if path.startswith("/bytes"):
        size = min(int(query.get("size", ["1000"])[0]), 10_000_000)
        _send(conn, "200 OK", b"z" * size, "application/octet-stream")
        return True
    if path.startswith("/big-page"):
        _send_big_page(conn, min(int(query.get("mb", ["1"])[0]), 256), chunked="chunked" in query)
        return True
    body = PAGE.replace(b"{port}", str(origin.port).encode())
    if path.endswith(".gz.html"):
        _send(conn, "200 OK", gzip.compress(body), "text/html; charset=utf-8", {"Content-Encoding": "gzip"})
        return True
    _send(conn, "200 OK", body, "text/html; charset=utf-8", {"Set-Cookie": "session=abc; Path=/"})
    return True


def _send_slowly(conn, query, wait, port: int) -> bool:
    """An HTML page (chunked) whose body keeps coming: `fast_kb` KiB at once, then the rest over `seconds`.

    Blocks of `block_kb` KiB (default: the test page, a few hundred bytes) go out at even intervals;
    the total is `kb` KiB (default: just the test page).
    """
    seconds = min(float(query.get("seconds", ["5"])[0]), MAX_WAIT)
    page = PAGE.replace(b"{port}", str(port).encode())
    total = min(int(query.get("kb", ["0"])[0]), 64 * 1024) * 1024
    fast = min(int(query.get("fast_kb", ["0"])[0]), 64 * 1024) * 1024
    body = page if not total else page[:-15] + big_page_block(0) * (total // 65536 + 1)
    body = body[: max(total, len(page) - 15)] + page[-15:]  # ends with </body></html>
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n")
    if fast:
        conn.sendall(b"%x\r\n%s\r\n" % (fast, body[:fast]))
    rest = body[fast:]
    steps = 20
    size = -(-len(rest) // steps)
    for index in range(steps):
        piece = rest[index * size : (index + 1) * size]
        if piece:
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        if wait(seconds / steps):
            return False
    conn.sendall(b"0\r\n\r\n")
    return True


def big_page_block(index: int) -> bytes:
    """One 64 KiB block of the big page (blocks differ, so the page cannot be compressed away)."""
    line = f"<p>Paragraph block {index:08d} of a very long page.</p>\n".encode()
    return (line * (65536 // len(line) + 1))[:65536]


def _send_big_page(conn, mb: int, chunked: bool) -> None:
    # An HTML page of `mb` MiB: with Content-Length, or chunked (size unknown until the end).
    blocks = mb * 16
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {blocks * 65536}"
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{framing}\r\n\r\n".encode())
    for index in range(blocks):
        block = big_page_block(index)
        conn.sendall(b"10000\r\n" + block + b"\r\n" if chunked else block)
    if chunked:
        conn.sendall(b"0\r\n\r\n")


def make_tls_context(workdir: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for *.test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "site.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.test"), x509.DNSName("site.test")]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path = workdir / "origin-cert.pem"
    key_path = workdir / "origin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


class Backlogged:
    """A loopback port whose accept queue is full: new connections hang in SYN, like a dead host."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self._fill = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._fill.append(c)
        time.sleep(0.1)

    def close(self) -> None:
        for c in self._fill:
            c.close()
        self.sock.close()


class Silent:
    """A loopback server that accepts connections and never sends or reads a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()


class PlainHttpOnly(Silent):
    """A plain HTTP server that answers whatever arrives (a TLS ClientHello too) with a 400, as nginx does."""

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(2)
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()


class H2Origin:
    """An HTTP/2-only TLS origin (h2): many streams on one connection, each path its own behaviour.

    `/never`: headers never come. `/slow.bin`: headers at once, then 12 chunks of 100 bytes, one every
    half second. Anything else: a short text at once. `seen` holds (connection number, path) per request.
    """

    STEPS = 12
    STEP_SECONDS = 0.5

    def __init__(self, workdir: Path):
        self.context = make_tls_context(workdir)
        self.context.set_alpn_protocols(["h2"])
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple[int, str]] = []
        self.reset: list[tuple[int, str]] = []  # streams the peer reset
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        number = 0
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            number += 1
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket, number: int) -> None:
        import h2.config
        import h2.connection
        import h2.events
        import h2.exceptions

        try:
            raw.settimeout(5)
            conn = self.context.wrap_socket(raw, server_side=True)
            conn.settimeout(0.05)
            h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            h2conn.initiate_connection()
            conn.sendall(h2conn.data_to_send())
            slow: dict[int, tuple[float, int]] = {}  # stream id -> (next chunk due, chunks left)
            paths: dict[int, str] = {}
            deadline = time.monotonic() + MAX_WAIT
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    data = conn.recv(65536)
                    if not data:
                        return
                except (TimeoutError, socket.timeout, ssl.SSLWantReadError):
                    data = b""
                for event in h2conn.receive_data(data) if data else ():
                    if isinstance(event, h2.events.RequestReceived):
                        path = dict(event.headers).get(b":path", b"").decode()
                        self.seen.append((number, path))
                        paths[event.stream_id] = path
                        if path.startswith("/never"):
                            continue
                        if path.startswith("/slow.bin"):
                            h2conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/octet-stream"),
                                                                  ("content-length", str(self.STEPS * 100))])
                            slow[event.stream_id] = (time.monotonic() + self.STEP_SECONDS, self.STEPS)
                        else:
                            h2conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "text/plain")])
                            h2conn.send_data(event.stream_id, b"quick", end_stream=True)
                    elif isinstance(event, h2.events.StreamReset):
                        slow.pop(event.stream_id, None)
                        self.reset.append((number, paths.get(event.stream_id, "")))
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                now = time.monotonic()
                for stream_id, (due, left) in list(slow.items()):
                    if now >= due:
                        h2conn.send_data(stream_id, b"s" * 100, end_stream=left == 1)
                        slow[stream_id] = (due + self.STEP_SECONDS, left - 1)
                        if left == 1:
                            del slow[stream_id]
                outgoing = h2conn.data_to_send()
                if outgoing:
                    conn.sendall(outgoing)
        except (OSError, ssl.SSLError, ValueError, h2.exceptions.ProtocolError):
            return  # the peer went away or broke the protocol: this connection is over
        finally:
            raw.close()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.sock.close()


class Recorder(Silent):
    """A loopback server that records every connection and the bytes it received, and answers HTTP.

    For tests that a host received nothing: `connections` counts accepted connections (a TCP
    connect is enough to count), `received` holds each connection's bytes (up to 1 MiB kept, all
    counted in `bytes_received`). A request that arrives whole gets a short 200; anything else
    is read until the peer stops sending.
    """

    KEEP = 1 << 20

    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self.tls_context = tls_context
        self.connections = 0
        self.bytes_received = 0
        self.received: list[bytearray] = []
        self._lock = threading.Lock()
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            kept = bytearray()
            self.received.append(kept)
        self._held.append(conn)
        threading.Thread(target=self._serve, args=(conn, kept), daemon=True).start()

    def _serve(self, conn: socket.socket, kept: bytearray) -> None:
        raw = conn
        try:
            conn.settimeout(5)
            if self.tls_context is not None:
                conn = self.tls_context.wrap_socket(conn, server_side=True)
            total = 0
            for _ in range(100_000):  # bounded: 64 KiB reads, up to ~6 GB
                data = conn.recv(65536)
                if not data:
                    return
                with self._lock:
                    self.bytes_received += len(data)
                    if len(kept) < self.KEEP:
                        kept += data[: self.KEEP - len(kept)]
                total += len(data)
                head, sep, _ = bytes(kept).partition(b"\r\n\r\n")
                if not sep:
                    continue
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip() or 0)
                if total >= len(head) + 4 + length:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                                 b"Connection: close\r\n\r\nok")
                    return
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            for sock in {raw, conn}:
                try:
                    sock.close()
                except OSError:
                    pass

    def heads(self) -> list[bytes]:
        """The request head (up to the blank line) of each connection, in order."""
        with self._lock:
            return [bytes(k).partition(b"\r\n\r\n")[0] for k in self.received]
