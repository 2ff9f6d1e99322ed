"""The request model, built from plain strings: URL parts, resource type, source page, party.

No mitmproxy imports here: the addon reads headers off a flow and hands them over as strings.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

# Resource types as filter options name them (`$script`, `$xmlhttprequest`, ...).
RESOURCE_TYPES = (
    "document",
    "subdocument",
    "script",
    "image",
    "stylesheet",
    "object",
    "xmlhttprequest",
    "ping",
    "media",
    "font",
    "websocket",
    "other",
    "popup",
)

_TYPE_NAMES = frozenset(RESOURCE_TYPES)

# Aliases accepted wherever a type is given by name (CLI, corpus files, filter options).
TYPE_ALIASES = {
    "xhr": "xmlhttprequest",
    "fetch": "xmlhttprequest",
    "frame": "subdocument",
    "sub_frame": "subdocument",
    "iframe": "subdocument",
    "main_frame": "document",
    "doc": "document",
    "css": "stylesheet",
    "js": "script",
    "img": "image",
    "imageset": "image",
    "beacon": "ping",
    "csp_report": "other",
    "object_subrequest": "object",
}

# Sec-Fetch-Dest values (Fetch Metadata) to resource types.
_FETCH_DEST = {
    "document": "document",
    "iframe": "subdocument",
    "frame": "subdocument",
    "fencedframe": "subdocument",
    "script": "script",
    "worker": "script",
    "sharedworker": "script",
    "serviceworker": "script",
    "audioworklet": "script",
    "paintworklet": "script",
    "xslt": "script",
    "style": "stylesheet",
    "image": "image",
    "font": "font",
    "audio": "media",
    "video": "media",
    "track": "media",
    "object": "object",
    "embed": "object",
    "empty": "xmlhttprequest",
    "websocket": "websocket",
    "report": "ping",
    "manifest": "other",
}

_EXTENSION_TYPES = {
    **dict.fromkeys(("js", "mjs", "cjs"), "script"),
    **dict.fromkeys(("css",), "stylesheet"),
    **dict.fromkeys(
        ("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "apng", "jfif", "tif", "tiff"),
        "image",
    ),
    **dict.fromkeys(("woff", "woff2", "ttf", "otf", "eot"), "font"),
    **dict.fromkeys(
        ("mp4", "webm", "mp3", "ogg", "oga", "ogv", "m4a", "m4v", "wav", "flac", "aac", "m3u8", "mpd", "ts", "vtt"),
        "media",
    ),
    **dict.fromkeys(("html", "htm", "xhtml", "shtml", "php", "asp", "aspx", "jsp"), "document"),
    **dict.fromkeys(("swf",), "object"),
}


def normalize_type(name: str | None) -> str:
    """A resource type from a name or alias; anything unknown is `other`."""
    if not name:
        return "other"
    name = name.strip().lower()
    name = TYPE_ALIASES.get(name, name)
    return name if name in RESOURCE_TYPES else "other"


def type_from_headers(
    url: str,
    sec_fetch_dest: str | None = None,
    accept: str | None = None,
    upgrade: str | None = None,
) -> str:
    """Infer a request's resource type: `Sec-Fetch-Dest` first, then `Accept`, then the extension."""
    if upgrade and upgrade.strip().lower() == "websocket":
        return "websocket"
    if sec_fetch_dest:
        mapped = _FETCH_DEST.get(sec_fetch_dest.strip().lower())
        if mapped:
            return mapped
    if accept:
        from_accept = _type_from_accept(accept.lower())
        if from_accept:
            return from_accept
    return type_from_extension(url)


def infer_type(
    url: str,
    source: str | None = None,
    sec_fetch_dest: str | None = None,
    accept: str | None = None,
    upgrade: str | None = None,
) -> str:
    """The type the proxy gives a request of which only some of URL, source page and headers is known.

    With any of the headers, exactly what the proxy decides (`type_from_headers`). With none, the
    URL's extension decides; a URL whose extension says nothing is a page opened on its own (a
    `document`, what a browser's navigation says) without a source page, else `other`, what a
    subresource request without telling headers (`Accept: */*`) gets.
    """
    if sec_fetch_dest or accept or upgrade:
        return type_from_headers(url, sec_fetch_dest=sec_fetch_dest, accept=accept, upgrade=upgrade)
    from_extension = type_from_extension(url)
    if from_extension == "other" and not source:
        return "document"
    return from_extension


def type_by_name(name: str) -> str | None:
    """The resource type a name or alias stands for (`xhr` -> `xmlhttprequest`); None if it names none."""
    name = name.strip().lower()
    name = TYPE_ALIASES.get(name, name)
    return name if name in _TYPE_NAMES else None


@functools.lru_cache(maxsize=1024)
def _type_from_accept(accept: str) -> str | None:
    # Browsers send a type-specific Accept for navigations, images and styles; `*/*` says nothing.
    first = accept.split(",", 1)[0].split(";", 1)[0].strip()
    if first in ("text/html", "application/xhtml+xml"):
        return "document"
    if first.startswith("image/"):
        return "image"
    if first == "text/css":
        return "stylesheet"
    if first in ("application/javascript", "text/javascript", "application/x-javascript"):
        return "script"
    if first.startswith(("video/", "audio/")):
        return "media"
    if first.startswith("font/"):
        return "font"
    if first in ("application/json", "text/event-stream"):
        return "xmlhttprequest"
    return None


