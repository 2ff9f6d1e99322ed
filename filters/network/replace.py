"""`$replace=` values: a JavaScript regex and replacement, applied to a response body with Python's `re`.

A value is `/regex/replacement/flags`, as uBlock Origin reads it: the parts end at a `/` that is
not escaped (`\\/` stands for `/`), the flags are JavaScript's (`g` every match, else the first;
`i`, `m`, `s`, `u`; `d` changes nothing here). The body is changed as JavaScript's
`String.prototype.replace` would change it, so the regex is translated where the two dialects
differ rather than handed to `re` as it is:

- `.` does not match `\\r`, U+2028 or U+2029 either (unless `s`); `$` is the very end of the text
  (Python's also matches before a final newline); with `m`, `^` and `$` know all four line ends;
- `\\d`, `\\w`, `\\b` are ASCII-only and `\\s` is JavaScript's white space (U+00A0, U+FEFF...);
- classes: `[^]` is any character, `[]` none, the first `]` closes, `\\S`/`\\W`/`\\D` may stand inside;
- `(?<name>...)` and `\\k<name>`; a back reference to a group that has not matched (or is not
  closed yet) matches the empty string; Annex B escapes (`\\a` is "a", `\\8` "8", `\\101` "A",
  `\\cJ` a newline, `x{` a brace);
- the replacement's `$$`, `$&`, `` $` ``, `$'`, `$1`..`$99`, `$<name>`; backslashes are literal.

A regex that cannot be translated (a lookbehind of variable width, `\\p{...}`, the sticky flag,
a syntax error) raises `ReplaceError`: the line is a bad line, reported with its list and line.
Python's case folding under `i` differs from JavaScript's for a few non-ASCII letters.

    replacement = parse_replace_value('/"enabled":\\s*true/"enabled":false/g')
    text, count = replacement.apply(body_text)
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

FLAGS = frozenset("dgimsu")
_LINE_ENDS = "\\n\\r\\u2028\\u2029"  # as a class body
_SPACE = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_WORD = "A-Za-z0-9_"
_DIGIT = "0-9"
_CLASS_ESCAPES = {"d": (True, _DIGIT), "D": (False, _DIGIT), "w": (True, _WORD), "W": (False, _WORD),
                  "s": (True, _SPACE), "S": (False, _SPACE)}
_CONTROL = {"f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
_QUANTIFIER = re.compile(r"\{(\d+)(?:(,)(\d*))?\}")
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_OCTAL = re.compile(r"[0-3][0-7]{0,2}|[4-7][0-7]?")
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")


class ReplaceError(ValueError):
    """A `$replace=` value that cannot be used: its reason says why."""


@dataclass(frozen=True, slots=True)
class Replacement:
    """A compiled `$replace=` value. `parts`: literals (str) and ("group", n), ("before",), ("after",)."""

    value: str
    regex: re.Pattern
    parts: tuple
    count: int  # 0: every match (`g`), 1: the first

    def apply(self, text: str) -> tuple[str, int]:
        """`text` with the replacement made, and how many matches were replaced."""
        parts = self.parts
        if all(part.__class__ is str for part in parts):
            literal = "".join(parts)
            return self.regex.subn(lambda match: literal, text, count=self.count)

        def expand(match: re.Match) -> str:
            out = []
            for part in parts:
                if part.__class__ is str:
                    out.append(part)
                elif part[0] == "group":
                    out.append(match.group(part[1]) or "" if part[1] is not None else "")
                elif part[0] == "before":
                    out.append(match.string[: match.start()])
                else:
                    out.append(match.string[match.end():])
            return "".join(out)

        return self.regex.subn(expand, text, count=self.count)


@functools.lru_cache(maxsize=1024)
def parse_replace_value(value: str) -> Replacement:
    """Compile a `/regex/replacement/flags` value. ReplaceError when it cannot be used."""
    if not value.startswith("/"):
        raise ReplaceError("$replace= wants /regex/replacement/flags")
    pattern_end = _separator(value, 1)
    if pattern_end < 0:
        raise ReplaceError("$replace= value without its closing /")
    pattern = value[1:pattern_end]
    if not pattern:
        raise ReplaceError("$replace= value without a regex")
    replacement_end = _separator(value, pattern_end + 1)
    if replacement_end < 0:
        raise ReplaceError("$replace= value without its closing /")
    replacement = _unescape_separator(value[pattern_end + 1 : replacement_end])
    flags = value[replacement_end + 1 :]
    if len(set(flags)) != len(flags) or not set(flags) <= FLAGS:
        raise ReplaceError(f"$replace= flags {flags!r}: JavaScript's are d, g, i, m, s, u (not the sticky y)")
    translated, groups, names = _Translator(pattern, flags).run()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarnings about set syntax Python may adopt one day
            regex = re.compile(translated, re.IGNORECASE if "i" in flags else 0)
    except re.error as e:
        if "look-behind" in str(e):
            raise ReplaceError("$replace= regex has a lookbehind of variable width (Python's re has none)") from None
        raise ReplaceError(f"$replace= regex cannot be used: {e}") from None
    except (RecursionError, OverflowError) as e:
        raise ReplaceError(f"$replace= regex cannot be used: {type(e).__name__}") from None
    return Replacement(value, regex, _replacement_parts(replacement, groups, names), 0 if "g" in flags else 1)


def _separator(value: str, start: int) -> int:
    """Index of the next `/` not escaped by a backslash, or -1."""
    i = start
    while i < len(value):
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if c == "/":
            return i
        i += 1
    return -1


def _unescape_separator(text: str) -> str:
    """`\\/` -> `/`; every other backslash stays (a JavaScript replacement string has no escapes)."""
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1] if text[i + 1] == "/" else text[i : i + 2])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _replacement_parts(replacement: str, groups: int, names: dict[str, int]) -> tuple:
    """JavaScript's replacement patterns (GetSubstitution) as literal strings and references."""
    parts: list = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            parts.append("".join(literal))
            literal.clear()

    i = 0
    n = len(replacement)
    while i < n:
        c = replacement[i]
        following = replacement[i + 1] if i + 1 < n else ""
        if c != "$" or not following:
            literal.append(c)
            i += 1
        elif following == "$":
            literal.append("$")
            i += 2
        elif following in "&`'":
            flush()
            parts.append(("group", 0) if following == "&" else ("before",) if following == "`" else ("after",))
            i += 2
        elif "0" <= following <= "9":
            two = replacement[i + 1 : i + 3]
            if len(two) == 2 and two.isdigit() and two.isascii() and 1 <= int(two) <= groups:
                flush()
                parts.append(("group", int(two)))
                i += 3
            elif 1 <= int(following) <= groups:
                flush()
                parts.append(("group", int(following)))
                i += 2
            else:
                literal.append("$")
                i += 1
        elif following == "<" and names:
            end = replacement.find(">", i + 2)
            if end < 0:
                literal.append("$")
                i += 1
            else:
                flush()
                parts.append(("group", names.get(replacement[i + 2 : end])))
                i = end + 1
        else:
            literal.append("$")
            i += 1
    flush()
    return tuple(parts)


