"""One dashboard request → one `Reply`: the security checks first, then a page of `ui/` or an API endpoint.

Plain data in and out (no mitmproxy here: `hooks` turns flows into calls of `Dashboard.handle`).
Every answer carries `security.SECURITY_HEADERS` and `Cache-Control: no-store`; errors are JSON
`{"error": message}`. JSON is written with `<`, `>` and `&` as \\u escapes, so that no answer can
be read as HTML whatever a browser guesses.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .api import Api, ApiError
from .security import Guard, Refusal, new_token, SECURITY_HEADERS, STATE_CHANGING
from .static import Files
from ..printable import printable_logger

logger = printable_logger("dejunk")

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: status, headers (the security headers added by `Dashboard`), body."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def to_json(data) -> bytes:
    """JSON text that no browser reads as markup: `<`, `>`, `&` only ever appear as \\u escapes."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("ascii")


def json_reply(status: int, data, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, to_json(data), {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class Dashboard:
    """Routes dashboard requests; holds the host name, the token of this start and the password."""

    def __init__(self, api: Api, files: Files | None = None, token: str | None = None):
        self.api = api
        self.files = files if files is not None else Files()
        self.token = token or new_token()
        self.guard = Guard("", self.token)

    @property
    def host(self) -> str:
        return self.guard.host

    def configure(self, host: str, password: str) -> None:
        self.guard = Guard(host.strip().lower().rstrip("."), self.token, password)

    async def handle(self, method: str, target: str, headers: Mapping[str, Sequence[str]], body: bytes = b"",
                     body_too_large: bool = False) -> Reply:
        """The answer to a request: `target` is path and query, `headers` lower-case name -> values."""
        method = method.upper()
        try:
            self.guard.check(method, headers)
            if body_too_large or len(body) > MAX_BODY_BYTES:
                raise Refusal(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
            path, _, query_text = target.partition("?")
            if path.startswith("/api/"):
                reply = await self._api(method, path, query_text, headers, body)
            else:
                reply = self._page(method, path)
        except Refusal as e:
            reply = json_reply(e.status, {"error": e.message}, e.headers)
        except ApiError as e:
            reply = json_reply(e.status, {"error": e.message})
        except Exception as e:  # a bug in the dashboard must not take the proxy down: said, and answered
            logger.exception(f"dejunk: dashboard: {method} {target} failed")
            reply = json_reply(500, {"error": f"internal error: {type(e).__name__}: {e}"})
        headers_out = {**reply.headers, **SECURITY_HEADERS, "Cache-Control": "no-store"}
        return Reply(reply.status, b"" if method == "HEAD" else reply.body, headers_out)

    def _page(self, method: str, path: str) -> Reply:
        if method not in ("GET", "HEAD"):
            raise Refusal(405, f"method {method} is not allowed on pages", {"Allow": "GET, HEAD"})
        if path in ("/", "/index.html"):
            page = self.files.index(self.token)
            if page is None:
                raise Refusal(404, "the dashboard's pages are not installed")
            return Reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
        found = self.files.get(path[1:]) if path.count("/") == 1 else None
        if found is None:
            raise Refusal(404, "no such page")
        return Reply(200, found[0], {"Content-Type": found[1]})

    async def _api(self, method: str, path: str, query_text: str, headers: Mapping[str, Sequence[str]],
                   body: bytes) -> Reply:
        endpoint = self.api.endpoint(method if method != "HEAD" else "GET", path)
        query = {name: values[-1] for name, values in urllib.parse.parse_qs(query_text, keep_blank_values=True).items()}
        data = None
        if method in STATE_CHANGING:
            data = self._json_body(headers, body)
        return json_reply(200, await endpoint(query, data))

    @staticmethod
    def _json_body(headers: Mapping[str, Sequence[str]], body: bytes) -> dict:
        content_types = headers.get("content-type", ())
        if not body:
            return {}
        if not content_types or content_types[0].split(";")[0].strip().lower() != "application/json":
            raise Refusal(415, "the body must be JSON (Content-Type: application/json)")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Refusal(400, f"the body is not JSON: {e}") from None
        if not isinstance(data, dict):
            raise Refusal(400, "the body must be a JSON object")
        return data
