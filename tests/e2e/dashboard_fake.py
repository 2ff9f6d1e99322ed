"""A stand-in for dejunk's dashboard API on loopback, for the pages' own tests.

It serves `filters/dashboard/ui/` as the proxy does (token in the page, the contract's CSP) and
answers `/api/` with data shaped like the contract, kept in memory. The pages' tests use it only
for what the real proxy cannot be made to do on demand: answer 401, 403 or 500, or go away.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

UI = Path(__file__).resolve().parents[2] / "filters" / "dashboard" / "ui"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'")
TYPES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
         "app.css": "text/css; charset=utf-8"}


class FakeDashboard:
    """A threaded HTTP server; `fail` maps an API path to a forced (status, message)."""

    def __init__(self, token: str = "fake-token"):
        self.token = token
        self.fail: dict[str, tuple[int, str]] = {}
        self.allowed: list[str] = []
        self.changes: list[tuple[str, dict]] = []
        self.log = [{"id": 1, "time": "2026-01-01T10:00:00+00:00", "url": "http://ads.test/x.js", "type": "script",
                     "site": "news.test", "action": "blocked", "rule": "||ads.test^", "list": "test.txt", "line": 2,
                     "exception": "@@||ads.test^$domain=news.test"}]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._answer(self, "GET")

            def do_POST(self):
                fake._answer(self, "POST")

            def do_PUT(self):
                fake._answer(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _send(self, handler, status: int, body: bytes, content_type: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Content-Security-Policy", CSP)
        handler.send_header("X-Content-Type-Options", "nosniff")
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(body)

    def _json(self, handler, status: int, data) -> None:
        self._send(handler, status, json.dumps(data).encode(), "application/json")

    def _answer(self, handler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if not path.startswith("/api/"):
            name = "index.html" if path == "/" else path.lstrip("/")
            if method != "GET" or name not in TYPES:
                return self._json(handler, 404, {"error": "not found"})
            body = (UI / name).read_bytes()
            if name == "index.html":
                body = body.replace(b"__DEJUNK_TOKEN__", self.token.encode())
            return self._send(handler, 200, body, TYPES[name])
        if path in self.fail:
            status, message = self.fail[path]
            return self._json(handler, status, {"error": message})
        body = {}
        if method != "GET":
            if handler.headers.get("X-Dejunk-Token") != self.token:
                return self._json(handler, 403, {"error": "missing or wrong token"})
            length = int(handler.headers.get("Content-Length") or 0)
            body = json.loads(handler.rfile.read(length) or b"{}")
            self.changes.append((path, body))
        if path == "/api/status":
            return self._json(handler, 200, {"version": "test", "filtering": True, "problems": [], "lists": 1,
                                             "rules": 3})
        if path == "/api/stats":
            return self._json(handler, 200, {"requests": 3, "blocked": 1, "bytes_saved": 0, "since": None,
                                             "history": [], "top_blocked_hosts": [], "top_rules": [],
                                             "upstream_errors": {}})
        if path == "/api/log":
            since = int(query.get("since", 0))
            return self._json(handler, 200, [e for e in self.log if e["id"] > since])
        if path == "/api/sites":
            return self._json(handler, 200, {"allowed": self.allowed, "configured": [], "overrides": {}})
        if path == "/api/sites/allow" and method == "POST":
            added = body["site"] not in self.allowed
            if added:
                self.allowed.append(body["site"])
            return self._json(handler, 200, {"ok": True, "changed": added})
        return self._json(handler, 404, {"error": f"no API {path}"})