def _char(cp: int) -> str:
    """One code point as Python regex text (escaped wherever it could mean something)."""
    ch = chr(cp)
    if ch.isascii() and ch.isprintable():
        return re.escape(ch)
    return f"\\U{cp:08x}"


class _Translator:
    """One JavaScript regex, translated to Python's dialect in a single pass."""

    def __init__(self, pattern: str, flags: str):
        self.pattern = pattern
        self.unicode = "u" in flags
        self.multiline = "m" in flags
        self.dotall = "s" in flags
        self.ignorecase = "i" in flags
        self.groups, self.names = self._count_groups()
        self.out: list[str] = []
        self.opened = 0  # capturing groups opened so far: the next one's number is one more
        self.closed: set[int] = set()

    def fail(self, why: str):
        raise ReplaceError(f"$replace= regex {why}")

    # --- the groups, before anything else (back references may point forward) ---

    def _count_groups(self) -> tuple[int, dict[str, int]]:
        p = self.pattern
        count = 0
        names: dict[str, int] = {}
        i = 0
        in_class = False
        while i < len(p):
            c = p[i]
            if c == "\\":
                i += 2
                continue
            if in_class:
                in_class = c != "]"
                i += 1
                continue
            if c == "[":
                in_class = True
                i += 2 if p.startswith("[^", i) else 1
                if i < len(p) and p[i] == "]":
                    in_class = False  # `[]` and `[^]`: the first `]` closes
                    i += 1
                continue
            if c == "(":
                if p.startswith("(?<", i) and not p.startswith(("(?<=", "(?<!"), i):
                    end = p.find(">", i)
                    name = p[i + 3 : end] if end > 0 else ""
                    if not name.isidentifier() or name in names:
                        self.fail(f"has a group name Python cannot take: {name!r}")
                    count += 1
                    names[name] = count
                elif not p.startswith("(?", i):
                    count += 1
            i += 1
        return count, names

    # --- the pattern ---

    def run(self) -> tuple[str, int, dict[str, int]]:
        p = self.pattern
        out = self.out
        stack: list[int | None] = []
        i = 0
        quantifiable = False
        while i < len(p):
            c = p[i]
            if c in "*+?" or (c == "{" and _QUANTIFIER.match(p, i)):
                if not quantifiable:
                    self.fail(f"has nothing to repeat at {i}")
                quantifier = _QUANTIFIER.match(p, i)
                if quantifier is not None:
                    low, comma, high = quantifier.groups()
                    if comma and high and int(high) < int(low):
                        self.fail("has a quantifier out of order")
                    out.append(quantifier.group())
                    i = quantifier.end()
                else:
                    out.append(c)
                    i += 1
                if i < len(p) and p[i] == "?":
                    out.append("?")
                    i += 1
                quantifiable = False
                continue
            quantifiable = True
            if c == "\\":
                i = self._escape(i)
            elif c == "[":
                i = self._class(i)
            elif c == "(":
                if p.startswith(("(?:", "(?=", "(?!"), i):
                    out.append(p[i : i + 3])
                    stack.append(None)
                    i += 3
                elif p.startswith(("(?<=", "(?<!"), i):
                    out.append(p[i : i + 4])
                    stack.append(None)
                    i += 4
                elif p.startswith("(?<", i):
                    end = p.find(">", i)
                    name = p[i + 3 : end]
                    out.append(f"(?P<{name}>")
                    self.opened += 1
                    stack.append(self.opened)
                    i = end + 1
                elif p.startswith("(?", i):
                    self.fail(f"has a group syntax JavaScript does not have: {p[i:i + 3]!r}")
                else:
                    out.append("(")
                    self.opened += 1
                    stack.append(self.opened)
                    i += 1
                quantifiable = False
            elif c == ")":
                if not stack:
                    self.fail("has an unmatched )")
                number = stack.pop()
                if number is not None:
                    self.closed.add(number)
                out.append(")")
                i += 1
            elif c == ".":
                out.append("(?s:.)" if self.dotall else f"[^{_LINE_ENDS}]")
                i += 1
            elif c == "^":
                out.append(f"(?:^|(?<=[{_LINE_ENDS}]))" if self.multiline else "^")
                i += 1
                quantifiable = False
            elif c == "$":
                out.append(f"(?=[{_LINE_ENDS}]|\\Z)" if self.multiline else "\\Z")
                i += 1
                quantifiable = False
            elif c == "|":
                out.append("|")
                i += 1
                quantifiable = False
            elif c in "{}]":
                if self.unicode:
                    self.fail(f"has a lone {c!r} (not allowed with the u flag)")
                out.append("\\" + c)
                i += 1
            else:
                out.append(_char(ord(c)))
                i += 1
        if stack:
            self.fail("has an unclosed (")
        return "".join(out), self.groups, self.names

    def _escape(self, i: int) -> int:
        """An escape outside a class, at `p[i] == '\\'`; returns where the pattern goes on."""
        p = self.pattern
        out = self.out
        if i + 1 >= len(p):
            self.fail("ends with a backslash")
        e = p[i + 1]
        if e in _CLASS_ESCAPES:
            inside, body = _CLASS_ESCAPES[e]
            text = f"[{body}]" if inside else f"[^{body}]"
            out.append(f"(?-i:{text})" if self.ignorecase and e in "wW" else text)
            return i + 2
        if e in "bB":
            word = f"(?-i:[{_WORD}])" if self.ignorecase else f"[{_WORD}]"
            if e == "b":
                out.append(f"(?:(?<={word})(?!{word})|(?<!{word})(?={word}))")
            else:
                out.append(f"(?:(?<={word})(?={word})|(?<!{word})(?!{word}))")
            return i + 2
        if e.isdigit() and e.isascii() and e != "0":
            digits = re.match(r"[0-9]+", p[i + 1 :]).group()
            number = int(digits)
            if number <= self.groups:
                self._back_reference(number)
                return i + 1 + len(digits)
            if self.unicode:
                self.fail(f"refers to group {number}, which it does not have")
            return self._legacy(i + 1, out_class=None)
        if e == "k" and (self.names or self.unicode):
            end = p.find(">", i) if p.startswith("\\k<", i) else -1
            name = p[i + 3 : end] if end > 0 else None
            if name not in self.names:
                self.fail(f"refers to a group name it does not have: {name!r}")
            self._back_reference(self.names[name])
            return end + 1
        cp, after = self._char_escape(i, in_class=False)
        out.append(_char(cp))
        return after

    def _back_reference(self, number: int) -> None:
        # JavaScript: a group that has not matched, or is not closed yet, matches the empty string.
        if number in self.closed:
            self.out.append(f"(?({number})(?:\\{number})|)")
        else:
            self.out.append("(?:)")

    def _legacy(self, i: int, out_class) -> int:
        """Annex B: `\\8`/`\\9` are the digits, `\\1`..`\\7` start an octal escape (at `p[i]`, the digit)."""
        p = self.pattern
        if p[i] in "89":
            cp, after = ord(p[i]), i + 1
        else:
            octal = _OCTAL.match(p, i).group()
            cp, after = int(octal, 8), i + len(octal)
        if out_class is None:
            self.out.append(_char(cp))
        else:
            out_class.append(("c", cp))
        return after

    def _char_escape(self, i: int, in_class: bool) -> tuple[int, int]:
        """A character escape at `p[i] == '\\'`: (code point, where the pattern goes on)."""
        p = self.pattern
        e = p[i + 1]
        if e in _CONTROL:
            return _CONTROL[e], i + 2
        if e == "0" and not (i + 2 < len(p) and p[i + 2].isdigit()):
            return 0, i + 2
        if e == "0":
            if self.unicode:
                self.fail("has an octal escape (not allowed with the u flag)")
            octal = _OCTAL.match(p, i + 1).group()
            return int(octal, 8), i + 1 + len(octal)
        if e == "c":
            letter = p[i + 2] if i + 2 < len(p) else ""
            if letter.isascii() and (letter.isalpha() or (in_class and (letter.isdigit() or letter == "_"))):
                return ord(letter) % 32, i + 3
            if self.unicode:
                self.fail("has a \\c without a letter")
            return ord("\\"), i + 1  # Annex B: the backslash is itself; `c` is read next
        if e == "x" and _HEX2.match(p, i + 2):
            return int(p[i + 2 : i + 4], 16), i + 4
        if e == "u":
            if _HEX4.match(p, i + 2):
                cp = int(p[i + 2 : i + 6], 16)
                after = i + 6
                if 0xD800 <= cp <= 0xDBFF and p.startswith("\\u", after) and _HEX4.match(p, after + 2):
                    low = int(p[after + 2 : after + 6], 16)
                    if 0xDC00 <= low <= 0xDFFF:  # a surrogate pair: one character in Python's text
                        return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00), after + 6
                return cp, after
            if self.unicode and p.startswith("\\u{", i):
                end = p.find("}", i)
                digits = p[i + 3 : end] if end > 0 else ""
                if digits and all(d in "0123456789abcdefABCDEF" for d in digits) and int(digits, 16) <= 0x10FFFF:
                    return int(digits, 16), end + 1
                self.fail("has a bad \\u{...} escape")
        if self.unicode:
            if e in "pP":
                self.fail("uses Unicode property escapes (\\p{...}), which Python's re does not have")
            if e not in _SYNTAX and not (in_class and e == "-"):
                self.fail(f"has an identity escape \\{e} (not allowed with the u flag)")
        return ord(e), i + 2  # an identity escape: the character itself

    def _class(self, i: int) -> int:
        """A character class at `p[i] == '['`; returns where the pattern goes on."""
        p = self.pattern
        i += 1
        negated = p.startswith("^", i)
        if negated:
            i += 1
        items: list[tuple] = []
        while True:
            if i >= len(p):
                self.fail("has an unclosed [")
            c = p[i]
            if c == "]":
                i += 1
                break
            if c == "\\":
                if i + 1 >= len(p):
                    self.fail("ends with a backslash")
                e = p[i + 1]
                if e in _CLASS_ESCAPES:
                    inside, body = _CLASS_ESCAPES[e]
                    items.append(("set" if inside else "neg", body))
                    i += 2
                elif e == "b":
                    items.append(("c", 8))
                    i += 2
                elif e == "-":
                    items.append(("c", ord("-")))
                    i += 2
                elif e.isdigit() and e.isascii() and e != "0":
                    if self.unicode:
                        self.fail("has a decimal escape in a class (not allowed with the u flag)")
                    i = self._legacy(i + 1, out_class=items)
                else:
                    cp, i = self._char_escape(i, in_class=True)
                    items.append(("c", cp))
                continue
            items.append(("dash",) if c == "-" else ("c", ord(c)))
            i += 1
        self.out.append(self._class_text(items, negated))
        return i

    def _class_text(self, items: list[tuple], negated: bool) -> str:
        body: list[str] = []
        excluded: list[str] = []  # bodies of `\S`, `\W`, `\D`: every character but these
        k = 0
        while k < len(items):
            item = items[k]
            if (item[0] == "c" and k + 2 < len(items) and items[k + 1][0] == "dash" and items[k + 2][0] == "c"):
                low, high = item[1], items[k + 2][1]
                if low > high:
                    self.fail("has a class range out of order")
                body.append(f"{_char(low)}-{_char(high)}")
                k += 3
                continue
            if item[0] == "c":
                body.append(_char(item[1]))
            elif item[0] == "dash":
                if self.unicode and 0 < k < len(items) - 1:
                    self.fail("has a class range with a class escape (not allowed with the u flag)")
                body.append("\\-")
            elif item[0] == "set":
                body.append(item[1])
            else:
                excluded.append(item[1])
            k += 1
        text = "".join(body)
        if not negated:
            alternatives = ([f"[{text}]"] if text else []) + [f"[^{other}]" for other in excluded]
            if not alternatives:
                return "(?!)"  # `[]` matches nothing
            return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        if not excluded:
            return f"[^{text}]" if text else "(?s:.)"  # `[^]` matches anything
        # Not in (text, or outside each excluded set): outside text and inside every excluded set.
        steps = [f"(?![{text}])"] if text else []
        steps += [f"(?=[{other}])" for other in excluded[:-1]] + [f"[{excluded[-1]}]"]
        return "(?:" + "".join(steps) + ")"
