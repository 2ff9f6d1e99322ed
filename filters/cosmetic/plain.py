"""Plain CSS selectors read without soupsieve: their index keys, and whether soupsieve accepts them.

Most non-procedural selectors in real lists are compounds of a tag, classes, ids, attribute tests and a
few pseudo-classes, joined by combinators, perhaps with `:not()` or `:has()`: `a[href^="https://x/"] > img`,
`div.ad.banner`, `div:not([class])`, `.card:has(> .sponsored)`. Compiling each with soupsieve only to read
its keys (and, in a fresh process, first compiling soupsieve's own patterns) cost about a sixth of a first
build of the corpus lists. This narrow grammar is a subset of what soupsieve accepts, and `plain_keys` reads from it the same
keys `selectors` reads from soupsieve's parse (a test compares both on every selector of the corpus
lists). Whatever falls outside the grammar goes to soupsieve.
"""

from __future__ import annotations

import re

try:
    # Attributes whose values soupsieve compares ignoring case in HTML (`type`, `target`...).
    from soupsieve.css_parser import HTML_CASE_INSENSITIVE_ATTRIBUTES as _CASE_BLIND
except ImportError:  # a soupsieve without it: selectors with attribute tests are left to soupsieve
    _CASE_BLIND = None

# An identifier, as soupsieve reads one; escapes of a character other than a hex digit or a line break stand
# for that character (`.md\\:flex` is the class `md:flex`), hex escapes are left to soupsieve. (Negated
# classes of ASCII and C1 characters: the regexes below hold dozens of them, quick to compile.)
_IDENT = (r"-?(?:[^\x00-\x40\x5b-\x5e\x60\x7b-\x9f]|\\[^0-9a-fA-F\r\n\f])"
          r"(?:[^\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x9f]|\\[^0-9a-fA-F\r\n\f])*")