def type_from_extension(url: str) -> str:
    """The resource type the URL's file extension suggests, or `other`."""
    # String scanning rather than urlsplit: this runs for every request without Sec-Fetch-Dest.
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3 if scheme_end >= 0 else 0)
    if path_start < 0:
        return "other"
    end = len(url)
    for mark in "?#":
        at = url.find(mark, path_start)
        if 0 <= at < end:
            end = at
    name_start = url.rfind("/", path_start, end) + 1
    dot = url.rfind(".", name_start, end)
    if dot <= name_start:  # no extension, or a dotfile such as /.well-known
        return "other"
    return _EXTENSION_TYPES.get(url[dot + 1 : end].lower(), "other")


def source_from_headers(
    url: str, request_type: str, referer: str | None = None, origin: str | None = None
) -> str | None:
    """The page a request belongs to: a document is its own source; others name it in Referer or Origin."""
    if request_type == "document":
        return url
    if referer:
        return referer
    if origin and origin != "null":
        return origin
    return None


def urlsplit_safe(url: str) -> tuple[str, str, str, str, str]:
    """urlsplit that never raises: malformed URLs (bad ports, brackets) give empty parts."""
    try:
        return tuple(urlsplit(url))  # type: ignore[return-value]
    except ValueError:
        return ("", "", "", "", "")


@functools.lru_cache(maxsize=8192)
def host_of(url: str) -> str:
    """The lower-case host of a URL, IDN in ASCII (punycode) form; '' if it has none."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return normalize_host(host)


def normalize_host(host: str) -> str:
    """Lower-case, no trailing dot, IDN labels in punycode, IPv6 without brackets."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


# A domain list (`,` in cosmetic rules, `|` in `$domain=`) whose names are already as `normalize_host` gives them:
# lower-case ASCII, at most a `~` before and a `.*` after, no space, no empty name. Most lists' are.
_NORMAL_NAME = r"~?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*(?:\.\*)?"
_NORMAL_NAME_LISTS = {separator: re.compile(r"%s(?:%s%s)*" % (_NORMAL_NAME, re.escape(separator), _NORMAL_NAME))
                      for separator in ",|"}


def normal_domain_list(text: str, separator: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(names, names after `~`) of a domain list already in normal form, split at once; None if it is not."""
    if _NORMAL_NAME_LISTS[separator].fullmatch(text) is None:
        return None
    names = text.split(separator)
    if "~" not in text:
        return tuple(names), ()
    return tuple(name for name in names if name[0] != "~"), tuple(name[1:] for name in names if name[0] == "~")


_psl = PublicSuffixList()


@functools.lru_cache(maxsize=16384)
def public_suffix(host: str) -> str | None:
    """The public suffix of a host (`news.bbc.co.uk` -> `co.uk`); None for an IP address or no host."""
    if not host or is_ip_address(host):
        return None
    return _psl.publicsuffix(host)


@functools.lru_cache(maxsize=16384)
def registrable_domain(host: str) -> str:
    """eTLD+1 of a host (`news.bbc.co.uk` -> `bbc.co.uk`); an IP address or bare suffix is itself."""
    if not host:
        return ""
    if is_ip_address(host):
        return host
    return _psl.privatesuffix(host) or host


@functools.lru_cache(maxsize=4096)
def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_third_party(host: str, source_host: str | None) -> bool:
    """Third party when the registrable domains differ; a request without a known source is third-party."""
    if not source_host:
        return True
    return registrable_domain(host) != registrable_domain(source_host)


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which made
# building one cost 0.9 us against 0.2 us, once or twice for every flow. Nothing changes a Request
# once made; `dataclasses.replace` makes another.
@dataclass(slots=True)
class Request:
    """One request as the filters see it (a value: made once, never changed)."""

    url: str
    host: str
    type: str
    source_url: str | None
    source_host: str
    method: str
    has_cookie: bool = False  # the request carries a Cookie header (known when built from a flow)

    # Derived on demand: the engine works from the URL itself, and the proxy asks for neither.
    @property
    def scheme(self) -> str:
        colon = self.url.find(":")
        if colon > 0 and self.url[:colon].isalnum():
            return self.url[:colon].lower()
        return urlsplit_safe(self.url)[0].lower()

    @property
    def third_party(self) -> bool:
        return is_third_party(self.host, self.source_host)

    @classmethod
    def from_strings(
        cls,
        url: str,
        source_url: str | None = None,
        request_type: str | None = "other",
        method: str = "GET",
        *,
        has_cookie: bool = False,
        host: str | None = None,
    ) -> Request:
        """Build a request from its URL, the page URL that made it, and its type name (and host, if known)."""
        return cls(
            url,
            normalize_host(host) if host is not None else host_of(url),
            request_type if request_type in _TYPE_NAMES else normalize_type(request_type),
            source_url or None,
            host_of(source_url) if source_url else "",
            "GET" if method == "GET" else (method or "GET").upper(),
            has_cookie,
        )
