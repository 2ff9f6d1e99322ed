"""What a client gets instead of the real thing: blocked-request answers and upstream error pages.

Answers are plain data (status, headers, body); the addon turns them into mitmproxy responses.
Every page HTML-escapes what it shows: URLs, rules and error messages come from the network.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..printable import printable

# The smallest transparent GIF: 1x1, one transparent palette entry.
TRANSPARENT_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
EMPTY_HTML = b"<!DOCTYPE html><html><head><title></title></head><body></body></html>"


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete HTTP response to send in place of the upstream one."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def dejunk_header(action: str, rule: str | None) -> str:
    """The `X-Dejunk` header value: the decision and the rule, header-safe."""
    value = action if not rule else f"{action}; rule={rule}"
    # Header values cannot carry newlines or non-latin-1 text; rules are ASCII in practice.
    return value.replace("\r", " ").replace("\n", " ").encode("latin-1", "replace").decode("latin-1")[:500]


def blocked_answer(request_type: str, url: str, rule: str | None, location: str | None, action: str = "blocked") -> Answer:
    """The answer to a blocked request, shaped by what the client asked for."""
    header = {"X-Dejunk": dejunk_header(action, rule), "Cache-Control": "no-store"}
    if request_type == "document":
        body = blocked_page(url, rule, location)
        return Answer(403, body, {**header, "Content-Type": "text/html; charset=utf-8"})
    if request_type == "image":
        return Answer(200, TRANSPARENT_GIF, {**header, "Content-Type": "image/gif"})
    if request_type == "subdocument":
        return Answer(200, EMPTY_HTML, {**header, "Content-Type": "text/html; charset=utf-8"})
    return Answer(403, b"", {**header, "Content-Type": "text/plain"})


def image_replacement_headers(rule: str) -> dict[str, str]:
    """Headers of the 1x1 GIF that replaces an image a policy rejects."""
    return {
        "Content-Type": "image/gif",
        "Content-Length": str(len(TRANSPARENT_GIF)),
        "Cache-Control": "no-store",
        "X-Dejunk": dejunk_header("policy image", rule),
    }


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>{frame_guard}
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:46em;margin:3em auto;padding:0 1em;color:#222}}
h1{{font-size:1.6em;margin-bottom:.2em}} code,.url{{font-family:ui-monospace,monospace;word-break:break-all}}
.box{{background:#f4f4f4;border-left:4px solid {accent};padding:.6em 1em;margin:1em 0}}
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}} dt{{color:#666}}
small{{color:#777}}
</style></head>
<body><h1>{title}</h1>
<p>{lead}</p>
<div class="box"><dl>{facts}</dl></div>
<p>{advice}</p>
<p><small>dejunk · {time}</small></p>
</body></html>
"""


# Over plain HTTP browsers send no Sec-Fetch-Dest, and a frame asks for HTML just as a page does:
# a blocked ad frame can get the "Blocked" page. Framed, the page hides itself, leaving the empty
# frame a known frame would get; at the top level it shows as usual.
FRAME_GUARD = "\n<script>if (window.self !== window.top) document.documentElement.style.display = 'none';</script>"


def shown(text: str) -> str:
    """Text for a page: control characters as escapes, then HTML-escaped."""
    return html.escape(printable(text))


