"""Reading filter list files: line classification, list metadata and skipped-line counts.

A list file is read once into a `FilterList`: its network lines, cosmetic lines and hosts
entries (each with its line number), its header metadata, and what was skipped and why.
Nothing here parses a rule; that is the job of `network` and `cosmetic`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field

from ..printable import printable

BUILTIN_NAME = "builtin"
BUILTIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "builtin.txt")

# uBO `!#if` tokens, evaluated for a proxy: no browser, no extension, no mobile. dejunk filters
# HTML on the server, so `cap_html_filtering` holds; everything else is false.
PREPROCESSOR_ENV: dict[str, bool] = {
    "cap_html_filtering": True,
    "false": False,
    "true": True,
}

# Names that hosts files map to loopback as boilerplate; they are not blocked hosts.
HOSTS_BOILERPLATE = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
        "0.0.0.0",
    }
)

_HOSTS_ADDRESSES = frozenset(
    {
        "0.0.0.0",
        "127.0.0.1",
        "::",
        "::1",
        "0:0:0:0:0:0:0:0",
        "0:0:0:0:0:0:0:1",
        "255.255.255.255",
        "fe80::1%lo0",
        "ff00::0",
        "ff02::1",
        "ff02::2",
        "ff02::3",
    }
)

# A line that is nothing but a host name is a host rule (uBO reads it as `||host^`).
_BARE_HOST = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}\.?$")

# Cosmetic markers, longest first: `##`, `#@#`, `#?#`, `#@?#`, `#$#`, `#@$#`, `#$?#`, `#@$?#`,
# `#%#`, `#@%#` (element hiding, extended CSS, CSS injection, scriptlets) and AdGuard's `$$`/`$@$`.
_COSMETIC_MARKER = re.compile(r"#@?(?:\$\?|\?|\$|%)?#|\$@?\$")

# Hosts-file comments: `# text`, a lone `#`, or rulers of four or more `#` (`###id` is a rule).
_HASH_COMMENT = re.compile(r"#+(?:\s|$)|####")

_METADATA = re.compile(
    r"^[!#]\s*(Title|Version|Last modified|Expires|Checksum|Homepage|Date|Description)\s*:\s*(.*?)\s*$",
    re.IGNORECASE,
)
_METADATA_LINES = 60  # header comments only: list bodies quote "Title:" in rule comments too


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be used, with where it was and why."""

    list: str
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return printable(f"{self.list}:{self.line}: {self.reason}: {self.text[:120]}")


