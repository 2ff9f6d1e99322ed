"""The scriptlets dejunk has: one JavaScript file each under `js/`, with a header naming it.

A scriptlet file starts with `///` header lines, then holds one JavaScript function expression:

    /// name abort-on-property-read
    /// alias aopr
    /// trusted no
    function (chain) { ... }

`name` is uBlock Origin's name for it, `alias` (any number) the other names lists use, and
`trusted yes` marks one that only trusted lists may use. The function gets the rule's arguments as
strings; inside it, `dj` is the shared library (`js/lib*.js`, each file adding to it).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

JS_FOLDER = Path(__file__).resolve().parent / "js"
_HEADER = re.compile(r"///[ \t]*(\w+)[ \t]+(.*)")
# What must never appear in a script that goes inside an HTML `<script>` element.
_UNSAFE_IN_HTML = re.compile(r"</script|<!--|<script", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Scriptlet:
    """One scriptlet: its name, other names, whether it needs a trusted list, and its function's source."""

    name: str
    aliases: tuple[str, ...]
    trusted: bool
    source: str  # a JavaScript function expression
    file: str


class CatalogError(RuntimeError):
    """A scriptlet file that cannot be used (a bug in dejunk, found when the catalog is read)."""


@functools.lru_cache(maxsize=1)
def catalog() -> dict[str, Scriptlet]:
    """Every scriptlet by each of its names (`name`, `name.js`, aliases)."""
    found: dict[str, Scriptlet] = {}
    for path in sorted(JS_FOLDER.glob("*.js")):
        if path.name.startswith("lib"):
            continue
        scriptlet = _read(path)
        for name in (scriptlet.name, *scriptlet.aliases):
            for spelling in (name, name + ".js"):
                if spelling in found:
                    raise CatalogError(f"{path.name}: {spelling!r} is also {found[spelling].file}")
                found[spelling] = scriptlet
    return found


@functools.lru_cache(maxsize=1)
def library() -> str:
    """The shared library's source: statements that define `dj`."""
    parts = []
    # lib.js defines `dj`; the `lib-<topic>.js` files add to it, so it goes first (`-` sorts before `.`).
    for path in sorted(JS_FOLDER.glob("lib*.js"), key=lambda path: (path.name != "lib.js", path.name)):
        text = path.read_text(encoding="utf-8")
        _check_safe(path.name, text)
        parts.append(text.strip())
    return "\n".join(parts)


def lookup(name: str) -> Scriptlet | None:
    """The scriptlet a rule names (by name, alias or `name.js`), or None."""
    return catalog().get(name)


def _read(path: Path) -> Scriptlet:
    text = path.read_text(encoding="utf-8")
    _check_safe(path.name, text)
    fields: dict[str, list[str]] = {}
    body_lines = []
    for line in text.splitlines():
        header = _HEADER.fullmatch(line.strip()) if not body_lines else None
        if header:
            fields.setdefault(header.group(1), []).append(header.group(2).strip())
        elif line.strip() or body_lines:
            body_lines.append(line)
    if len(fields.get("name", ())) != 1:
        raise CatalogError(f"{path.name}: needs exactly one `/// name` line")
    trusted = fields.get("trusted", ["no"])[-1]
    if trusted not in ("yes", "no"):
        raise CatalogError(f"{path.name}: `/// trusted` is yes or no, not {trusted!r}")
    source = "\n".join(body_lines).strip().rstrip(";")
    if not source.startswith("function"):
        raise CatalogError(f"{path.name}: the body must be one function expression")
    aliases = tuple(a for line in fields.get("alias", ()) for a in line.split())
    return Scriptlet(fields["name"][0], aliases, trusted == "yes", source, path.name)


def _check_safe(file: str, text: str) -> None:
    if _UNSAFE_IN_HTML.search(text):
        raise CatalogError(f"{file}: contains text that would end or confuse an inline <script>")
