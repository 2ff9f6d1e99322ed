"""Who may use the dashboard: the per-start token, the Origin check, the optional password, and the answer headers.

Any page the user visits can send requests to the dashboard's name through the proxy, so a
request that changes state (POST, PUT, DELETE) must carry `X-Dejunk-Token` equal to the token
the dashboard's own page holds (another site cannot read that page: no CORS, frames refused),
and an `Origin`, when sent, must be the dashboard's own. A password, when set, is asked for on
every request (HTTP Basic; any user name).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Mapping, Sequence

TOKEN_HEADER = "x-dejunk-token"
STATE_CHANGING = frozenset({"POST", "PUT", "DELETE"})
METHODS = frozenset({"GET", "HEAD"}) | STATE_CHANGING

# On every answer. No Access-Control-* header is ever sent: other origins cannot read answers.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "connect-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def new_token() -> str:
    """A fresh random token (one per start of the proxy)."""
    return secrets.token_urlsafe(32)


class Refusal(Exception):
    """A request the dashboard refuses: status, message, and headers to send with it."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class Guard:
    """The checks every dashboard request passes before anything is read or changed."""

    def __init__(self, host: str, token: str, password: str = ""):
        self.host = host
        self.token = token
        self.password = password
        self.origins = (f"http://{host}", f"https://{host}")

    def check(self, method: str, headers: Mapping[str, Sequence[str]]) -> None:
        """Raise `Refusal` for a request that may not go on; `headers`: lower-case name -> values."""
        if method not in METHODS:
            raise Refusal(405, f"method {method} is not allowed", {"Allow": ", ".join(sorted(METHODS))})
        if self.password and not self._authorized(headers.get("authorization", ())):
            raise Refusal(401, "the dashboard asks for its password",
                          {"WWW-Authenticate": 'Basic realm="dejunk dashboard", charset="UTF-8"'})
        if method in STATE_CHANGING:
            origins = headers.get("origin", ())
            if len(origins) > 1 or (origins and origins[0].strip().lower() not in self.origins):
                raise Refusal(403, "refused: the request comes from another site (Origin)")
            tokens = headers.get(TOKEN_HEADER, ())
            if len(tokens) != 1 or not hmac.compare_digest(tokens[0].strip().encode(), self.token.encode()):
                raise Refusal(403, "refused: missing or wrong X-Dejunk-Token (reload the dashboard page)")

    def _authorized(self, values: Sequence[str]) -> bool:
        if len(values) != 1:
            return False
        scheme, _, encoded = values[0].strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, sep, given = decoded.partition(":")
        return bool(sep) and hmac.compare_digest(given.encode(), self.password.encode())
