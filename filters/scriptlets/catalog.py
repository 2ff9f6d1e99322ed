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
from collections.abc import Iterable
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
    library: tuple[str, ...] = ()  # the library files it uses (`lib.js` first), in the order they must run


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


def library(files: Iterable[str] | None = None) -> str:
    """The shared library's source (statements that define `dj`): the `files` named, else all of it, in load order."""
    sources = _library_sources()
    wanted = set(files) if files is not None else set(sources)
    return "\n".join(sources[name] for name in _load_order() if name in wanted)


@functools.lru_cache(maxsize=1)
def _load_order() -> tuple[str, ...]:
    """Library files, each after the files whose parts it uses (`lib.js`, which defines `dj`, first)."""
    providers, sources = _providers(), _library_sources()
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise CatalogError(f"library files use each other in a circle: {' -> '.join((*path, name))}")
        for part in _USES.findall(sources[name]):
            file = providers.get(part)
            if file is not None and file != name:
                visit(file, (*path, name))
        order.append(name)

    for name in sources:  # lib.js first: it uses no other file
        visit(name, ())
    return tuple(order)


@functools.lru_cache(maxsize=1)
def _library_sources() -> dict[str, str]:
    """Each library file's source by name, `lib.js` first (it defines `dj`; "-" sorts before ".")."""
    sources = {}
    for path in sorted(JS_FOLDER.glob("lib*.js"), key=lambda p: (p.name != "lib.js", p.name)):
        text = path.read_text(encoding="utf-8")
        _check_safe(path.name, text)
        sources[path.name] = _without_comment_lines(text.strip())
    return sources


def _without_comment_lines(source: str) -> str:
    """The source without its whole-line `//` comments: they would only make every page larger."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))


# A library file other than lib.js adds one part to `dj` (`dj.net = ...`); a script uses it by name.
_PROVIDES = re.compile(r"^dj\.(\w+)\s*=", re.M)
_USES = re.compile(r"\bdj\.(\w+)")


@functools.lru_cache(maxsize=1)
def _providers() -> dict[str, str]:
    """`dj` part -> the library file that defines it."""
    found: dict[str, str] = {}
    for name, source in _library_sources().items():
        if name == "lib.js":
            continue
        for part in _PROVIDES.findall(source):
            if found.setdefault(part, name) != name:
                raise CatalogError(f"{name}: dj.{part} is also defined in {found[part]}")
    return found


def library_files(source: str) -> tuple[str, ...]:
    """The library files a script needs (those its `dj.x` parts come from, and theirs), in load order."""
    providers, sources = _providers(), _library_sources()
    needed = {"lib.js"}
    pending = [source]
    while pending:
        for part in _USES.findall(pending.pop()):
            file = providers.get(part)
            if file is not None and file not in needed:
                needed.add(file)
                pending.append(sources[file])
    return tuple(name for name in _load_order() if name in needed)


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
    source = _without_comment_lines("\n".join(body_lines).strip().rstrip(";"))
    if not source.startswith("function"):
        raise CatalogError(f"{path.name}: the body must be one function expression")
    aliases = tuple(a for line in fields.get("alias", ()) for a in line.split())
    return Scriptlet(fields["name"][0], aliases, trusted == "yes", source, path.name, library_files(source))


def _check_safe(file: str, text: str) -> None:
    # ASCII only: the script goes into pages of any encoding, and its CSP hash is of its UTF-8 bytes.
    if not text.isascii():
        raise CatalogError(f"{file}: holds characters outside ASCII (write them as \\u escapes)")
    if _UNSAFE_IN_HTML.search(text):
        raise CatalogError(f"{file}: contains text that would end or confuse an inline <script>")
