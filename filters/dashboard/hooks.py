"""The dashboard in mitmproxy: flows for its host name are answered by the proxy, never sent upstream.

The addon asks `DashboardHooks` first at each hook. `requestheaders` takes a request for the
dashboard's name (by the host mitmproxy would connect to): one without a body is answered at
once; a body is held (at most `server.MAX_BODY_BYTES`, never streamed) and the request answered
in `request`. Such flows carry `_dejunk_dashboard`, and the addon keeps them from `Filtering`:
not decided, not counted, not in the recent decisions.

For https:// the name must never be looked up (no DNS knows it): a CONNECT to it is answered
with 200 by the proxy itself (with `connection_strategy=eager` mitmproxy would otherwise connect
at once, see filters.proxy.internals 8), TLS with the client does not wait for a server
(`tls_clienthello`, from `LastWordOnTls`: mitmproxy's own tlsconfig addon sets that choice after
the scripts' hooks, so this one goes at the end of the addon chain, and only with eager connections,
the only ones with which tlsconfig asks a server first), and any server connection to the name is refused (`server_connect`), so
nothing is ever looked up or connected for it.
"""

from __future__ import annotations

import time

from mitmproxy import http

from ..proxy.internals import drop_request_body, hold_request_body, request_body_too_large
from .server import MAX_BODY_BYTES, Dashboard, Reply

_MARK = "_dejunk_dashboard"  # on flows the dashboard answers; not part of the flow's saved state


def is_dashboard_flow(f: http.HTTPFlow) -> bool:
    """Whether the dashboard took this flow (the addon keeps it from every other hook)."""
    return getattr(f, _MARK, False)


def _headers(f: http.HTTPFlow) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in f.request.headers.items(multi=True):
        found.setdefault(name.lower(), []).append(value)
    return found


def to_response(reply: Reply) -> http.Response:
    return http.Response.make(reply.status, reply.body, reply.headers)


class DashboardHooks:
    """Takes the flows for the dashboard's host name (none while the name is empty)."""

    def __init__(self, dashboard: Dashboard):
        self.dashboard = dashboard
        self.name = ""
        self._lengths = ()  # the lengths a host naming the dashboard can have (with a trailing dot)

    def configure(self, host: str, password: str) -> None:
        self.dashboard.configure(host, password)
        self.name = self.dashboard.host
        self._lengths = (len(self.name), len(self.name) + 1) if self.name else ()

    def _is_name(self, host) -> bool:
        if not self.name or not host:
            return False
        host = host.decode("idna", errors="replace") if isinstance(host, bytes) else str(host)
        return host.lower().rstrip(".") == self.name

    def wants(self, f: http.HTTPFlow) -> bool:
        """Whether a request is for the dashboard (by where mitmproxy would send it); cheap for every other."""
        host = f.request.data.host
        return len(host) in self._lengths and self._is_name(host)

    # --- requests ------------------------------------------------------------------------------

    def requestheaders(self, f: http.HTTPFlow):
        """Take a dashboard request: answer it now (no body) or hold its body for `request`."""
        setattr(f, _MARK, True)
        f.metadata["dejunk_dashboard"] = True
        length = f.request.headers.get("content-length")
        may_have_body = ("transfer-encoding" in f.request.headers or (length or "0").strip() not in ("", "0")
                         or (f.request.is_http2 or f.request.is_http3) and f.request.method not in ("GET", "HEAD"))
        if not may_have_body:
            return self._answer(f)
        try:
            too_large = length is not None and int(length) > MAX_BODY_BYTES
        except ValueError:
            too_large = True  # mitmproxy refuses a bad length before this hook; never expected here
        if too_large:
            drop_request_body(f)  # read and dropped, so the client gets the answer
            return self._answer(f, body_too_large=True)
        if not hold_request_body(f, MAX_BODY_BYTES) and length is None:
            # Without dejunk's body-size wrapper mitmproxy might stream a body of unknown length.
            drop_request_body(f)
            f.response = to_response(Reply(411, b'{"error":"a request body needs a Content-Length"}',
                                           {"Content-Type": "application/json"}))
        return None

    def request(self, f: http.HTTPFlow):
        """Answer a dashboard request whose body is in (once: one answered on its headers stays answered)."""
        if f.response is not None:
            return None
        return self._answer(f, body_too_large=request_body_too_large(f))

    async def _answer(self, f: http.HTTPFlow, body_too_large: bool = False) -> None:
        body = b"" if body_too_large else (f.request.raw_content or b"")
        reply = await self.dashboard.handle(f.request.method, f.request.path, _headers(f), body,
                                            body_too_large=body_too_large)
        f.response = to_response(reply)

    # --- connections ---------------------------------------------------------------------------

    def http_connect(self, f: http.HTTPFlow) -> bool:
        """Open a CONNECT tunnel to the dashboard's name without a server connection; True if it was one."""
        if not self.wants(f):
            return False
        setattr(f, _MARK, True)
        now = time.time()
        # As mitmproxy answers a CONNECT itself: no headers (some clients take none), nothing connected.
        f.response = http.Response(f.request.data.http_version, 200, b"Connection established", http.Headers(), b"",
                                   None, now, now)
        return True

    def tls_clienthello(self, data) -> None:
        """TLS with the client for the dashboard's name goes on without asking a server first."""
        server = data.context.server
        if (server.address and self._is_name(server.address[0])) or self._is_name(data.client_hello.sni):
            data.establish_server_tls_first = False

    def server_connect(self, server) -> bool:
        """Refuse any server connection to the dashboard's name (nothing is looked up); True if refused."""
        if not server.address or not self._is_name(server.address[0]) or server.error:
            return False
        server.error = f"dejunk: {self.name} is the dashboard, answered by the proxy itself: no connection is made"
        return True


class LastWordOnTls:
    """An addon put at the end of mitmproxy's chain (`AddonManager.add`), after its tlsconfig addon.

    tlsconfig decides in its `tls_clienthello` whether to connect to the server before TLS with
    the client (`connection_strategy=eager`); the scripts' hooks run before it, so the dashboard
    has its say about its own name here, last.
    """

    name = "dejunk-dashboard-tls"

    def __init__(self, hooks: DashboardHooks):
        self.hooks = hooks

    def tls_clienthello(self, data) -> None:
        if self.hooks.name:
            self.hooks.tls_clienthello(data)

    @classmethod
    def install(cls, addons, hooks: DashboardHooks) -> LastWordOnTls:
        """Put one at the end of `addons` (an AddonManager), in place of one an earlier load of the script put there."""
        old = addons.get(cls.name)
        if old is not None:
            addons.remove(old)
        last = cls(hooks)
        addons.add(last)
        return last