def _render(title: str, lead: str, facts: list[tuple[str, str]], advice: str, accent: str, frame_guard: bool = False) -> bytes:
    # Every value is escaped here, once; callers pass raw text only.
    # Control characters are shown as escapes first: a URL or message must not hide or reorder text.
    rows = "".join(f"<dt>{shown(k)}</dt><dd class=\"url\">{shown(v)}</dd>" for k, v in facts)
    page = _PAGE.format(
        frame_guard=FRAME_GUARD if frame_guard else "",
        title=shown(title),
        lead=shown(lead),
        facts=rows,
        advice=shown(advice),
        accent=accent,
        time=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    return page.encode("utf-8")


def blocked_page(url: str, rule: str | None, location: str | None) -> bytes:
    """The 403 page for a blocked document: the URL, the rule and where the rule comes from."""
    facts = [("URL", url), ("Rule", rule or "(none)")]
    if location:
        facts.append(("From", location))
    return _render(
        "Blocked",
        "dejunk blocked this page because a filter rule matches its address.",
        facts,
        "If this page should load, allow the site with the command dejunk.allow HOST "
        "(or the dejunk_allow option), or add an exception rule (@@...) to one of your lists.",
        "#c0392b",
        frame_guard=True,
    )


def policy_page(url: str, host: str, pattern: str | None) -> bytes:
    """The 403 page for a host the connect policy rejects."""
    return _render(
        "Blocked",
        f"dejunk does not connect to {host}: the connect policy rejects it.",
        [("URL", url), ("Host", host), ("Pattern", pattern or "(policy default)")],
        "Change [policy.connect] in the dejunk config file to allow this host.",
        "#c0392b",
    )


def not_filtering_answer(url: str, reason: str) -> Answer:
    """The 503 answer while dejunk cannot filter: it refuses traffic rather than pass it unfiltered."""
    body = _render(
        "dejunk is not filtering",
        "dejunk could not start filtering, so this proxy passes nothing on: an unfiltered "
        "connection would look like a working ad blocker while blocking nothing.",
        [("URL", url), ("Problem", reason)],
        "Fix the problem named above (the proxy's log says more), then restart the proxy or set "
        "the option again. To use the proxy without dejunk for now, set dejunk_enabled to false.",
        "#c0392b",
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Dejunk": dejunk_header("not filtering", None),
    }
    return Answer(503, body, headers)


# What each kind of upstream failure means, in plain words for the error page (TLS failures have
# one text per cause: TLS_CAUSE_WORDS).
FAILURE_WORDS = {
    "dns": ("Server not found", "The name {host} could not be resolved: the server does not exist, or name lookup failed."),
    "refused": ("Connection refused", "{host} port {port} refused the connection: no server is listening there."),
    "connect_timeout": ("Connection timed out", "{host} port {port} did not complete a connection (TCP and, for HTTPS, the TLS handshake) within {timeout} seconds."),
    "response_timeout": ("No response", "{host} port {port} accepted the request but sent no complete response within {timeout} seconds."),
    "reset": ("Connection lost", "The connection to {host} port {port} was closed or reset before the response was complete."),
    "protocol": ("Bad response", "{host} port {port} sent a response that is not valid HTTP."),
}


def failure_status(kind: str) -> int:
    """504 for timeouts, 502 for everything else."""
    return 504 if kind in ("connect_timeout", "response_timeout") else 502


# Why a TLS handshake with an upstream failed, told by mitmproxy's message (mitmproxy words some
# causes itself and passes OpenSSL's reason strings for the rest). Checked in order: the first
# match wins, so the specific certificate reasons come before "certificate verify failed".
TLS_CAUSE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("name_mismatch", re.compile(r"hostname mismatch|IP address mismatch", re.I)),
    ("expired", re.compile(r"certificate has expired", re.I)),
    ("not_yet_valid", re.compile(r"certificate is not yet valid", re.I)),
    ("untrusted", re.compile(r"self[- ]signed certificate|unable to get (local )?issuer certificate", re.I)),
    ("certificate_rejected", re.compile(r"certificate verify failed", re.I)),
    ("version", re.compile(r"cannot agree on a TLS version|alert protocol version|unsupported protocol", re.I)),
    ("handshake_refused", re.compile(r"alert handshake failure", re.I)),
    ("not_tls", re.compile(r"does not speak TLS|wrong version number|packet length too long|"
                           r"record layer failure", re.I)),
    ("closed", re.compile(r"connection closed", re.I)),
]

_DO_NOT_BYPASS = (
    "The site may be misconfigured, or someone may be intercepting the connection: do not bypass this "
    "check just to reach the page. mitmproxy's ssl_insecure option turns certificate checks off for "
    "every site; use it for testing only."
)

