"""Reading filter list files: line classification, list metadata and skipped-line counts.

A list file is read once into a `FilterList`: its network lines, cosmetic lines and hosts
entries (each with its line number), its header metadata, and what was skipped and why.
Nothing here parses a rule; that is the job of `network` and `cosmetic`.
"""

from __future__ import annotations

import os
import re
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate

import re2

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

# A cosmetic line: a marker where the first `#` or `$` is (the domain part has neither). Markers:
# `##`, `#@#`, `#?#`, `#@?#`, `#$#`, `#@$#`, `#$?#`, `#@$?#`, `#%#`, `#@%#` (element hiding,
# extended CSS, CSS injection, scriptlets) and AdGuard's `$$`/`$@$`.
_COSMETIC_LINE = re.compile(r"[^#$]*+(?:#@?(?:\$\?|\?|\$|%)?#|\$@?\$)")  # (`*+`: no step back, none could help)

# A hosts-file line: one of the addresses, then a space or a tab.
_HOSTS_LINE = re.compile("(?:" + "|".join(map(re.escape, sorted(_HOSTS_ADDRESSES, key=len, reverse=True))) + ")[ \t]")
_HOSTS_FIRST = frozenset(address[0] for address in _HOSTS_ADDRESSES)  # how such a line can start

# What makes a name fail `_BARE_HOST`, for many names one per line (each between newlines) in one
# pass: a character outside [a-z0-9_.-], an empty label, a label that starts or ends with `-` or is
# longer than 64 characters, a leading or trailing dot, no dot at all, or a last label that does not start
# with a letter, has `_` or is longer than 63 (`_names_ok` checks the length of the whole name). RE2 runs
# the alternation in one linear pass, where Python's `re` would try each branch at each offset.
_NOT_HOST_NAME = (r"[^a-z0-9_.\n-]|\.\.|-\.|\.-|\n-|\n\.|\.\n|\n[^.\n]*\n"
                  r"|\.(?:[^a-z.\n][^.\n]*|[^.\n]*_[^.\n]*|[^.\n]{64,})\n|[.\n][^.\n]{65}")
try:
    _not_host_name = re2.compile(_NOT_HOST_NAME).search
    _find_not_host_name = re2.compile(_NOT_HOST_NAME).finditer
except re2.error:  # pragma: no cover - RE2 takes this pattern
    _not_host_name = re.compile(_NOT_HOST_NAME).search
    _find_not_host_name = re.compile(_NOT_HOST_NAME).finditer


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


class HostEntries:
    """A list's hosts entries, (line number, host name) in line order, kept as an array and a list."""
    # A hosts file has millions of entries: no tuple per entry. Iterating gives the (line, host) pairs.

    __slots__ = ("lines", "names")

    def __init__(self, entries: Iterable[tuple[int, str]] = ()) -> None:
        self.lines = array("I")
        self.names: list[str] = []
        for line, host in entries:
            self.append(line, host)

    def append(self, line: int, host: str) -> None:
        self.lines.append(line)
        self.names.append(host)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return zip(self.lines, self.names)

    def __getitem__(self, position: int) -> tuple[int, str]:
        return self.lines[position], self.names[position]

    def __eq__(self, other) -> bool:
        if isinstance(other, HostEntries):
            return self.lines == other.lines and self.names == other.names
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"HostEntries({list(self)!r})"


