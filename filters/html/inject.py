"""What dejunk puts into a page: one `<script>` (scriptlets) and one `<style>` at the start of `<head>`,
and the page's Content-Security-Policy adjusted so that exactly those may run, nothing else.

A policy that already allows inline scripts (or styles) is left alone. One that allows them by
nonce gets the nonce on dejunk's element; one that allows them by hash only, or not at all, gets
the SHA-256 of dejunk's element added to the directive in force (`script-src-elem`, else
`script-src`, else `default-src`), which allows that one element and changes nothing else, since
such a directive did not honour `'unsafe-inline'` anyway. A directive of `'none'` is respected: the
element is left out. A `<meta http-equiv>` policy applies only to what comes after it; dejunk's
elements come first, and still carry its nonce.
"""

from __future__ import annotations

import base64
import hashlib
import re
from .source import DOCTYPE, START, tokenize

_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]+)'")
_HASH = re.compile(r"'sha(?:256|384|512)-", re.I)
_PREFIX = 65536  # the head starts well within this many characters, or the page is tokenized whole


class Policies:
    """A page's Content-Security-Policy headers, adjusted element by element as dejunk adds its own."""

    def __init__(self, enforced: tuple[str, ...] = (), report_only: tuple[str, ...] = (), *, xml: bool = False,
                 page_nonce: str | None = None):
        self.original = (tuple(enforced), tuple(report_only))
        self.enforced = list(enforced)
        self.report_only = list(report_only)
        self.xml = xml
        self.page_nonce = page_nonce  # a nonce the page's `<meta>` policy gives its scripts
        self.left_out: list[str] = []  # why an element was not added

    @property
    def changed(self) -> bool:
        return (tuple(self.enforced), tuple(self.report_only)) != self.original

    def element(self, tag: str, content: str, attributes: str = ' data-dejunk=""') -> str:
        """`<tag>content</tag>` with what the policies need for it to apply; '' if they allow no such element."""
        if not content:
            return ""
        seen = content  # the element's text as the browser has it: what a CSP hash is of
        if self.xml:  # the XML parser turns the entities back into the characters
            content = content.replace("&", "&amp;").replace("<", "&lt;")
        directives = _SCRIPT_DIRECTIVES if tag == "script" else _STYLE_DIRECTIVES
        digest = "'sha256-" + base64.b64encode(hashlib.sha256(seen.encode("utf-8")).digest()).decode() + "'"
        nonce = self.page_nonce if tag == "script" else None
        adjusted = []
        for values, enforced in ((self.enforced, True), (self.report_only, False)):
            changed_values = []
            for policy in values:
                allowed, policy_nonce, changed = _allow(policy, directives, digest, nonce)
                if policy_nonce and nonce is None:
                    nonce = policy_nonce
                if not allowed and enforced:
                    self.left_out.append(f"{tag}: the page's Content-Security-Policy allows none")
                    return ""
                changed_values.append(changed)
            adjusted.append(changed_values)
        self.enforced, self.report_only = adjusted
        attribute = f' nonce="{nonce}"' if nonce else ""
        return f"<{tag}{attributes}{attribute}>{content}</{tag}>"


_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
_STYLE_DIRECTIVES = ("style-src-elem", "style-src", "default-src")


def head_point(text: str) -> int:
    """Where injected elements go: right after `<head>`, or before the first element of the page's head or body."""
    # Before any script of the page: an element before <head> opens the head implicitly, and a
    # script there lands in it.
    if len(text) > _PREFIX:
        point = _head_point(text[:_PREFIX], final=False)
        if point is not None:
            return point
    return _head_point(text, final=True)


def head_point_so_far(text: str, final: bool) -> int | None:
    """`head_point` of a page of which `text` is the start; None while more is needed to tell (unless `final`)."""
    return _head_point(text, final)


def _head_point(text: str, final: bool) -> int | None:
    tokens = tokenize(text)
    point = 0
    for token in range(len(tokens.kinds)):
        kind = tokens.kinds[token]
        if kind == DOCTYPE:
            point = tokens.ends[token]
        elif kind == START:
            name = tokens.names[token]
            if name == "html":
                point = tokens.ends[token]
                continue
            return tokens.ends[token] if name == "head" else tokens.starts[token]
    return point if final else None