@dataclass(slots=True)
class FilterList:
    """One list file, classified line by line."""

    path: str
    name: str
    metadata: dict[str, str] = field(default_factory=dict)
    network: list[tuple[int, str]] = field(default_factory=list)
    cosmetic: list[tuple[int, str]] = field(default_factory=list)
    hosts: list[tuple[int, str]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    bad: list[BadLine] = field(default_factory=list)
    includes: list[tuple[int, str]] = field(default_factory=list)
    line_count: int = 0
    # Trusted lists may use the forms uBlock Origin keeps for its own lists and the user's (`trusted-*`
    # scriptlets, `$replace`...): local files and uBO's lists are; another downloaded list is only if the user says so.
    trusted: bool = True

    @property
    def title(self) -> str | None:
        return self.metadata.get("title")

    @property
    def rule_count(self) -> int:
        return len(self.network) + len(self.cosmetic) + len(self.hosts)

    def skip(self, line_no: int, text: str, reason: str, *, bad: bool = False) -> None:
        """Count a skipped line; a bad one is also kept with its position."""
        self.skipped[reason] += 1
        if bad:
            self.bad.append(BadLine(self.name, line_no, text, reason))


def resolve_path(spec: str) -> str:
    """Turn a `dejunk_lists` entry into a file path (`builtin` is the list shipped in filters/)."""
    if spec == BUILTIN_NAME:
        return BUILTIN_PATH
    return os.path.expanduser(spec)


def display_name(path: str) -> str:
    """The short name events and pages show for a list: its file name."""
    return os.path.basename(path) or path


def read_list(path: str, name: str | None = None, *, trusted: bool = True) -> FilterList:
    """Read and classify one list file. Raises OSError if it cannot be read."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_list_text(decode_list(data), path=path, name=name or display_name(path), trusted=trusted)


def decode_list(data: bytes) -> str:
    """Lists are UTF-8; a BOM is dropped and undecodable bytes replaced, not fatal."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def parse_list_text(text: str, path: str = "<text>", name: str | None = None, *, trusted: bool = True) -> FilterList:
    """Classify the lines of a list given as text."""
    result = FilterList(path=path, name=name or display_name(path), trusted=trusted)
    condition_stack: list[bool] = []  # one entry per open `!#if`: is its branch active?
    bare_hosts: list[tuple[int, str]] = []
    adblock_header = False
    active = True
    line_no = 0
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        first = line[0]
        if first == "!":
            if line.startswith("!#"):
                active = _preprocessor(result, line_no, line, condition_stack)
                continue
            if line_no <= _METADATA_LINES:
                _read_metadata(result, line)
            result.skipped["comment"] += 1
            continue
        if first == "[" and line.endswith("]") and line.lower().startswith(("[adblock", "[ublock", "[adguard")):
            adblock_header = True
            result.skipped["comment"] += 1
            continue
        if not active:
            result.skipped["preprocessor excluded"] += 1
            continue
        if first == "#" and _HASH_COMMENT.match(line):
            if line_no <= _METADATA_LINES:
                _read_metadata(result, line)
            result.skipped["comment"] += 1
            continue
        if _COSMETIC_MARKER.match(line, _first_special(line)):
            result.cosmetic.append((line_no, line))
            continue
        if first == "#":
            result.skipped["comment"] += 1  # hosts files also write `#=====` and `#[section]`
            continue
        if _looks_like_hosts_line(line):
            _read_hosts_line(result, line_no, line)
            continue
        if _BARE_HOST.match(line.lower()):
            bare_hosts.append((line_no, line))
            continue
        result.network.append((line_no, line))
    result.line_count = line_no
    # A bare `example.com` is a host entry in a hosts file (and in lists of plain domains), but
    # a substring rule in an Adblock-syntax list, where `_chartbeat.js` looks just like a host.
    if bare_hosts:
        if adblock_header or result.network or result.cosmetic:
            result.network.extend(bare_hosts)
            result.network.sort()
        else:
            result.hosts.extend((n, text.lower().rstrip(".")) for n, text in bare_hosts)
            result.hosts.sort()
    if condition_stack:
        result.skip(line_no, "!#if", "unclosed !#if at end of list", bad=True)
    return result


def _first_special(line: str) -> int:
    """Index of the first `#` or `$`: where a cosmetic marker must start (the domain part has neither)."""
    hash_at = line.find("#")
    dollar_at = line.find("$")
    if hash_at < 0:
        return dollar_at if dollar_at >= 0 else len(line)
    if dollar_at < 0:
        return hash_at
    return min(hash_at, dollar_at)


def _read_metadata(result: FilterList, line: str) -> None:
    match = _METADATA.match(line)
    if match:
        key = match.group(1).lower().replace(" ", "_")
        result.metadata.setdefault(key, match.group(2))


def _looks_like_hosts_line(line: str) -> bool:
    space = line.find(" ")
    tab = line.find("\t")
    cut = min(x for x in (space, tab, len(line)) if x >= 0)
    return line[:cut] in _HOSTS_ADDRESSES and cut < len(line)


def _read_hosts_line(result: FilterList, line_no: int, line: str) -> None:
    content = line.split("#", 1)[0].split()
    names = content[1:]
    if not names:
        result.skip(line_no, line, "hosts line without a host name", bad=True)
        return
    for name in names:
        host = name.lower().rstrip(".")
        if host in HOSTS_BOILERPLATE:
            result.skipped["hosts boilerplate"] += 1
        elif _BARE_HOST.match(host):
            result.hosts.append((line_no, host))
        else:
            result.skip(line_no, line, f"not a host name: {name}", bad=True)


# --- uBO preprocessor -------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(\(|\)|!|&&|\|\||[A-Za-z0-9_]+)")


def _preprocessor(result: FilterList, line_no: int, line: str, stack: list[bool]) -> bool:
    """Apply one `!#` directive; returns whether following lines are active."""
    directive, _, argument = line[2:].partition(" ")
    argument = argument.strip()
    if directive == "if":
        try:
            value = evaluate_condition(argument)
        except ValueError as e:
            result.skip(line_no, line, f"bad !#if condition: {e}", bad=True)
            value = False
        stack.append(value)
        result.skipped["preprocessor"] += 1
    elif directive == "else":
        if stack:
            stack[-1] = not stack[-1]
            result.skipped["preprocessor"] += 1
        else:
            result.skip(line_no, line, "!#else without !#if", bad=True)
    elif directive == "endif":
        if stack:
            stack.pop()
            result.skipped["preprocessor"] += 1
        else:
            result.skip(line_no, line, "!#endif without !#if", bad=True)
    elif directive == "include":
        if all(stack):
            result.includes.append((line_no, argument))
        result.skipped["!#include (resolved by list subscriptions)"] += 1
    else:
        # `!#` followed by anything else is an ordinary comment (EasyList uses `!#` in prose).
        result.skipped["comment"] += 1
    return all(stack)


def evaluate_condition(expression: str, env: dict[str, bool] | None = None) -> bool:
    """Evaluate a uBO `!#if` expression (`!`, `&&`, `||`, parentheses); unknown tokens are false."""
    env = PREPROCESSOR_ENV if env is None else env
    tokens: list[str] = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if not match:
            raise ValueError(f"unexpected character at column {position + 1}")
        tokens.append(match.group(1))
        position = match.end()
        while position < len(expression) and expression[position].isspace():
            position += 1
    if not tokens:
        raise ValueError("empty condition")
    parser = _ConditionParser(tokens, env)
    value = parser.parse_or()
    if parser.position != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.position]!r}")
    return value


class _ConditionParser:
    """Recursive descent over `||` (lowest), `&&`, `!`, parentheses."""

    def __init__(self, tokens: list[str], env: dict[str, bool]):
        self.tokens = tokens
        self.env = env
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def parse_or(self) -> bool:
        value = self.parse_and()
        while self._peek() == "||":
            self.position += 1
            right = self.parse_and()
            value = value or right
        return value

    def parse_and(self) -> bool:
        value = self.parse_not()
        while self._peek() == "&&":
            self.position += 1
            right = self.parse_not()
            value = value and right
        return value

    def parse_not(self) -> bool:
        token = self._peek()
        if token == "!":
            self.position += 1
            return not self.parse_not()
        if token == "(":
            self.position += 1
            value = self.parse_or()
            if self._peek() != ")":
                raise ValueError("missing )")
            self.position += 1
            return value
        if token is None or token in (")", "&&", "||"):
            raise ValueError(f"expected a name, got {token!r}")
        self.position += 1
        return self.env.get(token, False)
