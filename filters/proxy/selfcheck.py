"""The startup self-check: synthetic flows through the addon's real hooks, on this mitmproxy.

A mitmproxy release can change what the hooks rely on: under 12.x, a changed `url.unparse`
made every request hook raise, and the proxy, which contains hook failures, blocked nothing. So
before the proxy serves anyone, a probe `Filtering` (what the addon's hooks run), with a small
list of its own, takes three flows through `requestheaders`, `request`, `responseheaders` and
`response`: a request its list blocks (answered on its headers), one it lets pass, and an HTML
page it must remove an ad element from and put a scriptlet into, allowed by the page's
Content-Security-Policy. Only the page's
trip to a worker process is replaced by the same rewrite in this thread. Any other outcome, or
any exception in the hooks, fails the check.
"""

from __future__ import annotations

import dataclasses
import functools
import platform
import time

import mitmproxy.version
from mitmproxy import connection, http

from ..engine import Engine
from .filtering import Filtering
from .pool import PageJob, run_page
from .upstream import UpstreamWatch

PROBE_HOST = "selfcheck.invalid"  # .invalid: never resolves, so a probe can reach nobody
PROBE_LIST = f"""! dejunk's self-check list
||ads.{PROBE_HOST}^
{PROBE_HOST}##.selfcheck-ad
{PROBE_HOST}##+js(set-constant, selfcheckAd, false)
"""
PROBE_PAGE = (
    b"<!doctype html><html><head><title>self-check</title></head>"
    b"<body><p>article text</p><div class=\"selfcheck-ad\">an ad</div></body></html>"
)


def versions() -> str:
    """The mitmproxy and Python versions, as the self-check names them."""
    return f"mitmproxy {mitmproxy.version.VERSION}, Python {platform.python_version()}"


@functools.lru_cache(maxsize=1)
def probe_engine() -> Engine:
    """The engine of the probe, built once per process."""
    return Engine.from_text(PROBE_LIST, name="selfcheck.txt")


class _InlinePool:
    """The probe's rewrite "pool": the function the workers run, called here."""

    def __init__(self, generic):
        self.generic = generic

    async def rewrite(self, raw: bytes, *, content_encoding: str | None, url: str, content_type: str | None, rules,
                      mode: str, timeout: float, limit: int, replacements: tuple = (), **csp):
        return run_page(PageJob(raw, content_encoding, url, content_type, rules, mode, timeout, limit, replacements,
                                **csp))

    def close(self) -> None:
        pass


def _flow(url: str, headers: dict[str, str]) -> http.HTTPFlow:
    """A flow as a browser's request through the proxy makes it, Host header and all (not live)."""
    client = connection.Client(peername=("127.0.0.1", 50000), sockname=("127.0.0.1", 8080), timestamp_start=time.time())
    request = http.Request.make("GET", url, b"", headers)
    f = http.HTTPFlow(client, connection.Server(address=(request.host, request.port)), live=False)
    f.request = request
    return f


def _respond(f: http.HTTPFlow, content_type: str, body: bytes) -> None:
    f.response = http.Response.make(200, body, {"Content-Type": content_type, "Content-Length": str(len(body))})


def _run_to_end(result) -> None:
    # The probe's rewrite never waits, so the coroutine the response hook returns ends at once.
    if result is None:
        return
    try:
        result.send(None)
    except StopIteration:
        return
    result.close()
    raise AssertionError("the response hook waited for something")


def run(settings) -> list[str]:
    """The first problem found, in a list (empty when the hooks answer as they must)."""
    caught: list[str] = []
    engine = probe_engine()
    inline = _InlinePool(engine.cosmetic_store.generic)
    probe = Filtering(UpstreamWatch(lambda: None), rewrite_pool=lambda: inline)
    probe.engine = engine
    probe.settings = dataclasses.replace(settings, enabled=True, cosmetic="remove", max_rewrite_bytes=1 << 20,
                                         hold_limit=1 << 20)

    def contain(where: str, f, error: Exception) -> None:
        # Where the proxy would log the failure and pass the flow on, the check records it.
        frame = error.__traceback__
        while frame is not None and frame.tb_next is not None:
            frame = frame.tb_next
        at = f" (at {frame.tb_frame.f_code.co_filename}:{frame.tb_lineno})" if frame is not None else ""
        caught.append(f"the {where} hook raised {type(error).__name__}: {error}{at}")

    probe._contain = contain
    for name, check in (("block", _check_block), ("pass", _check_pass), ("rewrite", _check_rewrite)):
        try:
            problem = check(probe)
        except Exception as e:
            problem = f"{type(e).__name__}: {e}"
        if caught or problem:
            return [f"{name}: {caught[0] if caught else problem}"]  # the first failure says it
    return []


def _check_block(probe) -> str | None:
    f = _flow(f"http://ads.{PROBE_HOST}/banner.js", {"Host": f"ads.{PROBE_HOST}", "Sec-Fetch-Dest": "script",
                                                     "Referer": f"http://www.{PROBE_HOST}/"})
    probe.requestheaders(f)
    if f.response is None:  # answered later, its body would have gone upstream already
        action = f.metadata.get("dejunk", {}).get("action")
        return f"a request the list blocks went through its headers (action {action!r})"
    probe.request(f)
    action = f.metadata.get("dejunk", {}).get("action")
    if f.response is None or action != "blocked":
        return f"a request the list blocks went through (action {action!r})"
    if f.response.status_code != 403 or "x-dejunk" not in f.response.headers:
        return f"a blocked request got {f.response.status_code} without dejunk's answer"
    return None


def _check_pass(probe) -> str | None:
    f = _flow(f"http://www.{PROBE_HOST}/app.js", {"Host": f"www.{PROBE_HOST}", "Sec-Fetch-Dest": "script",
                                                  "Referer": f"http://www.{PROBE_HOST}/"})
    probe.requestheaders(f)
    probe.request(f)
    if f.response is not None or f.metadata.get("dejunk", {}).get("action"):
        return "a request the list allows was answered by dejunk"
    _respond(f, "application/javascript", b"var x = 1;")
    probe.responseheaders(f)
    _run_to_end(probe.response(f))
    if f.response.content != b"var x = 1;":
        return "an allowed response was changed"
    return None


def _check_rewrite(probe) -> str | None:
    f = _flow(f"http://www.{PROBE_HOST}/article", {"Host": f"www.{PROBE_HOST}", "Sec-Fetch-Dest": "document",
                                                   "Accept": "text/html"})
    probe.requestheaders(f)
    probe.request(f)
    if f.response is not None:
        return "a page request was answered by dejunk"
    _respond(f, "text/html; charset=utf-8", PROBE_PAGE)
    f.response.headers["Content-Security-Policy"] = "script-src 'self'"
    probe.responseheaders(f)
    if f.response.stream:
        return "a page to rewrite was streamed, not held"
    _run_to_end(probe.response(f))
    body = f.response.content or b""
    if b"selfcheck-ad" in body or b"article text" not in body:
        return "the ad element was not removed from the page"
    if b"<head><script data-dejunk" not in body or b"selfcheckAd" not in body:
        return "the page's scriptlet was not put at the start of its head"
    if "'sha256-" not in f.response.headers.get("content-security-policy", ""):
        return "the page's Content-Security-Policy was not adjusted for the scriptlet"
    if f.metadata.get("dejunk", {}).get("action") != "rewritten":
        return "the rewritten page was not recorded"
    return None