def meta_nonce(text: str, point: int) -> str | None:
    """The script nonce a `<meta http-equiv=Content-Security-Policy>` in the page's head names, if any."""
    head = text[point:point + _PREFIX]
    for match in re.finditer(r"<meta\b[^>]*http-equiv\s*=\s*[\"']?content-security-policy[^>]*>", head, re.I):
        content = re.search(r"content\s*=\s*(\"[^\"]*\"|'[^']*')", match.group(0), re.I)
        if content:
            nonce = _directive_nonce(content.group(1)[1:-1], _SCRIPT_DIRECTIVES)
            if nonce:
                return nonce
    return None


def _allow(policy: str, directives: tuple[str, ...], digest: str, nonce: str | None) -> tuple[bool, str | None, str]:
    """(allowed, the policy's nonce, the policy with what it takes for the element to run)."""
    # A header may hold several policies separated by commas; each must allow the element.
    parts = policy.split(",")
    allowed = True
    found_nonce = None
    for index, part in enumerate(parts):
        ok, part_nonce, changed = _allow_one(part, directives, digest, nonce)
        allowed = allowed and ok
        found_nonce = found_nonce or part_nonce
        parts[index] = changed
    return allowed, found_nonce, ",".join(parts)


def _allow_one(policy: str, directives: tuple[str, ...], digest: str, nonce: str | None) -> tuple[bool, str | None, str]:
    entries = policy.split(";")
    for wanted in directives:
        for index, entry in enumerate(entries):
            words = entry.split()
            if not words or words[0].lower() != wanted:
                continue
            sources = words[1:]
            lowered = [source.lower() for source in sources]
            if lowered == ["'none'"] or not sources:
                return False, None, policy
            nonces = [m.group(1) for m in map(_NONCE.fullmatch, sources) if m]
            hashes = any(_HASH.match(source) for source in sources)
            if "'unsafe-inline'" in lowered and not nonces and not hashes and "'strict-dynamic'" not in lowered:
                return True, None, policy
            if nonce is not None and nonce in nonces:
                return True, nonce, policy
            if nonces and nonce is None:
                return True, nonces[0], policy  # the caller puts this nonce on the element
            if digest not in sources:
                lead = entry[: len(entry) - len(entry.lstrip())]
                entries[index] = f"{lead}{' '.join(words)} {digest}"
            return True, None, ";".join(entries)
    return True, None, policy  # no directive about it: anything inline runs


def _directive_nonce(policy: str, directives: tuple[str, ...]) -> str | None:
    for wanted in directives:
        for entry in policy.split(";"):
            words = entry.split()
            if words and words[0].lower() == wanted:
                for source in words[1:]:
                    match = _NONCE.fullmatch(source)
                    if match:
                        return match.group(1)
                return None
    return None


class StreamInjector:
    """A stream function for a page that is not held: it keeps the first bytes until it can tell where the
    head starts, puts `markup` there, and passes everything after as it comes.

    For pages in an ASCII-compatible encoding sent without Content-Encoding (the caller checks). The
    markup always goes in exactly once, so a Content-Length grown by its size stays true: where no head
    shows within the first `limit` bytes, it goes after what leads the page (doctype, `<html>`).
    """

    def __init__(self, markup: bytes, limit: int = _PREFIX):
        self.markup = markup
        self.limit = limit
        self.kept = bytearray()
        self.done = False

    def __call__(self, chunk: bytes) -> bytes:
        if self.done:
            return chunk
        self.kept += chunk
        final = not chunk or len(self.kept) >= self.limit  # b"" is the end of the body
        # Latin-1 maps each byte to one character: offsets in the text are offsets in the bytes.
        point = head_point_so_far(bytes(self.kept[: self.limit]).decode("latin-1"), final)
        if point is None:
            return b""
        kept, self.kept = bytes(self.kept), bytearray()
        self.done = True
        return kept[:point] + self.markup + kept[point:]
