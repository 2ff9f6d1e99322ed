"""A flow's request, as the filters see it, read with mitmproxy's public API.

`request_from_flow` reads the URL (as `pretty_url` gives it, the scheme and host taken from
mitmproxy once per Host header), the type (Sec-Fetch-Dest, Accept, the extension) and the source
page (Referer, Origin) off a flow. `request_views` adds the request as sent to the host mitmproxy
connects to, when the Host header names another: both are decided on.
"""

from __future__ import annotations

from mitmproxy import http

from ..request import Request, host_of, normalize_host, registrable_domain, source_from_headers, type_from_headers


# --- request model ------------------------------------------------------------------------------


_REQUEST_HEADERS = frozenset({b"host", b"sec-fetch-dest", b"accept", b"upgrade", b"referer", b"origin", b"cookie"})

_URL_PREFIXES: dict[tuple[str, str], tuple[str, str]] = {}
_URL_PREFIXES_KEPT = 4096


def flow_url(request: http.Request, host_header: str | None) -> tuple[str, str]:
    """(URL, host) as `pretty_url` / `pretty_host` give them, from an already-read Host header.

    `pretty_url` parses the Host header on every call, and a Host header repeats across a site's
    requests: so "scheme://host[:port]" and the host are taken from mitmproxy once per scheme and
    header, and later requests with the same ones only add their path.
    """
    if request.data.method.upper() == b"CONNECT":  # `first_line_format == "authority"`, without decoding
        return request.authority, request.host
    if request.is_http2 or request.is_http3:
        host_header = request.authority or host_header
    if not host_header:
        return request.url, request.host
    path = request.path
    known = _URL_PREFIXES.get((request.scheme, host_header))
    if known is not None and path != "*":
        return known[0] + path, known[1]
    address, host = request.pretty_url, request.pretty_host
    if path and path != "*" and address.endswith(path):
        if len(_URL_PREFIXES) >= _URL_PREFIXES_KEPT:
            _URL_PREFIXES.clear()
        _URL_PREFIXES[(request.scheme, host_header)] = (address[: -len(path)], host)
    return address, host


def header_values(headers, wanted: frozenset[bytes]) -> dict[bytes, str]:
    """Each wanted header's value as `headers.get` gives it (lower-case names), in one pass.

    mitmproxy's `headers.get` scans and case-folds every field on each call; on the request path
    one pass for all the names dejunk needs is several times cheaper. A repeated header's values
    are joined with ", ", as mitmproxy joins them.
    """
    found: dict[bytes, str] = {}
    for name, value in headers.fields:
        key = name.lower()
        if key in wanted:
            text = value.decode("utf-8", "surrogateescape")  # as mitmproxy decodes headers
            found[key] = f"{found[key]}, {text}" if key in found else text
    return found


def request_from_flow(flow: http.HTTPFlow) -> Request:
    """The filters' view of a flow's request (type from Sec-Fetch-Dest, Accept, extension; source page)."""
    request = flow.request
    found = header_values(request.headers, _REQUEST_HEADERS)
    address, host = flow_url(request, found.get(b"host"))
    request_type = type_from_headers(
        address, sec_fetch_dest=found.get(b"sec-fetch-dest"), accept=found.get(b"accept"), upgrade=found.get(b"upgrade")
    )
    source = source_from_headers(address, request_type, found.get(b"referer"), found.get(b"origin"))
    return Request.from_strings(address, source, request_type, request.method, has_cookie=b"cookie" in found, host=host)


def connected_request(flow: http.HTTPFlow, request: Request) -> Request | None:
    """The request as sent to the host mitmproxy connects to, when the Host header names another.

    `pretty_url` takes the host from the Host header (or `:authority`), but mitmproxy connects to
    `flow.request.host`: the absolute-form URL of a plain proxy request, the CONNECT target inside
    a tunnel, the reverse-proxy target. A client can make them differ; None when they do not.
    """
    connected = flow.request.host
    if not connected or connected == request.host or normalize_host(connected) == request.host:
        return None
    return Request.from_strings(flow.request.url, request.source_url, request.type, request.method,
                                has_cookie=request.has_cookie, host=connected)


def request_views(flow: http.HTTPFlow, request: Request) -> tuple[Request, ...]:
    """The request as its Host header names it, then as sent to the host connected to if that differs."""
    other = connected_request(flow, request)
    return (request,) if other is None else (request, other)


_NAVIGATION_HEADERS = frozenset({b"sec-fetch-site", b"referer"})


def popup_view(flow: http.HTTPFlow, request: Request) -> Request | None:
    """The request as a popup (type `popup`, the page it came from as source) when it may be one, else None.

    A proxy never sees a window open: a popup, a popunder's redirected opener and a link followed
    to another site in the same tab all arrive as a top-level navigation from another site. So a
    document request is asked about as a popup when Fetch Metadata says it comes from another
    site (`Sec-Fetch-Site: cross-site`; its Referer, if any, is the opener) or, from a client
    without Fetch Metadata, when its Referer names another site. Navigations within a site, typed
    in or bookmarked (`Sec-Fetch-Site: none`) and frames are never popups.
    """
    if request.type != "document":
        return None
    found = header_values(flow.request.headers, _NAVIGATION_HEADERS)
    referer = found.get(b"referer") or None
    site = found.get(b"sec-fetch-site")
    if site is not None:
        if site.strip().lower() != "cross-site":
            return None
    else:
        referer_host = host_of(referer) if referer else ""
        if not referer_host or registrable_domain(referer_host) == registrable_domain(request.host):
            return None
    return Request.from_strings(request.url, referer, "popup", request.method, host=request.host)


def path_of(url: str) -> str:
    """The request target (path and query) of an absolute URL."""
    url = url.split("#", 1)[0]
    authority_start = url.find("://") + 3 if "://" in url else 0
    ends = [i for i in (url.find("/", authority_start), url.find("?", authority_start)) if i >= 0]
    if not ends:
        return "/"
    target = url[min(ends):]
    return target if target.startswith("/") else "/" + target