class NetworkLines:
    """A list's network lines, (line number, text) in line order, as iterating gives them.

    Runs of plain `||host^` lines (most of EasyList and EasyPrivacy) are kept as they came, one text per run
    (`runs`: first line number, line count, the lines joined by newlines), so that neither the parser nor
    the engine builder takes a Python step per line; every other line is an entry of its own (`entries`).
    """

    __slots__ = ("entries", "runs", "_in_runs")

    def __init__(self, entries: Iterable[tuple[int, str]] = ()) -> None:
        self.entries: list[tuple[int, str]] = list(entries)
        self.runs: list[tuple[int, int, str]] = []
        self._in_runs = 0

    def append(self, entry: tuple[int, str]) -> None:
        self.entries.append(entry)

    def add_run(self, first: int, count: int, text: str) -> None:
        """Lines `first`.. `first + count - 1`, plain `||host^` lines all, after every line added so far."""
        self.runs.append((first, count, text))
        self._in_runs += count

    def sort(self) -> None:
        self.entries.sort()

    def segments(self) -> Iterator[list[tuple[int, str]] | tuple[int, int, str]]:
        """In line order: lists of entries, and runs (tuples)."""
        entries = self.entries
        start = 0
        for run in self.runs:
            at = bisect_left(entries, (run[0],), start)  # the first entry after the run
            if at > start:
                yield entries[start:at]
            yield run
            start = at
        if start < len(entries):
            yield entries[start:] if start else entries

    def __len__(self) -> int:
        return len(self.entries) + self._in_runs

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for segment in self.segments():
            if segment.__class__ is tuple:
                first, count, text = segment
                yield from zip(range(first, first + count), text.split("\n"))
            else:
                yield from segment

    def __getitem__(self, position):
        return list(self)[position]

    def __eq__(self, other) -> bool:
        if isinstance(other, (NetworkLines, list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"NetworkLines({list(self)!r})"


@dataclass(slots=True)
class FilterList:
    """One list file, classified line by line."""

    path: str
    name: str
    metadata: dict[str, str] = field(default_factory=dict)
    network: NetworkLines = field(default_factory=NetworkLines)
    cosmetic: list[tuple[int, str]] = field(default_factory=list)
    hosts: HostEntries = field(default_factory=HostEntries)
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
    state = _ParseState()
    # In slices that end at a newline (so no line is cut): a hosts file of millions of lines is never
    # held as one list of line strings.
    position = 0
    size = len(text)
    while position < size:
        cut = text.find("\n", position + _SLICE) if size - position > _SLICE else -1
        end = size if cut < 0 else cut + 1
        chunk = text[position:end] if position or end < size else text
        if not _plain_hosts(result, state, chunk):
            _parse_mixed(result, state, chunk)
        position = end
    line_no = state.line_no
    result.line_count = line_no
    # A bare `example.com` is a host entry in a hosts file (and in lists of plain domains), but
    # a substring rule in an Adblock-syntax list, where `_chartbeat.js` looks just like a host.
    if state.bare and (state.adblock_header or result.network or result.cosmetic):
        _bare_hosts_to_network(result, state, text)
    if result.bad:
        result.bad.sort(key=_line_of)  # hosts entries are checked per slice, after the slice's other lines
    if state.conditions:
        result.skip(line_no, "!#if", "unclosed !#if at end of list", bad=True)
    return result


_SLICE = 1 << 20  # characters of list text classified at a time


class _ParseState:
    """Where `parse_list_text` is in a list: line number, open `!#if`s, bare host lines seen."""

    __slots__ = ("line_no", "conditions", "active", "adblock_header", "bare")

    def __init__(self) -> None:
        self.line_no = 0
        self.conditions: list[bool] = []  # one entry per open `!#if`: is its branch active?
        self.active = True
        self.adblock_header = False
        self.bare = False  # whether a bare host line was taken as a host entry


def _line_of(bad: BadLine) -> int:
    return bad.line


def _parse_lines(result: FilterList, state: _ParseState, lines: list[str]) -> None:
    """Classify consecutive lines of a list (numbered on from `state.line_no`)."""
    network = result.network.entries.append
    cosmetic = result.cosmetic.append
    skipped = result.skipped
    hosts = result.hosts
    host_lines = hosts.lines.append
    host_names = hosts.names.append
    checked_from = len(hosts)
    boilerplate = HOSTS_BOILERPLATE
    hosts_line = _HOSTS_LINE.match
    cosmetic_line = _COSMETIC_LINE.match
    bare_host = _BARE_HOST.match
    line_no = state.line_no
    active = state.active
    for raw in lines:
        line_no += 1
        line = raw.strip()
        if not line:
            continue
        first = line[0]
        if first == "!":
            if line.startswith("!#"):
                active = state.active = _preprocessor(result, line_no, line, state.conditions)
                continue
            if line_no <= _METADATA_LINES:
                _read_metadata(result, line)
            skipped["comment"] += 1
            continue
        if first == "[" and line.endswith("]") and line.lower().startswith(("[adblock", "[ublock", "[adguard")):
            state.adblock_header = True
            skipped["comment"] += 1
            continue
        if not active:
            skipped["preprocessor excluded"] += 1
            continue
        if first == "#":
            if _HASH_COMMENT.match(line):
                if line_no <= _METADATA_LINES:
                    _read_metadata(result, line)
                skipped["comment"] += 1
            elif cosmetic_line(line):
                cosmetic((line_no, line))
            else:
                skipped["comment"] += 1  # hosts files also write `#=====` and `#[section]`
            continue
        # (Without a `#`, only an AdGuard `$$`/`$@$` marker makes a cosmetic line: most `$options` have neither.)
        if ("#" in line or "$$" in line or "$@$" in line) and cosmetic_line(line):
            cosmetic((line_no, line))
            continue
        if first in _HOSTS_FIRST and hosts_line(line):
            # `address name...`; a name's form is checked below, for the whole slice at once.
            names = line.split("#", 1)[0].split()
            if len(names) < 2:
                result.skip(line_no, line, "hosts line without a host name", bad=True)
                continue
            for name in names[1:]:
                host = name.lower().rstrip(".")
                if host in boilerplate:
                    skipped["hosts boilerplate"] += 1
                else:
                    host_lines(line_no)
                    host_names(host)
            continue
        if (first.isalnum() or first == "_") and bare_host(line.lower()):
            if state.adblock_header or result.network or result.cosmetic:
                network((line_no, line))
            else:
                # A host entry unless the list turns out to be in Adblock syntax (see `parse_list_text`).
                state.bare = True
                host_lines(line_no)
                host_names(line.lower().rstrip("."))
            continue
        network((line_no, line))
    first_line = state.line_no + 1
    state.line_no = line_no
    if len(hosts) > checked_from:
        _check_host_names(result, checked_from, lines, first_line)


def _names_ok(names: list[str], joined: str | None = None) -> bool:
    """Whether every name is a host name (`_BARE_HOST`); `joined` is `names` between newlines if at hand."""
    if not names:
        return True
    if joined is None:
        joined = "\n" + "\n".join(names) + "\n"
    return max(map(len, names)) <= 253 and _not_host_name(joined) is None


def _check_host_names(result: FilterList, start: int, lines: list[str], first_line: int) -> None:
    """Drop the entries from `start` on whose name is not a host name, as bad lines."""
    hosts = result.hosts
    names = hosts.names
    if _names_ok(names[start:]):
        return
    bad = [entry for entry in range(start, len(names)) if not _BARE_HOST.match(names[entry])]
    for entry in bad:
        line_no, host = hosts[entry]
        line = lines[line_no - first_line].strip()
        name = next((n for n in line.split("#", 1)[0].split()[1:] if n.lower().rstrip(".") == host), host)
        result.skip(line_no, line, f"not a host name: {name}", bad=True)
    for entry in reversed(bad):
        del hosts.lines[entry]
        del names[entry]


def _bare_hosts_to_network(result: FilterList, state: _ParseState, text: str) -> None:
    """The bare host lines taken as host entries were substring rules after all (an Adblock-syntax list)."""
    lines = text.splitlines()
    kept = HostEntries()
    for line_no, host in result.hosts:
        line = lines[line_no - 1].strip()
        if _HOSTS_LINE.match(line):
            kept.append(line_no, host)
        else:
            result.network.append((line_no, line))
    result.hosts = kept
    result.network.sort()


# A run of `0.0.0.0 name` or `127.0.0.1 name` lines, each after a newline and before the next one, with names of
# host-name characters whose last label starts with a letter, none of them a boilerplate name.
_PLAIN_HOSTS_LINE = r"(?:0\.0\.0\.0|127\.0\.0\.1) (?!(?:%s)\n)[a-z0-9_.-]*\.[a-z][a-z0-9-]*" % "|".join(
    map(re.escape, HOSTS_BOILERPLATE))
_PLAIN_HOSTS_LINES = re.compile(r"\n%s(?:\n%s)*(?=\n)" % (_PLAIN_HOSTS_LINE, _PLAIN_HOSTS_LINE))
# Line breaks `str.splitlines` knows besides `\n` and `\r` (here only as `\r\n`).
_OTHER_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _parse_mixed(result: FilterList, state: _ParseState, chunk: str) -> None:
    """Classify a slice; in bulk, a hosts file's plain `0.0.0.0 name` lines and an Adblock list's runs of `||host^`."""
    middle = len(chunk) >> 1
    sample = chunk[middle : middle + 4096]  # what most of the slice is
    if (
        not state.active
        or "!#" in chunk
        or "\r" in chunk and chunk.count("\r") != chunk.count("\r\n")
        or any(other in chunk for other in _OTHER_BREAKS)
    ):
        _parse_lines(result, state, chunk.splitlines())
        return
    if (sample.count("\n0.0.0.0 ") + sample.count("\n127.0.0.1 ")) * 2 < sample.count("\n"):
        _parse_adblock(result, state, chunk)
        return
    # The lines that are not plain are classified one by one, the plain ones blanked (a blank line counts
    # as nothing); each plain line whose name is a host name is a host entry, as it would be line by line.
    cut = chunk.rfind("\n") + 1
    framed = "\n" + chunk[:cut]  # each line after a newline and before the next one
    lines: list[str] = []
    plain: list[int] = []  # the numbers of the plain lines, from 0
    pieces = []  # the runs of plain lines, each starting with a newline
    number = 0
    previous = 0  # the newline before the next line
    for run in _PLAIN_HOSTS_LINES.finditer(framed):
        at = run.start()
        if at > previous:
            others = framed[previous + 1 : at].split("\n")
            lines.extend(others)
            number += len(others)
        end = run.end()
        count = framed.count("\n", at, end)
        plain.extend(range(number, number + count))
        lines.extend([""] * count)
        number += count
        pieces.append(framed[at:end])
        previous = end
    if previous < len(framed) - 1:
        others = framed[previous + 1 : -1].split("\n")
        lines.extend(others)
        number += len(others)
    joined = "".join(pieces).replace("\n0.0.0.0 ", "\n").replace("\n127.0.0.1 ", "\n") + "\n"
    names = joined[1:-1].split("\n") if plain else []
    if not _names_ok(names, joined):
        # The other names are for the line-by-line classification (which reports them).
        taken = _host_names(names, list(range(len(names))))
        every = framed[1:].split("\n")
        for k in sorted(set(range(len(names))).difference(taken)):
            lines[plain[k]] = every[plain[k]]
        plain = [plain[k] for k in taken]
        names = [names[k] for k in taken]
    first = state.line_no + 1
    hosts = result.hosts
    before = len(hosts)
    _parse_lines(result, state, lines)
    numbers = array("I", map(first.__add__, plain))
    # The lines classified one by one may have given entries too: each goes before the plain ones after it.
    odd_lines = hosts.lines[before:]
    odd_names = hosts.names[before:]
    del hosts.lines[before:]
    del hosts.names[before:]
    start = 0
    for line, name in zip(odd_lines, odd_names):
        position = bisect_right(numbers, line, start)
        hosts.lines.extend(numbers[start:position])
        hosts.names.extend(names[start:position])
        hosts.append(line, name)
        start = position
    hosts.lines.extend(numbers[start:])
    hosts.names.extend(names[start:])
    if cut < len(chunk):
        _parse_lines(result, state, chunk[cut:].splitlines())


# A run of at least `_RUN` plain `||host^` lines, each after a newline and before the next one.
_RUN = 8
# The host of a plain `||host^` line (the network engine's too), taken without backtracking, then its last
# character checked: the name ends before `^`.
PLAIN_HOST = r"[a-z0-9][a-z0-9_.-]*+(?<=[a-z0-9])"
_PLAIN_BLOCK = r"\|\|%s\^" % PLAIN_HOST
# (The first line's newline is written out: a pattern that starts with a literal is searched for it, fast.)
_PLAIN_BLOCKS = re.compile(r"\n%s(?:\n%s){%d,}(?=\n)" % (_PLAIN_BLOCK, _PLAIN_BLOCK, _RUN - 1))


def _parse_adblock(result: FilterList, state: _ParseState, chunk: str) -> None:
    """Classify a slice of an Adblock-syntax list; its runs of plain `||host^` lines in bulk."""
    # (The slice has no `!#` line and no line break but `\n`: the runs need no step of `_parse_lines`.)
    if "\r" in chunk:
        _parse_lines(result, state, chunk.splitlines())
        return
    framed = "\n" + chunk if chunk.endswith("\n") else "\n" + chunk + "\n"  # each line between newlines
    previous = 0  # the newline before the next line to classify
    network = result.network
    for run in _PLAIN_BLOCKS.finditer(framed):
        at = run.start()
        if at > previous:
            _parse_lines(result, state, framed[previous + 1 : at].split("\n"))
        text = framed[at + 1 : run.end()]
        count = text.count("\n") + 1
        network.add_run(state.line_no + 1, count, text)
        state.line_no += count
        previous = run.end()
    if previous < len(framed) - 1:
        _parse_lines(result, state, framed[previous + 1 : -1].split("\n"))


def _host_names(names: list[str], positions: list[int]) -> list[int]:
    """Those of the `positions` in `names` whose name is a host name (as `_names_ok` says of each alone)."""
    # Where `_NOT_HOST_NAME` finds something in the names between newlines, that name is not one (a
    # find that starts at the newline before a name is about that name). A find may take the newline
    # that starts the next name and so hide what is wrong there: what is left is looked at again.
    for _ in range(4):
        chosen = [names[k] for k in positions]
        joined = "\n" + "\n".join(chosen) + "\n"
        if _names_ok(chosen, joined):
            return positions
        starts = list(accumulate(map((1).__add__, map(len, chosen)), initial=0))
        wrong = {bisect_right(starts, found.start()) - 1 for found in _find_not_host_name(joined)}
        if max(map(len, chosen)) > 253:
            wrong.update(n for n, name in enumerate(chosen) if len(name) > 253)
        for n in sorted(wrong, reverse=True):
            del positions[n]
    return [k for k in positions if _names_ok([names[k]])]


def _plain_hosts(result: FilterList, state: _ParseState, chunk: str) -> bool:
    """Take a slice of plain hosts lines (`0.0.0.0 name`, `127.0.0.1 name` or `name`) in bulk; False if it is not one."""
    # With the addresses taken off, only lower-case host names and `\n` line ends may be left (no
    # space, tab, `#`, `\r`, empty line...): every line of the slice is then a host entry, in line
    # order, just as the line-by-line classification would find.
    if not state.active or "#" in chunk:
        return False  # (a host name has no `#`: a comment is a line to classify on its own)
    framed = "\n" + chunk
    addresses = framed.count("\n0.0.0.0 ") + framed.count("\n127.0.0.1 ")
    if addresses != chunk.count(" "):
        return False  # a space elsewhere than after a line's address
    joined = framed.replace("\n0.0.0.0 ", "\n").replace("\n127.0.0.1 ", "\n")
    if not joined.endswith("\n"):
        joined += "\n"
    names = joined[1:-1].split("\n")
    if "" in names or not _names_ok(names, joined) or not HOSTS_BOILERPLATE.isdisjoint(names):
        return False
    bare = len(names) - addresses
    if bare and (state.adblock_header or result.network or result.cosmetic):
        return False
    first = state.line_no + 1
    state.line_no += len(names)
    state.bare = state.bare or bare > 0
    result.hosts.lines.extend(range(first, first + len(names)))
    result.hosts.names.extend(names)
    return True


def _read_metadata(result: FilterList, line: str) -> None:
    match = _METADATA.match(line)
    if match:
        key = match.group(1).lower().replace(" ", "_")
        result.metadata.setdefault(key, match.group(2))


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
