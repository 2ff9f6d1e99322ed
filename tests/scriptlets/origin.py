"""A loopback origin serving scriptlet cases: `/case/ID` (the page), `/case/ID?inject=1` (with the script)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from filters.scriptlets.calls import parse_call
from filters.scriptlets.compose import compose

from .cases import Case


def with_script(page: str, script: str) -> str:
    """`page` with `script` in an inline element right after its `<head>` start tag."""
    at = page.lower().find("<head>")
    assert at >= 0, "case pages need a literal <head>"
    at += len("<head>")
    return f"{page[:at]}<script>{script}</script>{page[at:]}"


class CaseOrigin:
    """Serves the cases (any Host header: also `ID.test` names sent through a proxy); stop() ends it."""

    def __init__(self, cases: list[Case]):
        by_id = {case.id: case for case in cases}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._answer(True)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(min(length, 1 << 20))
                self._answer(True)

            def do_HEAD(self):
                self._answer(False)

            def _answer(self, with_body: bool):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                host_case = (self.headers.get("Host") or "").split(":")[0].removesuffix(".test")
                case = None
                extra = {}
                if parts.path.startswith("/case/"):
                    case = by_id.get(parts.path[len("/case/"):])
                    kind, body = "text/html; charset=utf-8", None
                    if case is not None:
                        extra = case.headers
                        page = case.page
                        if query.get("inject"):
                            page = with_script(page, compose([parse_call(case.call)]))
                        body = page.encode()
                else:
                    case = by_id.get(query.get("case", [host_case])[0]) or by_id.get(host_case)
                    found = case.files.get(parts.path) if case else None
                    if found is None:
                        for other in by_id.values():  # resources are found by path alone as well
                            found = other.files.get(parts.path) or found
                    kind, body = found if found else ("text/plain", None)
                if body is None:
                    self.send_response(404)
                    body = b"not found"
                else:
                    self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
