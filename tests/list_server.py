"""A loopback HTTP server for list subscription tests: serves documents with validators and faults."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Document:
    """What the server answers for one path."""

    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    truncate_to: int | None = None  # send this many bytes of a longer declared Content-Length, then close
    cut_chunked: bool = False  # send the first half as one chunk, then close without the last chunk
    gzip: bool = False  # compress when the client accepts gzip
    content_encoding: str | None = None  # declared as is, the body sent untouched
    delay: float = 0.0  # seconds to wait before answering (bounded by the tests)
    undeclared_length: bool = False  # no Content-Length: the body ends when the connection closes


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]


class ListServer:
    """Serves `documents[path]` on 127.0.0.1 and records every request; use as a context manager."""

    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ListServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, text: str | bytes, **options) -> str:
        """Publish a document and return its URL."""
        body = text.encode("utf-8") if isinstance(text, str) else text
        self.documents[path] = Document(body=body, **options)
        return self.url(path)

    def requests_for(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # keep test output clean
                pass

            def do_GET(self):
                with owner._lock:
                    owner.requests.append(SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
                    document = owner.documents.get(self.path)
                if document is None:
                    self._plain(404, b"not found")
                    return
                if document.delay:
                    time.sleep(document.delay)
                if document.status != 200:
                    self._plain(document.status, b"server error")
                    return
                if self._not_modified(document):
                    self.send_response(304)
                    if document.etag:
                        self.send_header("ETag", document.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = document.body
                self.send_response(200)
                self.send_header("Content-Type", document.content_type)
                if document.etag:
                    self.send_header("ETag", document.etag)
                if document.last_modified:
                    self.send_header("Last-Modified", document.last_modified)
                if document.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
                    body = gzip.compress(body)
                    self.send_header("Content-Encoding", "gzip")
                if document.content_encoding:
                    self.send_header("Content-Encoding", document.content_encoding)
                if document.cut_chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    half = body[: len(body) // 2]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if document.undeclared_length:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                if document.truncate_to is not None:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body[: document.truncate_to])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.end_headers()
                self.wfile.write(body)

            def _not_modified(self, document: Document) -> bool:
                if document.etag and self.headers.get("If-None-Match"):
                    return self.headers["If-None-Match"] == document.etag
                if document.last_modified and self.headers.get("If-Modified-Since"):
                    return self.headers["If-Modified-Since"] == document.last_modified
                return False

            def _plain(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._server = None
