"""Rules that put something into a page: scriptlets (`##+js(...)`) and CSS (`##sel:style(...)`, `#$#`).

They are kept by host like site-specific hiding rules, and answered for a page as plain data: the
scriptlet calls to run (in list order) and the CSS rules to add. Exceptions follow uBlock Origin:
`site#@#+js(name, args)` switches off that call (by name, any alias, and arguments), `site#@#+js()`
every scriptlet on the site; `#@#sel:style(...)` that style rule. Trusted-only scriptlets are kept
only from trusted lists (`FilterList.trusted`); others are skipped and counted with that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..scriptlets.calls import ScriptletCall, ScriptletError, parse_call
from ..scriptlets.catalog import lookup
from .selectors import SelectorError, Unsupported

SCRIPTLET = "scriptlet"
STYLE = "style"


@dataclass(frozen=True, slots=True)
class InjectedRule:
    """A scriptlet call or a CSS rule for the pages of some sites (or every site when `domains` is empty)."""

    text: str
    list: str
    line: int
    kind: str  # SCRIPTLET or STYLE
    key: str  # what an exception names: the call with its canonical name, or the selector and style
    call: ScriptletCall | None = None  # SCRIPTLET: the call, under the scriptlet's canonical name
    css: str = ""  # STYLE with a CSS selector: `selector{declarations}`, every declaration !important
    domains: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    # STYLE with a procedural selector, applied by the page runtime: the selector, ((property, value), ...), and
    # its `:matches-path()` test if any
    selector: str = ""
    declarations: tuple[tuple[str, str], ...] = ()
    path: tuple | None = None

    @property
    def generic(self) -> bool:
        return not self.domains

    def where(self) -> str:
        return f"{self.list}:{self.line}"


@dataclass(frozen=True, slots=True)
class InjectedException:
    """`#@#+js(...)`, `#@#+js()` (key ''), `#@#sel:style(...)`: switches off matching rules where it applies."""

    text: str
    list: str
    line: int
    kind: str
    key: str  # '' for `#@#+js()`: every scriptlet
    domains: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


def scriptlet_key(call: ScriptletCall) -> str:
    """The form exceptions are compared in: canonical name, then the arguments."""
    return "\x1f".join((call.name, *call.args))


def parse_scriptlet(body: str, *, exception: bool, trusted: bool) -> tuple[str, ScriptletCall | None]:
    """The inside of `+js(...)` -> (key, call with canonical name); call None for `#@#+js()`.

    Unsupported for an unknown scriptlet or a trusted-only one from an untrusted list (rules only:
    an exception may name anything); SelectorError for a body that cannot be read.
    """
    # Lists repeat calls for many sites (`+js(aopr, ...)`): each is read once. The answer is immutable.
    key = (body, exception, trusted)
    found = _SCRIPTLETS.get(key)
    if found is None:
        try:
            found = _read_scriptlet(body, exception, trusted)
        except (Unsupported, SelectorError) as error:
            found = (type(error), str(error))
        if len(_SCRIPTLETS) >= _SCRIPTLETS_LIMIT:
            _SCRIPTLETS.clear()
        _SCRIPTLETS[key] = found
    if found[0] is Unsupported or found[0] is SelectorError:
        raise found[0](found[1]) from None
    return found


# (body, exception, trusted) -> what `parse_scriptlet` gives, or (error class, message).
_SCRIPTLETS: dict[tuple[str, bool, bool], tuple] = {}
_SCRIPTLETS_LIMIT = 16384


def _read_scriptlet(body: str, exception: bool, trusted: bool) -> tuple[str, ScriptletCall | None]:
    if not body.strip():
        if exception:
            return "", None
        raise SelectorError("+js() names no scriptlet")
    try:
        call = parse_call(body)
    except ScriptletError as error:
        raise SelectorError(f"bad scriptlet call: {error}") from None
    scriptlet = lookup(call.name)
    if scriptlet is None:
        if exception:
            return scriptlet_key(call), call
        raise Unsupported(f"unknown scriptlet ({call.name})")
    if scriptlet.trusted and not trusted and not exception:
        raise Unsupported(f"trusted-only scriptlet ({scriptlet.name}) in an untrusted list")
    canonical = ScriptletCall(scriptlet.name, call.args)
    return scriptlet_key(canonical), canonical


_STYLE_SUFFIX = re.compile(r":style\((.*)\)\s*$", re.DOTALL)
_ADGUARD_CSS = re.compile(r"^(.*?)\s*\{(.*)\}\s*$", re.DOTALL)
# Declarations that could fetch something or run script: uBO refuses them in `:style()` too.
_UNSAFE_DECLARATIONS = re.compile(r"url\s*\(|image-set\s*\(|expression\s*\(|@import|-moz-binding|behavior\s*:|\\", re.I)


def style_parts(body: str, adguard: bool) -> tuple[str, str] | None:
    """(selector, declarations) of a `sel:style(decls)` body or an AdGuard `sel { decls }` one; None if not one."""
    match = (_ADGUARD_CSS if adguard else _STYLE_SUFFIX).search(body)
    if match is None:
        return None
    if adguard:
        return match.group(1).strip(), match.group(2).strip()
    return body[: match.start()].strip(), match.group(1).strip()


def style_css(selector: str, declarations: str) -> str:
    """`selector{declarations}` with each declaration made !important. SelectorError if it is unsafe or unusable."""
    if not selector:
        raise SelectorError(":style() needs a selector")
    if any(c in selector for c in "{}<"):
        raise SelectorError(":style() selectors cannot hold braces or '<'")
    kept = [f"{name}: {value} !important" for name, value in style_declarations(declarations)]
    return f"{selector}{{{';'.join(kept)}}}"


_IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.I)


def style_declarations(declarations: str) -> tuple[tuple[str, str], ...]:
    """`a: b !important; c: d` -> (("a", "b"), ("c", "d")). SelectorError if unsafe (could load or run something)."""
    if _UNSAFE_DECLARATIONS.search(declarations) or any(c in declarations for c in "{}<"):
        raise SelectorError(":style() declarations that could load or run something are refused")
    found = []
    for declaration in declarations.split(";"):
        declaration = declaration.strip()
        if not declaration:
            continue
        name, colon, value = declaration.partition(":")
        value = _IMPORTANT.sub("", value).strip()
        if not colon or not name.strip() or not value:
            raise SelectorError(f"bad declaration {declaration!r} in :style()")
        found.append((name.strip().lower(), value))
    if not found:
        raise SelectorError(":style() with no declaration")
    return tuple(found)