_STRING = r"\"([^\"\\\r\n\f]*)\"|'([^'\\\r\n\f]*)'"
# Groups: tag; class/id marker, name; attribute name, operator, "value", 'value', bare value, case flag;
# simple pseudo-class (soupsieve's `:-soup-contains()` too, which `:has-text()` becomes); opening
# `:not(`/`:has(`; `)`; comma; combinator.
_TOKEN = re.compile(
    r"(%(i)s|\*)|([.#])(%(i)s)"
    r"|\[(%(i)s)(?:([~|^$*]?=)(?:%(s)s|(%(i)s))(?: +([is]))?)?\]"
    r"|:(root|empty|scope|first-child|last-child|only-child|first-of-type|last-of-type|only-of-type"
    r"|-soup-contains\((?:\"[^\"\\\r\n\f]*\"|'[^'\\\r\n\f]*')\))"
    r"|:(not|has)\(|(\))|( *, *)|( *[>+~] *| +)" % {"i": _IDENT, "s": _STRING}
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

# The same grammar as one regex, for `accepts`, with `:not()` and `:has()` nested one level deep. A compound
# is an optional tag and parts, not empty (the look-ahead): each level holds its parts' pattern twice.
_PART = (r"(?:[.#]%(i)s|\[%(i)s(?:[~|^$*]?=(?:\"[^\"\\\r\n\f]*\"|'[^'\\\r\n\f]*'|%(i)s)(?: +[is])?)?\]"
         r"|:(?:root|empty|scope|first-child|last-child|only-child|first-of-type|last-of-type|only-of-type"
         r"|-soup-contains\((?:\"[^\"\\\r\n\f]*\"|'[^'\\\r\n\f]*')\)))" % {"i": _IDENT})


def _selectors_of(part: str, nested: bool) -> str:
    """A regex for a selector list whose compounds are made of `part`s (inside `:has()` when `nested`)."""
    compound = r"(?=[^ ,>+~)])(?:%s|\*)?%s*" % (_IDENT, part)
    comma = r" *, *(?:[>+~] *)?" if nested else r" *, *"
    return r"%s%s(?:(?: *[>+~] *| +|%s)%s)*" % (r"(?:[>+~] *)?" if nested else "", compound, comma, compound)


_NESTED = r"(?:%s|:not\(%s\)|:has\(%s\))" % (_PART, _selectors_of(_PART, False), _selectors_of(_PART, True))
_ACCEPTED = re.compile(_selectors_of(_NESTED, False))


def accepts(selector: str) -> bool:
    """True if `parse` reads the selector (one regex, for the many lines only checked at a build); False if it
    does not, or nests `:not()`/`:has()` in one another."""
    return _ACCEPTED.fullmatch(selector) is not None


def _unescaped(name: str) -> str:
    return _ESCAPE.sub(r"\1", name) if "\\" in name else name


class _Compound:
    """One compound selector: what `_required` and `_compound_key` in `selectors` read of soupsieve's."""

    __slots__ = ("classes", "ids", "attributes", "tag", "has")

    def __init__(self):
        self.classes: list[str] = []
        self.ids: list[str] = []
        self.attributes: list[tuple] = []  # (lower-cased name, pattern source or None, ignore case)
        self.tag: str | None = None
        self.has: list[list[list[_Compound]]] = []  # each `:has()`'s alternatives


def parse(selector: str) -> list[list[_Compound]] | None:
    """A selector in the plain grammar as alternatives of compounds (left to right); None if it is not one."""
    try:
        alternatives, position = _parse_list(selector, 0, None)
    except _NotPlain:
        return None
    return alternatives if position == len(selector) else None


class _NotPlain(Exception):
    pass


def _parse_list(text: str, position: int, nested: str | None) -> tuple[list[list[_Compound]], int]:
    """Alternatives from `position` to the end (`nested` None) or to the `)` closing `:not(`/`:has(`."""
    alternatives: list[list[_Compound]] = []
    compounds: list[_Compound] = []
    compound = _Compound()
    empty = True  # nothing in `compound` yet
    led = False  # the alternative started with a combinator
    end = len(text)
    match = _TOKEN.match
    while True:
        token = match(text, position) if position < end else None
        if token is None:
            if nested is not None or empty:
                raise _NotPlain  # unclosed, dangling combinator or comma, or a character outside the grammar
            compounds.append(compound)
            alternatives.append(compounds)
            return alternatives, position
        position = token.end()
        (tag, marker, name, attribute, operator, double, single, bare, case, pseudo, opened, closed, comma,
         combinator) = token.groups()
        if closed is not None or comma is not None or combinator is not None:
            if empty:
                # Only `:has()` may start with a combinator (`:has(> .x)`), written with nothing before it.
                if not (combinator and nested == "has" and not compounds and not led and combinator[0] != " "
                        and combinator.strip()):
                    raise _NotPlain
                led = True
                continue
            compounds.append(compound)
            compound = _Compound()
            empty = True
            if combinator is not None:
                continue
            alternatives.append(compounds)
            compounds = []
            led = False
            if closed is not None:
                if nested is None:
                    raise _NotPlain
                return alternatives, position
            continue
        if tag is not None:
            if not empty:
                raise _NotPlain
            compound.tag = _unescaped(tag)
        elif marker is not None:
            (compound.classes if marker == "." else compound.ids).append(_unescaped(name))
        elif attribute is not None:
            compound.attributes.append(_attribute(attribute, operator, double, single, bare, case))
        elif opened is not None:
            inner, position = _parse_list(text, position, opened)
            if opened == "has":
                compound.has.append(inner)
        # a simple pseudo-class changes no key
        empty = False


def _attribute(name: str, operator: str | None, double, single, bare, case) -> tuple:
    lowered = _unescaped(name).lower()
    if _CASE_BLIND is None:
        raise _NotPlain
    if case:
        ignore_case = case == "i"
    else:
        ignore_case = _ascii_lower(lowered) in _CASE_BLIND
    if operator is None:
        return (lowered, None, ignore_case)
    value = double if double is not None else single if single is not None else _unescaped(bare)
    return (lowered, attribute_pattern(operator, _ascii_lower(value) if ignore_case else value), ignore_case)


_UPPER_ASCII = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _ascii_lower(text: str) -> str:
    return text.translate(_UPPER_ASCII)


# soupsieve builds attribute patterns as a fixed prefix and suffix around `re.escape(value)`.
PATTERN_PREFIXES = ("(?:(?<=^)|(?<=[ \\t\\r\\n\\f]))", "^")
PATTERN_SUFFIXES = ("(?=(?:[ \\t\\r\\n\\f]|\\Z))", "(?:-.*)?\\Z", "\\Z")
# What a compiled attribute pattern reports as its flags: DOTALL, and UNICODE as every str pattern.
PATTERN_FLAGS = re.compile("", re.DOTALL).flags
_SPACE = re.compile(r"[ \t\r\n\f]")


def attribute_pattern(operator: str, value: str) -> str:
    """The regex source soupsieve tests an attribute value with (`value` already lower-cased if need be)."""
    if operator == "~=":
        # A word: never one with spaces in it, nor an empty one.
        word = "(?!)" if not value or _SPACE.search(value) else re.escape(value)
        return PATTERN_PREFIXES[0] + word + PATTERN_SUFFIXES[0]
    if not value and operator in ("^=", "$=", "*="):
        return "^(?!)" if operator == "^=" else "(?!)"  # an empty prefix, suffix or substring matches nothing
    escaped = re.escape(value)
    if operator == "^=":
        return "^" + escaped
    if operator == "$=":
        return escaped + "\\Z"
    if operator == "*=":
        return escaped
    if operator == "|=":
        return "^" + escaped + PATTERN_SUFFIXES[1]
    return "^" + escaped + "\\Z"


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def attribute_literal(pattern: str) -> str | None:
    """The lower-case text any value a soupsieve attribute pattern matches contains; None if unknown."""
    # Lower-cased, it serves case-insensitive patterns too. Patterns that match nothing (`[a^=""]`) get a NUL
    # character, which no parsed attribute value contains.
    if pattern in ("(?!)", "^(?!)"):
        return "\0"
    core = pattern
    for prefix in PATTERN_PREFIXES:
        if core.startswith(prefix):
            core = core[len(prefix) :]
            break
    for suffix in PATTERN_SUFFIXES:
        if core.endswith(suffix):
            core = core[: -len(suffix)]
            break
    literal = _ESCAPED.sub(r"\1", core)
    if re.escape(literal) != core or not literal:
        return None
    return literal.lower()


def plain_keys(selector: str) -> tuple[tuple, frozenset] | None:
    """(element keys, gate) of a plain selector, as `selectors` defines them; None if it is not plain."""
    alternatives = parse(selector)
    if alternatives is None:
        return None
    keys = tuple(_key(compounds[-1]) for compounds in alternatives)
    shared = None
    for compounds in alternatives:
        required = _required(compounds, True)
        shared = required if shared is None else shared & required
    return keys, frozenset(shared)


def _key(compound: _Compound) -> tuple:
    if compound.ids:
        return ("id", compound.ids[0])
    if compound.classes:
        return ("class", max(compound.classes, key=len))
    for name, pattern, ignore_case in compound.attributes:
        if pattern is not None:
            return ("attr", name, pattern, PATTERN_FLAGS, ignore_case, attribute_literal(pattern))
    if compound.attributes:
        return ("attr", compound.attributes[0][0], None, 0, False, None)
    if compound.tag is not None and compound.tag != "*":
        return ("tag", compound.tag.lower())
    return ("any",)


def _required(compounds: list[_Compound], matched_element: bool) -> set:
    """Classes, ids and attribute texts an alternative needs on the page (the matched element's own
    attributes aside, which its key tests); `:has()` with one alternative adds its own, `:not()` nothing."""
    required: set = set()
    last = len(compounds) - 1
    for number, compound in enumerate(compounds):
        required.update("." + name for name in compound.classes)
        required.update("#" + value for value in compound.ids)
        if number != last or not matched_element:
            for name, pattern, _ in compound.attributes:
                literal = None if pattern is None else attribute_literal(pattern)
                if literal is not None:
                    required.add(f"@{name}\0{literal}")
        for inner in compound.has:
            if len(inner) == 1:
                required |= _required(inner[0], False)
    return required


def one_compound(selector: str) -> bool | None:
    """Whether a plain selector is one compound per alternative (no combinator); None if it is not plain."""
    alternatives = parse(selector)
    if alternatives is None:
        return None
    return all(len(compounds) == 1 for compounds in alternatives)
