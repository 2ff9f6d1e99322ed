"""The text inside `+js(...)`: a scriptlet name and its arguments, as uBlock Origin writes them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote


class ScriptletError(ValueError):
    """A `+js(...)` body that cannot be read; `position` is the offset in the body where it went wrong."""

    def __init__(self, message: str, position: int = 0):
        super().__init__(f"{message} (at {position})")
        self.position = position


@dataclass(frozen=True, slots=True)
class ScriptletCall:
    """One scriptlet to run: its name as written (an alias or `name.js` allowed) and its arguments."""

    name: str
    args: tuple[str, ...] = ()


_QUOTES = "'\"`"
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def parse_call(body: str) -> ScriptletCall:
    """`set, a.b, true` -> ScriptletCall("set", ("a.b", "true")). ScriptletError if it cannot be read."""
    # Arguments are separated by commas; `\,` is a comma inside one; an argument wholly inside matching
    # quotes is taken as written, commas included. Lists also carry arguments percent-encoded (`%2C` for
    # a comma), which are decoded once the argument is split off.
    parts = _split(body)
    if not parts or not parts[0]:
        raise ScriptletError("no scriptlet name", 0)
    name = parts[0]
    if any(c in name for c in " \t\"'`(),"):
        raise ScriptletError(f"bad scriptlet name {name!r}", 0)
    return ScriptletCall(name, tuple(_decode(part) for part in parts[1:]))


def _split(body: str) -> list[str]:
    parts: list[str] = []
    position = 0
    length = len(body)
    if not body.strip():
        return []
    while True:
        while position < length and body[position] in " \t":
            position += 1
        if position < length and body[position] in _QUOTES:
            quote = body[position]
            end = _closing_quote(body, position + 1, quote)
            if end is not None:
                after = end + 1
                while after < length and body[after] in " \t":
                    after += 1
                if after == length or body[after] == ",":
                    parts.append(body[position + 1:end].replace("\\" + quote, quote))
                    if after == length:
                        return parts
                    position = after + 1
                    continue
        # An unquoted argument runs to the next comma that no backslash escapes.
        chars: list[str] = []
        while position < length:
            char = body[position]
            if char == "\\" and position + 1 < length and body[position + 1] == ",":
                chars.append(",")
                position += 2
                continue
            if char == ",":
                break
            chars.append(char)
            position += 1
        parts.append("".join(chars).strip())
        if position >= length:
            return parts
        position += 1
        if position == length:
            parts.append("")  # a trailing comma: one empty argument
            return parts


def _closing_quote(body: str, start: int, quote: str) -> int | None:
    position = start
    while position < len(body):
        char = body[position]
        if char == "\\":
            position += 2
            continue
        if char == quote:
            return position
        position += 1
    return None


def _decode(argument: str) -> str:
    if "%" not in argument or not _PERCENT.search(argument):
        return argument
    try:
        return unquote(argument, errors="strict")
    except UnicodeDecodeError:
        return argument