# Per cause: title, what happened (lead) and what to do (advice); {host}, {port} and {reason}
# (mitmproxy's message without its wrapping) are filled in, and the page escapes the result.
TLS_CAUSE_WORDS: dict[str, tuple[str, str, str]] = {
    "untrusted": (
        "Untrusted certificate",
        (
            "The certificate of {host} is not signed by an authority the proxy trusts ({reason}). It may be "
            "self-signed, issued by an unknown authority, or sent without the intermediate certificates "
            "that link it to a known one."
        ),
        (
            _DO_NOT_BYPASS + " If the site uses a private authority you trust, add it with mitmproxy's "
            "ssl_verify_upstream_trusted_ca option."
        ),
    ),
    "name_mismatch": (
        "Certificate for another name",
        (
            "The certificate presented by {host} was issued for a different name, so it does not prove "
            "that the server is {host}."
        ),
        _DO_NOT_BYPASS,
    ),
    "expired": (
        "Certificate expired",
        "The certificate of {host} has expired, so the proxy cannot tell whether it still belongs to the site.",
        (
            "The site's owner must renew it. If the date and time of the computer running the proxy are "
            "wrong, correct them. " + _DO_NOT_BYPASS
        ),
    ),
    "not_yet_valid": (
        "Certificate not yet valid",
        "The certificate of {host} is not valid yet: its start date is in the future.",
        (
            "Check the date and time of the computer running the proxy; if they are right, the site's "
            "certificate is misconfigured. " + _DO_NOT_BYPASS
        ),
    ),
    "certificate_rejected": (
        "Certificate rejected",
        "The certificate of {host} failed verification: {reason}.",
        _DO_NOT_BYPASS,
    ),
    "version": (
        "No common TLS version",
        (
            "{host} port {port} and the proxy could not agree on a TLS version: the server offers none "
            "the proxy accepts."
        ),
        (
            "The server may only support outdated TLS versions (1.0 or 1.1), which are no longer safe; its "
            "owner must update it. To reach it anyway, lower mitmproxy's tls_version_server_min option, "
            "knowing that the connection is weaker."
        ),
    ),
    "handshake_refused": (
        "TLS handshake refused",
        (
            "{host} port {port} refused the TLS handshake: it shares no cipher with the proxy, or it "
            "requires a client certificate."
        ),
        (
            "An old server may only support outdated ciphers, which mitmproxy's ciphers_server option can "
            "allow; a server that wants a client certificate needs one through mitmproxy's client_certs option."
        ),
    ),
    "not_tls": (
        "Server does not speak TLS",
        (
            "{host} port {port} answered with something that is not TLS: that port probably serves plain "
            "HTTP or another protocol."
        ),
        "Check the address: try http:// instead of https://, or the port the site uses for HTTPS.",
    ),
    "closed": (
        "Connection closed during the TLS handshake",
        "{host} port {port} closed the connection during the TLS handshake, without saying why.",
        (
            "The server may not accept the proxy's TLS settings or this host name, or something on your "
            "network cuts the connection. Try again later; if it keeps failing, check whether the site "
            "loads without the proxy."
        ),
    ),
    "other": (
        "Secure connection failed",
        "The TLS (HTTPS) handshake with {host} port {port} failed: {reason}.",
        (
            "Try again later; if it keeps happening, the site's TLS setup may be broken, or the "
            "connection may be filtered on your network."
        ),
    ),
}

_TLS_PREFIX = re.compile(r"^\s*(TLS handshake failed:\s*)?(Certificate verify failed:\s*)?", re.I)
# OpenSSL errors reach mitmproxy's message as the repr of their (library, function, reason) tuples.
_OPENSSL_REASON = re.compile(r"\('[^']*', '[^']*', '([^']*)'\)")


def tls_cause(message: str) -> str:
    """The cause of a failed TLS handshake: a key of TLS_CAUSE_WORDS."""
    for cause, pattern in TLS_CAUSE_PATTERNS:
        if pattern.search(message):
            return cause
    return "other"


def tls_reason(message: str) -> str:
    """mitmproxy's message without its prefixes; OpenSSL errors as their reason strings only."""
    reasons = _OPENSSL_REASON.findall(message)
    if reasons:
        return "; ".join(reasons)
    return _TLS_PREFIX.sub("", message).strip().rstrip(".") or "unknown error"


def error_answer(kind: str, url: str, host: str, port: int, message: str, timeout: int | None = None) -> Answer:
    """The error page for a failed upstream connection, naming host, port and what failed."""
    status = failure_status(kind)
    values = {"host": host, "port": port, "timeout": timeout if timeout is not None else "the configured"}
    advice = "Try again later; if it keeps happening, the site may be down or blocked on your network."
    if kind == "tls":
        title, lead, advice = TLS_CAUSE_WORDS[tls_cause(message)]
        values["reason"] = tls_reason(message)
    else:
        title, lead = FAILURE_WORDS.get(kind, FAILURE_WORDS["protocol"])
    body = _render(
        f"{status} {title}",
        lead.format(**values),
        [("URL", url), ("Server", f"{host}:{port}"), ("Failure", kind), ("Detail", message)],
        "This is an answer from the dejunk proxy, not from the site. " + advice,
        "#d68910",
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Dejunk": dejunk_header(f"upstream {kind}", None),
    }
    return Answer(status, body, headers)
