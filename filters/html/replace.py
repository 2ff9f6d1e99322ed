"""Response bodies changed by `$replace=` rules: read as text in their encoding, replaced, written back.

A page worker (`filters.proxy.pool.run_page`) calls `replace_body` with the body already decoded
from its Content-Encoding, before the cosmetic rewrite of an HTML page. The text is read as a
browser reads it (an HTML page: BOM, header, `<meta>`, sniffed; anything else: BOM, header, else
UTF-8); undecodable bytes ride along as lone surrogates and come back as the same bytes, so only
what a rule matched changes. `replaceable` says which responses can be changed at all: text, by
their Content-Type, never images, media, fonts or sockets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..network.replace import ReplaceError, parse_replace_value
from . import charset
from .rewrite import check_deadline

# Besides text/*: the types uBO changes, and the structured-syntax suffixes of text formats.
_TEXT_TYPES = frozenset({
    "application/javascript", "application/x-javascript", "application/ecmascript", "application/json",
    "application/xml", "application/xhtml+xml", "application/mpegurl", "application/x-mpegurl",
    "application/vnd.apple.mpegurl", "application/vnd.apple.mpegurl.audio", "audio/mpegurl", "audio/x-mpegurl",
    "application/vnd.api+json",
})
_BINARY_REQUESTS = frozenset({"image", "media", "font", "websocket", "object"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def replaceable(content_type: str | None, request_type: str) -> bool:
    """Whether a response with this Content-Type, to a request of this type, is text `$replace` may change."""
    if request_type in _BINARY_REQUESTS:
        return False
    mime = (content_type or "").partition(";")[0].strip().lower()
    if not mime:
        return request_type in ("script", "stylesheet")  # what a browser reads such a body as
    return mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+json", "+xml"))


@dataclass(slots=True)
class Replaced:
    """What `replace_body` did: the new body, the rules that changed it, or why nothing was tried."""

    body: bytes
    applied: tuple[str, ...] = ()  # the labels (rule and place) of the replacements that matched
    reason: str | None = None  # set when the body could not be read as text


def replace_body(body: bytes, content_type: str | None, replacements: Sequence[tuple[str, str]],
                 deadline: float | None = None) -> Replaced:
    """Apply `(value, label)` replacements in order to `body` (decoded from its Content-Encoding).

    PageTimeout once past `deadline` (`time.monotonic()`), checked between replacements.
    """
    mime = (content_type or "").partition(";")[0].strip().lower()
    if mime in _HTML_TYPES:
        encoding = charset.detect(body, content_type)
    else:
        encoding = charset.text_encoding(body, content_type)
    if encoding.stateful or not encoding.codec:
        return Replaced(body, reason=f"{encoding.name} bodies are not changed")
    text = charset.decode(body, encoding)
    applied = []
    for value, label in replacements:
        check_deadline(deadline)
        try:
            replacement = parse_replace_value(value)
        except ReplaceError as e:  # checked when the rule was read: only a changed engine gets here
            return Replaced(body, reason=str(e))
        text, count = replacement.apply(text)
        if count:
            applied.append(label)
    if not applied:
        return Replaced(body)
    try:
        encoded = body[: encoding.bom_length] + text.encode(encoding.codec, "surrogateescape")
    except UnicodeEncodeError as e:
        return Replaced(body, reason=f"the replaced text has characters {encoding.name} cannot hold ({e.reason})")
    if encoded == body:
        return Replaced(body, tuple(applied))
    return Replaced(encoded, tuple(applied))
