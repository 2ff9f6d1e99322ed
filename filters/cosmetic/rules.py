"""Cosmetic rules: element hiding (`##`, `#@#`, `#?#`), HTML filtering (`##^`, `$$`) and the store.

`CosmeticStore.from_lists` reads the cosmetic lines of `FilterList`s once. Generic rules go into
a `RuleIndex` keyed by the class, id, attribute or tag an element must carry to match
(`selectors.Plan.element_keys`), site-specific ones into a table keyed by domain. For a page,
`page_rules(url)` returns `PageRules`: plain picklable data naming exactly what applies there.
Site-specific procedural rules also go, as `PageRules.live`, to the page runtime (`live`), which alone
evaluates `:matches-css()`. Lines dejunk cannot act on (scriptlets, CSS injection, generic `:matches-css()`...)
are skipped and counted by reason; malformed ones are also kept as `BadLine`s with their list and line number.

Once built, the store keeps its rules as their lines (`RuleTexts`: one string, offsets and arrays) and its
tables as rule numbers (`RuleTable`); a rule is parsed again from its line when a page first needs it. So the
compiled-engine cache holds strings and arrays, not tens of thousands of objects, and loads in milliseconds.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import os
import pickle
import re
import shutil
import tempfile
import weakref
from collections import Counter
from array import array
from collections.abc import Iterable, Mapping
from itertools import accumulate, repeat
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import re2

from ..lists.syntax import BadLine, FilterList
from ..request import host_of, is_ip_address, normal_domain_list, normalize_host, registrable_domain
from ..scriptlets.calls import ScriptletCall
from ..storage import making_long_lived, read_pickle
from .injected import (
    SCRIPTLET,
    STYLE,
    InjectedException,
    InjectedRule,
    parse_scriptlet,
    style_css,
    style_declarations,
    style_parts,
)
from .live import description as live_description
from .live import style_entry as live_entry
from .plain import accepts as plain_accepts
from .selectors import (
    Plan,
    SelectorError,
    Unsupported,
    check_html_filter,
    check_shape,
    forget_compiled,
    needs_runtime,
    plan_for,
    plan_for_adguard_html,
    prepare,
    prepare_adguard_html,
)

_MARKER = re.compile(r"#@?(?:\$\?|\?|\$|%)?#|\$@?\$")
# `##^responseheader(...)` lines belong to `filters.cosmetic.headers`, not to this store.
_RESPONSE_HEADER = re.compile(r"#@?#\^responseheader\(")

# A plain `##.class` or `###id` line (the form of `selectors._SIMPLE`), with or without domains.
_SIMPLE_HIDE = re.compile(r"([^#$]*+)##([.#])(-?[_a-zA-Z\u00a0-\uffff][_a-zA-Z0-9\u00a0-\uffff-]*+)")

HIDE = "hide"  # element hiding: `##`, `#?#`
HTML = "html"  # HTML filtering: uBO `##^`, AdGuard `$$`


@dataclass(frozen=True, slots=True)
class CosmeticRule:
    """One usable cosmetic rule: where it came from, where it applies, and its selector plan."""

    text: str
    list: str
    line: int
    kind: str  # HIDE or HTML
    selector: str  # as written after the marker: what `#@#` exceptions name
    plan: Plan | None  # None until needed for site-specific rules (see `with_plan`)
    domains: tuple[str, ...] = ()  # where it applies (`example.*` for entity forms); empty: everywhere
    excluded: tuple[str, ...] = ()  # `~domain`s where it does not
    adguard: bool = False  # an AdGuard `$$` HTML filter (its selector syntax is AdGuard's)

    @property
    def generic(self) -> bool:
        return not self.domains

    @property
    def key(self) -> tuple[str, str]:
        """What an exception must name to switch this rule off."""
        return (self.kind, self.selector)

    def where(self) -> str:
        return f"{self.list}:{self.line}"

    def with_plan(self) -> CosmeticRule:
        """This rule with its plan made (cached per process). SelectorError if soupsieve rejects it."""
        if self.plan is not None:
            return self
        key = (self.adguard, self.selector)
        plan = _PLANS.get(key)
        if plan is None:
            try:
                plan = plan_for_adguard_html(self.selector) if self.adguard else plan_for(self.selector)
            except SelectorError as error:
                plan = error
            if len(_PLANS) >= _PLAN_CACHE_SIZE:
                _PLANS.clear()
            _PLANS[key] = plan
        if isinstance(plan, SelectorError):
            raise plan
        return CosmeticRule(self.text, self.list, self.line, self.kind, self.selector, plan, self.domains,
                            self.excluded, self.adguard)


# Plans of site-specific rules, made when a page of their site is first seen.
_PLANS: dict[tuple[bool, str], Plan | SelectorError] = {}
_PLAN_CACHE_SIZE = 20000


@dataclass(frozen=True, slots=True)
class CosmeticException:
    """A `#@#` (or `#@#^`, `$@$`) rule: switches off the rules with the same selector where it applies."""

    text: str
    list: str
    line: int
    key: tuple[str, str]
    domains: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


class RuleIndex:
    """Rules by the key an element must carry to match them (see `selectors.Plan.element_keys`)."""
    # Rule numbers are positions in `rules`. `by_attribute` maps an attribute name to (rule number, value regex
    # or None, regex flags, compare lower-cased, literal or None) entries, the literal being lower-case text any
    # value the regex matches contains.

    __slots__ = ("rules", "by_class", "by_id", "by_tag", "by_attribute", "anywhere", "gate_attributes", "fingerprint",
                 "_prefilters")

    def __init__(self, rules: list[CosmeticRule], *, compact: bool = False):
        # `compact`: keep the rules as text (`RuleTexts`), each parsed again when a page first needs it;
        # otherwise the given objects (a page's own small index of site-specific rules).
        self._fill(RuleTexts.of(rules) if compact else rules, [(rule.plan.gate, rule.plan.element_keys) for rule in rules],
                   "\n".join(f"{rule.list}\0{rule.line}\0{rule.text}" for rule in rules))

    @classmethod
    def compact(cls, rules: RuleTexts, keys: list[tuple]) -> RuleIndex:
        """`RuleIndex(objects, compact=True)` for the rules in `rules`, given each one's plan's (gate, element keys)."""
        index = cls.__new__(cls)
        index._fill(rules, keys, rules.listing())
        return index

    def _fill(self, rules, keys: list[tuple], listing: str) -> None:
        # `keys`: each rule's plan's (gate, element keys); `listing`: `RuleTexts.listing()` of the rules.
        self.rules = rules
        by_class: dict[str, list[int]] = {}
        by_id: dict[str, list[int]] = {}
        by_tag: dict[str, list[int]] = {}
        by_attribute: dict[str, list[tuple]] = {}
        anywhere: list[int] = []
        gate_attributes: set[str] = set()
        for number, (gate, element_keys) in enumerate(keys):
            for token in gate:
                if token[0] == "@":
                    gate_attributes.add(token[1:].partition("\0")[0])
            if len(element_keys) == 1:  # most rules: nothing to tell apart
                key = element_keys[0]
                kind = key[0]
                if kind == "class":
                    by_class.setdefault(key[1], []).append(number)
                    continue
                if kind == "id":
                    by_id.setdefault(key[1], []).append(number)
                    continue
            seen: set[tuple] = set()
            for key in element_keys:
                if key in seen:
                    continue
                seen.add(key)
                kind = key[0]
                if kind == "class":
                    by_class.setdefault(key[1], []).append(number)
                elif kind == "id":
                    by_id.setdefault(key[1], []).append(number)
                elif kind == "attr":
                    by_attribute.setdefault(key[1], []).append((number, key[2], key[3], key[4], key[5]))
                elif kind == "tag":
                    by_tag.setdefault(key[1], []).append(number)
                else:
                    anywhere.append(number)
        self.by_class = {k: tuple(v) for k, v in by_class.items()}
        self.by_id = {k: tuple(v) for k, v in by_id.items()}
        self.by_tag = {k: tuple(v) for k, v in by_tag.items()}
        self.by_attribute = {k: tuple(v) for k, v in by_attribute.items()}
        self.anywhere = tuple(anywhere)
        self.gate_attributes = frozenset(gate_attributes)
        self.fingerprint = hashlib.sha256(listing.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        self._prefilters: dict | None = None

    def __len__(self) -> int:
        return len(self.rules)

    def __eq__(self, other) -> bool:
        return isinstance(other, RuleIndex) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __getstate__(self):
        return {name: getattr(self, name) for name in self.__slots__ if name != "_prefilters"}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)
        self._prefilters = None

    def numbers_at(self, places: frozenset[tuple[str, int]]) -> frozenset[int]:
        """The numbers of this index's rules written at `places` ((list name, line number) pairs)."""
        if not places:
            return frozenset()
        rules = self.rules
        if isinstance(rules, RuleTexts):
            lines = {line for _, line in places}
            names = rules.list_names
            return frozenset(number for number, (line, list_id) in enumerate(zip(rules.lines, rules.list_ids))
                             if line in lines and (names[list_id], line) in places)
        return frozenset(number for number, rule in enumerate(rules) if (rule.list, rule.line) in places)

    def attribute_prefilter(self, name: str) -> tuple:
        """For one attribute: a regex finding any entry's literal, literal -> entries, entries without a literal."""
        # Built on first use in each process (compiled regexes stay out of pickles).
        if self._prefilters is None:
            self._prefilters = {}
        found = self._prefilters.get(name)
        if found is None:
            by_literal: dict[str, list[tuple]] = {}
            unfiltered: list[tuple] = []
            for entry in self.by_attribute.get(name, ()):
                if entry[4] == "\0":
                    continue  # `[a^=""]` and the like match nothing
                if entry[4] is None:
                    unfiltered.append(entry)
                else:
                    by_literal.setdefault(entry[4], []).append(entry)
            # Longest first, so that a literal that starts with another one is still found. RE2 runs
            # a large alternation in one linear pass; Python's re would try each literal at each offset.
            alternatives = sorted(by_literal, key=len, reverse=True)
            finder = _literal_finder(alternatives) if alternatives else None
            found = self._prefilters[name] = (finder, by_literal, tuple(unfiltered))
        return found


class RuleTexts:
    """Cosmetic rules kept as their lines (one string and offsets), each parsed again when first asked for."""
    # A store's rules as objects are tens of thousands of dataclasses, tuples and plans: megabytes in
    # memory, and slow to unpickle from the compiled-engine cache. A page needs a few of them; those
    # are parsed from their line (the same line gives the same rule) and kept, up to `_PARSED_LIMIT`.

    __slots__ = ("text", "offsets", "lines", "list_ids", "list_names", "untrusted", "_parsed")

    def __init__(self, text: str, offsets: array, lines: array, list_ids: array, list_names: tuple[str, ...],
                 untrusted: frozenset[int] = frozenset()):
        self.text = text  # the lines, each followed by "\n" (a list line holds no newline)
        self.offsets = offsets  # where each line starts in `text`, and the end
        self.lines = lines
        self.list_ids = list_ids  # positions in `list_names`
        self.list_names = list_names
        self.untrusted = untrusted  # list ids that may not use trusted-only forms
        self._parsed: dict[int, object] = {}

    @classmethod
    def of(cls, rules: Iterable, trusted: Iterable[bool] | None = None) -> RuleTexts:
        """From parsed rules (anything with `text`, `list`, `line`), with whether each one's list is trusted."""
        rules = list(rules)
        return cls.of_columns([rule.text for rule in rules], [rule.list for rule in rules],
                              [rule.line for rule in rules], trusted)

    @classmethod
    def of_columns(cls, texts: list[str], lists: list[str], lines: list[int],
                   trusted: Iterable[bool] | None = None) -> RuleTexts:
        """From the rules' texts, list names and line numbers, with whether each one's list is trusted."""
        ids: dict[tuple[str, bool], int] = {}
        places = zip(lists, trusted if trusted is not None else repeat(True))
        list_ids = array("H", [ids.setdefault(place, len(ids)) for place in places])
        offsets = array("I", [0])
        offsets.extend(accumulate(map((1).__add__, map(len, texts))))
        untrusted = frozenset(number for (_, is_trusted), number in ids.items() if not is_trusted)
        return cls("\n".join(texts) + "\n" if texts else "", offsets, array("I", lines), list_ids,
                   tuple(name for name, _ in ids), untrusted)

    def __reduce__(self):
        return RuleTexts, (self.text, self.offsets, self.lines, self.list_ids, self.list_names, self.untrusted)

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, number: int):
        rule = self._parsed.get(number)
        if rule is None:
            if number < 0:
                number += len(self.lines)
            offsets = self.offsets
            text = self.text[offsets[number] : offsets[number + 1] - 1]
            list_id = self.list_ids[number]
            # Every line here was parsed when the store was built: it parses the same way again.
            rule = parse_rule(text, self.list_names[list_id], self.lines[number], with_plan=False,
                              trusted=list_id not in self.untrusted)
            if len(self._parsed) >= _PARSED_LIMIT:
                self._parsed.clear()
            self._parsed[number] = rule
        return rule

    def __iter__(self):
        return map(self.__getitem__, range(len(self.lines)))

    def listing(self) -> str:
        """`list\0line\0text` of every rule, one a line (what an index's fingerprint is made of)."""
        offsets, text, names = self.offsets, self.text, self.list_names
        return "\n".join(f"{names[list_id]}\0{line}\0{text[offsets[n]:offsets[n + 1] - 1]}"
                         for n, (list_id, line) in enumerate(zip(self.list_ids, self.lines)))


_PARSED_LIMIT = 32768  # rules parsed back from their lines and kept, per `RuleTexts`, before starting afresh


class RuleTable(Mapping):
    """Rule numbers by domain, in one array; the rules themselves are parsed from `RuleTexts` when asked for."""

    __slots__ = ("rules", "_positions", "_starts", "_numbers")

    def __init__(self, rules: RuleTexts, keys: list[str], starts: array, numbers: array):
        self.rules = rules
        self._positions = dict(zip(keys, range(len(keys))))
        self._starts = starts  # key i's numbers are numbers[starts[i]:starts[i + 1]]
        self._numbers = numbers

    @classmethod
    def of(cls, rules: RuleTexts, by_domain: dict[str, list[int]]) -> RuleTable:
        starts = array("I", [0])
        numbers = array("I")
        for found in by_domain.values():
            numbers.extend(found)
            starts.append(len(numbers))
        return cls(rules, list(by_domain), starts, numbers)

    def __reduce__(self):
        # The keys as one string: a pickled dict would be an object per key and per value.
        return _restore_table, (self.rules, "\n".join(self._positions), len(self._positions), self._starts,
                                self._numbers)

    def numbers(self, domain: str):
        """The numbers (in `rules`) of the rules filed under `domain`, in list order."""
        position = self._positions.get(domain)
        if position is None:
            return ()
        return self._numbers[self._starts[position] : self._starts[position + 1]]

    def __getitem__(self, domain: str) -> tuple:
        if domain not in self._positions:
            raise KeyError(domain)
        return tuple(map(self.rules.__getitem__, self.numbers(domain)))

    def __contains__(self, domain) -> bool:
        return domain in self._positions

    def __iter__(self):
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


def _restore_table(rules: RuleTexts, keys: str, count: int, starts: array, numbers: array) -> RuleTable:
    return RuleTable(rules, keys.split("\n") if count else [], starts, numbers)


def _literal_finder(literals: list[str]):
    """A compiled regex finding any of the literals (in lower-cased text)."""
    pattern = "|".join(map(re.escape, literals))
    try:
        return re2.compile(pattern)
    except re2.error:
        return re.compile(pattern)


class StoredIndex:
    """A generic index saved to a private file: its size and fingerprint in memory, its rules on disk."""
    # The proxy process holds this instead of the index while page workers rewrite: the index is
    # most of an engine's objects, and all the proxy needs of it is whether any rule is left on a page.
    # An instance made by `save` or `private_copy` owns its file, which goes when the instance does
    # (or on `remove`); a pickled copy, as sent to a worker, owns nothing.

    __slots__ = ("path", "count", "fingerprint", "_cleanup", "__weakref__")

    def __init__(self, path: str, count: int, fingerprint: str):
        self.path = path
        self.count = count
        self.fingerprint = fingerprint
        self._cleanup: weakref.finalize | None = None

    def __reduce__(self):
        return StoredIndex, (self.path, self.count, self.fingerprint)

    @classmethod
    def save(cls, index: RuleIndex, folder: str | None = None) -> StoredIndex:
        """Write `index` to a new file readable by this user only (in `folder`, else the temp folder)."""
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix=_own_prefix(), suffix=".pickle", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(index, f, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            os.unlink(path)
            raise
        return cls(path, len(index), index.fingerprint)._owning()

    def private_copy(self) -> StoredIndex:
        """The same index in a file of its own beside this one (a hard link where possible), owned."""
        # A shared file (the compiled-engine cache's) may be pruned by another process later; a
        # worker started after that must still find the index.
        fd, path = tempfile.mkstemp(prefix=_own_prefix(), suffix=".pickle", dir=os.path.dirname(self.path) or ".")
        os.close(fd)
        try:
            try:
                os.link(self.path, path + ".link")  # a name free because `path` is ours
                os.replace(path + ".link", path)
            except FileNotFoundError:
                raise
            except OSError:
                shutil.copyfile(self.path, path)  # no hard links on this file system
        except BaseException:
            _unlink(path)
            raise
        return StoredIndex(path, self.count, self.fingerprint)._owning()

    def _owning(self) -> StoredIndex:
        self._cleanup = weakref.finalize(self, _unlink, self.path)
        return self

    def load(self) -> RuleIndex:
        """The index itself, read back from the file."""
        with open(self.path, "rb") as f:
            index = read_pickle(f)
        if not isinstance(index, RuleIndex) or index.fingerprint != self.fingerprint:
            raise ValueError(f"{self.path} does not hold generic index {self.fingerprint}")
        return index

    def remove(self) -> None:
        """Delete the file now."""
        if self._cleanup is not None:
            self._cleanup()
        else:
            _unlink(self.path)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"StoredIndex({self.path!r}, {self.count}, {self.fingerprint!r})"


# Files a process makes for its own indexes carry its pid, so that those left by a process that was
# killed can be told apart from those of a running one (see `remove_orphans`).
_OWN_FILE = re.compile(r"dejunk-generic-(\d+)-[^/]*\.pickle")


def _own_prefix() -> str:
    return f"dejunk-generic-{os.getpid()}-"


def remove_orphans(folder: str) -> int:
    """Delete index files of processes no longer running (killed before they could); returns how many."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        match = _OWN_FILE.fullmatch(name)
        if match is None or _running(int(match.group(1))):
            continue
        try:
            os.unlink(os.path.join(folder, name))
            removed += 1
        except OSError:
            pass
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: running
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


@dataclass(frozen=True, slots=True)
class PageRules:
    """What applies to one page, as plain data (picklable; the generic index may be left out, see below)."""
    # `generic` is the shared generic index (None when `$generichide`/`$elemhide` apply or there are no generic
    # rules; a `StoredIndex` when the store keeps it on disk for page workers); `disabled` are the generic rule
    # numbers switched off on this page (`#@#` exceptions, `~domain`s, `:matches-path()`). For a process pool,
    # `without_generic()` drops the index and keeps `generic_id`; the worker finds the index by that id after
    # `filters.html.rewrite.install_generic_index()` ran in it.

    url: str
    host: str
    specific: tuple[CosmeticRule, ...] = ()
    generic: RuleIndex | StoredIndex | None = None
    generic_id: str | None = None
    disabled: frozenset[int] = frozenset()
    elemhide: bool = False
    generichide: bool = False
    exceptions: tuple[str, ...] = field(default=())  # texts of the `#@#` rules that applied
    bad_lines: tuple[BadLine, ...] = ()  # site-specific rules soupsieve rejected (found on first use)
    scriptlets: tuple[ScriptletCall, ...] = ()  # to run at the start of the page, in list order
    styles: tuple[str, ...] = ()  # CSS rules to add to the page (`:style()`, `#$#`)
    injected_rules: tuple[str, ...] = ()  # texts of the scriptlet and style rules behind those
    injected_at: tuple[tuple[str, int], ...] = ()  # (list, line) of each of those
    live: str = ""  # the page runtime's description of the site-specific procedural rules (`live.description`)
    without: frozenset[tuple[str, int]] = frozenset()  # (list, line) of rules switched off: generic ones go in rewriting

    @property
    def empty(self) -> bool:
        """Whether no rule at all can apply (decided without looking at the page)."""
        return not self.specific and self.generic_id is None and not self.injects

    @property
    def injects(self) -> bool:
        """Whether something is to be put into the page (scripts or styles)."""
        return bool(self.scriptlets or self.styles or self.live)

    def without_generic(self) -> PageRules:
        """A copy without the generic index (to send to a worker that has it installed)."""
        return dataclasses.replace(self, generic=None)


class CosmeticStore:
    """All cosmetic rules of a set of lists, indexed; immutable once built."""

    # Bump when the pickled form changes: compiled-engine caches holding an older store are rebuilt.
    cache_version = "5"

    def __init__(self) -> None:
        self.generic = RuleIndex([])
        self.specific = RuleTable.of(RuleTexts.of(()), {})  # by domain (entity forms `example.*` too)
        self.exceptions: dict[str, tuple[CosmeticException, ...]] = {}  # by domain; "" for domain-less
        self.generic_numbers_by_key: dict[tuple[str, str], tuple[int, ...]] = {}
        self.generic_excluded: dict[str, tuple[int, ...]] = {}  # domain -> generic rules with `~domain`
        self.generic_with_path: tuple[tuple[int, tuple], ...] = ()  # (rule number, `:matches-path()` test)
        self.injected = RuleTable.of(RuleTexts.of(()), {})  # by domain; "" for every site
        self.injected_exceptions: dict[str, tuple[InjectedException, ...]] = {}  # by domain; "" for every site
        self.skipped: Counter = Counter()
        self.bad_lines: list[BadLine] = []
        self.rule_count = 0
        self.in_force: Counter = Counter()  # by list name: its rules and exceptions kept (not skipped, bad, repeated)

    @classmethod
    def from_lists(cls, filter_lists: Iterable[FilterList]) -> CosmeticStore:
        """Build from the cosmetic lines of read lists."""
        try:
            with making_long_lived():
                return cls._build(filter_lists)
        finally:
            # What the build parsed and compiled once per distinct domain list and selector is not needed
            # again until pages come (page workers compile their own): 3 MB for the corpus lists.
            _parse_domains.cache_clear()
            forget_compiled()

    @classmethod
    def _build(cls, filter_lists: Iterable[FilterList]) -> CosmeticStore:
        store = cls()
        # Generic rules as (text, list, line, key, excluded, gate, element keys, `:matches-path()` test), what
        # `_index` needs of them; site-specific ones as their lines, kept as `RuleTexts`. No rule object is made
        # for the lines of the most common form, `domains##.class` or `##.id`.
        generic: list[tuple] = []
        specific_texts: list[str] = []
        specific_lists: list[str] = []
        specific_lines: list[int] = []
        specific: dict[str, list[int]] = {}  # numbers in the three lists above
        exceptions: dict[str, list[CosmeticException]] = {}
        injected_rules: list[InjectedRule] = []
        injected_trust: list[bool] = []
        injected: dict[str, list[int]] = {}  # numbers in `injected_rules`
        injected_exceptions: dict[str, list[InjectedException]] = {}
        seen: set[tuple] = set()
        skipped = store.skipped
        in_force = store.in_force
        simple_hide = _SIMPLE_HIDE.fullmatch
        rules = 0
        for filter_list in filter_lists:
            trusted = getattr(filter_list, "trusted", True)
            name = filter_list.name
            kept = 0  # this list's rules and exceptions in force
            for line_no, text in filter_list.cosmetic:
                simple = simple_hide(text)
                try:
                    if simple is not None:
                        # Most lines: `domains##.class` or `##.id`; what `parse_rule` makes of them, directly.
                        head, marker, value = simple.groups()
                        domains, excluded = parse_domains(head) if head else ((), ())
                    elif "^responseheader(" in text and _RESPONSE_HEADER.search(text):
                        continue
                    else:
                        parsed = parse_rule(text, name, line_no, with_plan=False, trusted=trusted)
                except Unsupported as skip:
                    skipped[skip.reason] += 1
                    continue
                except SelectorError as error:
                    skipped["bad cosmetic rule"] += 1
                    store.bad_lines.append(BadLine(name, line_no, text, str(error)))
                    continue
                if simple is not None:
                    selector = marker + value
                    # (One hash of the identity rather than two: `in`, then `add`.)
                    before = len(seen)
                    seen.add((HIDE, selector, domains, excluded))
                    if len(seen) == before:
                        skipped["duplicate cosmetic rule"] += 1
                        continue
                    if domains:
                        for domain in domains:
                            specific.setdefault(domain, []).append(len(specific_texts))
                        specific_texts.append(text)
                        specific_lists.append(name)
                        specific_lines.append(line_no)
                    else:
                        # The plan `parse_rule` makes for these: its gate holds the selector, no attribute.
                        generic.append((text, name, line_no, (HIDE, selector), excluded, (),
                                        (("class" if marker == "." else "id", value),), None))
                    rules += 1
                    kept += 1
                    continue
                if isinstance(parsed, CosmeticException):
                    for domain in parsed.domains or ("",):
                        exceptions.setdefault(domain, []).append(parsed)
                    kept += 1
                    continue
                if isinstance(parsed, InjectedException):
                    for domain in parsed.domains or ("",):
                        injected_exceptions.setdefault(domain, []).append(parsed)
                    kept += 1
                    continue
                if isinstance(parsed, InjectedRule):
                    identity = (parsed.kind, parsed.key, parsed.domains, parsed.excluded)
                    if identity in seen:
                        skipped["duplicate cosmetic rule"] += 1
                        continue
                    seen.add(identity)
                    number = len(injected_rules)
                    injected_rules.append(parsed)
                    injected_trust.append(trusted)
                    for domain in parsed.domains or ("",):
                        injected.setdefault(domain, []).append(number)
                    rules += 1
                    kept += 1
                    continue
                identity = (parsed.kind, parsed.selector, parsed.domains, parsed.excluded)
                if identity in seen:
                    skipped["duplicate cosmetic rule"] += 1
                    continue
                seen.add(identity)
                if parsed.generic:
                    plan = parsed.plan
                    generic.append((text, name, line_no, parsed.key, parsed.excluded, plan.gate, plan.element_keys,
                                    plan.path))
                else:
                    for domain in parsed.domains:
                        specific.setdefault(domain, []).append(len(specific_texts))
                    specific_texts.append(text)
                    specific_lists.append(name)
                    specific_lines.append(line_no)
                rules += 1
                kept += 1
            if kept:
                in_force[name] += kept
        store.rule_count += rules
        # Kept as lines and numbers (parsed again for the pages that need them), see `RuleTexts`.
        specific_table = RuleTable.of(RuleTexts.of_columns(specific_texts, specific_lists, specific_lines), specific)
        store._index(generic, specific_table, exceptions)
        store.injected = RuleTable.of(RuleTexts.of(injected_rules, injected_trust), injected)
        store.injected_exceptions = {domain: tuple(found) for domain, found in injected_exceptions.items()}
        return store

    def _index(self, generic: list[tuple], specific: RuleTable, exceptions: dict) -> None:
        # `generic`: (text, list, line, key, excluded, gate, element keys, path test) of each generic rule.
        self.specific = specific
        self.exceptions = {domain: tuple(found) for domain, found in exceptions.items()}
        # Domain-less exceptions without `~domain`s apply everywhere: drop their generic rules now.
        everywhere = {e.key for e in self.exceptions.get("", ()) if not e.excluded}
        kept = [rule for rule in generic if rule[3] not in everywhere] if everywhere else generic
        if len(kept) < len(generic):
            self.skipped["cosmetic rule excepted everywhere"] += len(generic) - len(kept)
            for rule in generic:
                if rule[3] in everywhere:
                    self.in_force[rule[1]] -= 1
        self.generic = RuleIndex.compact(
            RuleTexts.of_columns([rule[0] for rule in kept], [rule[1] for rule in kept], [rule[2] for rule in kept]),
            [(rule[5], rule[6]) for rule in kept],
        )
        by_key: dict[tuple[str, str], list[int]] = {}
        excluded: dict[str, list[int]] = {}
        with_path = []
        named = {e.key for found in self.exceptions.values() for e in found}  # selectors some exception names
        for number, (_, _, _, key, excluded_domains, _, _, path) in enumerate(kept):
            if key in named:
                by_key.setdefault(key, []).append(number)
            for domain in excluded_domains:
                excluded.setdefault(domain, []).append(number)
            if path is not None:
                with_path.append((number, path))
        self.generic_numbers_by_key = {k: tuple(v) for k, v in by_key.items()}
        self.generic_excluded = {k: tuple(v) for k, v in excluded.items()}
        self.generic_with_path = tuple(with_path)

    def __len__(self) -> int:
        return self.rule_count

    def with_generic(self, generic: RuleIndex | StoredIndex) -> CosmeticStore:
        """This store with its generic index replaced by an equal one (e.g. the same index, stored)."""
        if len(generic) != len(self.generic) or generic.fingerprint != self.generic.fingerprint:
            raise ValueError("a different generic index")
        other = copy.copy(self)
        other.generic = generic
        return other

    def page_rules(self, url: str, *, elemhide: bool = False, generichide: bool = False,
                   specifichide: bool = False, without: frozenset[tuple[str, int]] = frozenset()) -> PageRules:
        """The rules that apply to the page at `url`."""
        # `elemhide=True` (an `@@...$elemhide` exception for the page) means no cosmetic rule at all;
        # `generichide=True` (`$generichide`) means no generic rule, `specifichide=True` (`$shide`) no
        # site-specific one. `without`: (list, line) of rules switched off (scripts/culprit.py tries
        # subsets); the generic ones among them are left out by the rewriter, which holds the index.
        host = host_of(url)
        if elemhide:
            return PageRules(url, host, elemhide=True, generichide=generichide)
        names = domain_names(host)
        path = _path_and_query(url)
        excepted: set[tuple[str, str]] = set()
        applied_exceptions: list[str] = []
        for name in ("", *names):
            for exception in self.exceptions.get(name, ()):
                if exception.key in excepted or (not name and not exception.excluded):
                    continue  # (exceptions for everywhere were applied when the store was built)
                if applies(exception.domains, exception.excluded, host, names):
                    excepted.add(exception.key)
                    applied_exceptions.append(exception.text)
        specific: list[CosmeticRule] = []
        bad: list[BadLine] = []
        seen: set[int] = set()
        table = self.specific
        for name in () if specifichide else names:
            for number in table.numbers(name):
                if number in seen:  # filed under several of the page's names
                    continue
                seen.add(number)
                rule = table.rules[number]
                if rule.key in excepted or not applies(rule.domains, rule.excluded, host, names):
                    continue
                if without and (rule.list, rule.line) in without:
                    continue
                try:
                    rule = rule.with_plan()
                except SelectorError as error:
                    bad.append(BadLine(rule.list, rule.line, rule.text, str(error)))
                    continue
                if rule.plan.path is not None and not _path_matches(rule.plan.path, path):
                    continue
                specific.append(rule)
        specific.sort(key=lambda rule: (rule.list, rule.line))
        injected = (self._injected_for(host, names, path, generichide, specifichide, applied_exceptions, without)
                    if self.injected else {})
        live = live_description(specific, injected.pop("live_styles", ()))
        if generichide or not len(self.generic):
            return PageRules(url, host, tuple(specific), elemhide=False, generichide=generichide,
                             exceptions=tuple(applied_exceptions), bad_lines=tuple(bad), live=live, **injected)
        disabled: set[int] = set()
        for key in excepted:
            disabled.update(self.generic_numbers_by_key.get(key, ()))
        for name in names:
            disabled.update(self.generic_excluded.get(name, ()))
        for number, test in self.generic_with_path:
            if not _path_matches(test, path):
                disabled.add(number)
        return PageRules(
            url, host, tuple(specific), self.generic, self.generic.fingerprint, frozenset(disabled),
            exceptions=tuple(applied_exceptions), bad_lines=tuple(bad), live=live, without=frozenset(without),
            **injected,
        )

    def _injected_for(self, host: str, names: tuple[str, ...], path: str, generichide: bool, specifichide: bool,
                      applied: list[str], without: frozenset[tuple[str, int]] = frozenset()) -> dict:
        """PageRules' `scriptlets`, `styles` and `injected_rules` for a page (texts of exceptions used go to `applied`)."""
        # Generic ones (no domain) are switched off by `$generichide` like generic hiding rules; `$specifichide`
        # switches off the site's `:style()` rules with its hiding rules, not its scriptlets, which have
        # exceptions of their own (`#@#+js()`).
        excepted: set[tuple[str, str]] = set()
        for name in ("", *names):
            for exception in self.injected_exceptions.get(name, ()):
                if (exception.kind, exception.key) not in excepted and applies(exception.domains, exception.excluded,
                                                                               host, names):
                    excepted.add((exception.kind, exception.key))
                    applied.append(exception.text)
        no_scriptlets = (SCRIPTLET, "") in excepted
        found: dict[int, InjectedRule] = {}
        table = self.injected
        for name in (*names, *(() if generichide else ("",))):
            for number in table.numbers(name):
                if number in found:
                    continue
                rule = table.rules[number]
                if (rule.kind, rule.key) in excepted:
                    continue
                if (no_scriptlets if rule.kind == SCRIPTLET else specifichide):
                    continue
                if without and (rule.list, rule.line) in without:
                    continue
                if applies(rule.domains, rule.excluded, host, names) and (
                        rule.path is None or _path_matches(rule.path, path)):
                    found[number] = rule
        if not found:
            return {}
        chosen = sorted(found.values(), key=lambda rule: (rule.list, rule.line))
        return {
            "scriptlets": tuple(rule.call for rule in chosen if rule.kind == SCRIPTLET),
            "styles": tuple(dict.fromkeys(rule.css for rule in chosen if rule.kind == STYLE and rule.css)),
            "live_styles": tuple((rule.selector, rule.declarations) for rule in chosen if rule.kind == STYLE
                                 and not rule.css),
            "injected_rules": tuple(rule.text for rule in chosen),
            "injected_at": tuple((rule.list, rule.line) for rule in chosen),
        }


def _path_and_query(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "/"
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _path_matches(test: tuple, path_and_query: str) -> bool:
    from .selectors import path_matches

    return path_matches(test, path_and_query)


# --- rule lines ------------------------------------------------------------------------------------


def parse_rule(
    text: str, list_name: str = "inline", line: int = 0, *, with_plan: bool = True, trusted: bool = True
) -> CosmeticRule | CosmeticException | InjectedRule | InjectedException:
    """Parse one cosmetic line. Raises Unsupported (skip, by reason) or SelectorError (a bad line)."""
    # With `with_plan=False`, site-specific rules get their plan later (`CosmeticRule.with_plan`).
    # `trusted`: whether the line's list may use trusted-only forms.
    marker = _MARKER.search(text)
    if marker is None:
        raise SelectorError("no cosmetic marker")
    separator = marker.group(0)
    domain_part = text[: marker.start()]
    body = text[marker.end() :]
    exception = "@" in separator
    if separator in ("#%#", "#@%#"):
        raise Unsupported("AdGuard scriptlet or script (#%#)")
    if separator in ("#$?#", "#@$?#"):
        raise Unsupported("AdGuard extended CSS injection (#$?#)")
    domains, excluded = parse_domains(domain_part)
    if separator in ("#$#", "#@$#"):
        return _style_rule(text, list_name, line, body, domains, excluded, exception, adguard=True)
    adguard = separator in ("$$", "$@$")
    if adguard:
        kind = HTML
        selector = body.strip()
    elif body.startswith("+js(") and body.rstrip().endswith(")"):
        if exception and excluded:
            raise Unsupported("scriptlet exception with ~domain")
        if not exception and not domains and excluded:
            raise Unsupported("scriptlet rule for every site but some")
        key, call = parse_scriptlet(body.rstrip()[4:-1], exception=exception, trusted=trusted)
        if exception:
            return InjectedException(text, list_name, line, SCRIPTLET, key, domains, excluded)
        return InjectedRule(text, list_name, line, SCRIPTLET, key, call=call, domains=domains, excluded=excluded)
    elif body.startswith("+js"):
        raise SelectorError("a scriptlet rule is written +js(name, arguments)")
    elif ":style(" in body and style_parts(body, adguard=False) is not None:
        return _style_rule(text, list_name, line, body, domains, excluded, exception, adguard=False)
    elif body.startswith("^"):
        kind = HTML
        selector = body[1:].strip()
        if selector.startswith("script:inject("):
            raise Unsupported("scriptlet (##+js)")
    else:
        kind = HIDE
        selector = body.strip()
    if not selector:
        raise SelectorError("empty selector")
    if exception:
        return CosmeticException(text, list_name, line, (kind, selector), domains, excluded)
    if kind == HTML and not adguard:
        check_html_filter(selector)
    if domains and not with_plan and not adguard and plain_accepts(selector):
        # Site-specific plain CSS (most such lines): valid as it is, within bounds; the plan comes on first use.
        check_shape(selector)
        plan = None
        browser_only = False
    elif domains and not with_plan:
        # Site-specific: check what can be checked without soupsieve; the plan comes on first use.
        prepared = prepare_adguard_html(selector) if adguard else prepare(selector)
        plan = prepared if isinstance(prepared, Plan) else None
        browser_only = plan is None and not adguard and needs_runtime(prepared[2])
    else:
        plan = plan_for_adguard_html(selector) if adguard else plan_for(selector)
        browser_only = not plan.server
    if browser_only and kind == HTML:
        raise Unsupported("##^ HTML filter with :matches-css() (needs a browser)")
    if browser_only and not domains:
        # The page runtime takes site-specific rules only, as uBO runs procedural rules only where a site is named.
        raise Unsupported("generic rule with :matches-css() (needs a browser)")
    return CosmeticRule(text, list_name, line, kind, selector, plan, domains, excluded, adguard)


def _style_rule(text, list_name, line, body, domains, excluded, exception, *, adguard):
    """A `sel:style(decls)` or AdGuard `sel { decls }` line as an InjectedRule (or InjectedException)."""
    parts = style_parts(body, adguard)
    if parts is None:
        raise SelectorError("a CSS injection rule is written selector { declarations }")
    selector, declarations = parts
    key = f"{selector}\x1f{declarations}"
    if exception:
        return InjectedException(text, list_name, line, STYLE, key, domains, excluded)
    if not domains:
        raise Unsupported("generic :style() (only for named sites, as in uBO)")
    prepared = prepare(selector)
    if not isinstance(prepared, Plan):
        path, css, steps = prepared
        if path is not None or steps or css.strip() != selector:
            # Procedural (or translated: not CSS a browser knows): the page runtime applies it.
            if live_entry(selector, ()) is None:
                raise Unsupported(":style() after a selector the page runtime cannot run")
            return InjectedRule(text, list_name, line, STYLE, key, domains=domains, excluded=excluded,
                                selector=selector, declarations=style_declarations(declarations), path=path)
    return InjectedRule(text, list_name, line, STYLE, key, css=style_css(selector, declarations), domains=domains,
                        excluded=excluded)


def parse_domains(domain_part: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`a.com,~b.a.com,example.*` -> ((a.com, example.*), (b.a.com,)); `*` and '' mean everywhere."""
    if not domain_part:
        return (), ()
    return _parse_domains(domain_part)


_DOMAIN = re.compile(r"[a-z0-9_.-]+|[0-9a-f:]+")


@functools.lru_cache(maxsize=65536)
def _parse_domains(domain_part: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    normal = normal_domain_list(domain_part, ",")
    if normal is not None:
        return normal
    included: list[str] = []
    excluded: list[str] = []
    for raw in domain_part.split(","):
        name = raw.strip()
        if not name or name == "*":
            continue
        negated = name.startswith("~")
        if negated:
            name = name[1:].strip()
        if name.startswith("/") and name.endswith("/") and len(name) > 1:
            raise Unsupported("regex domain in cosmetic rule")
        entity = name.endswith(".*")
        host = normalize_host(name[:-2] if entity else name)
        if not host or not _DOMAIN.fullmatch(host):
            raise SelectorError(f"bad domain {raw.strip()!r}")
        (excluded if negated else included).append(host + ".*" if entity else host)
    return tuple(included), tuple(excluded)


def domain_names(host: str) -> tuple[str, ...]:
    """The names a rule's domain list can use for this host, most specific first."""
    # `a.b.example.co.uk` -> a.b.example.co.uk, b.example.co.uk, example.co.uk, co.uk, uk, a.b.example.*,
    # b.example.*, example.* (entity forms drop the public suffix).
    if not host:
        return ()
    labels = host.split(".")
    names = [".".join(labels[i:]) for i in range(len(labels))]
    if not is_ip_address(host):
        registrable = registrable_domain(host)
        suffix = registrable.partition(".")[2] if registrable != host or "." in registrable else ""
        if suffix and host.endswith("." + suffix):
            prefix = host[: -len(suffix) - 1].split(".")
            names.extend(".".join(prefix[i:]) + ".*" for i in range(len(prefix)))
    return tuple(names)


def applies(domains: tuple[str, ...], excluded: tuple[str, ...], host: str, names: tuple[str, ...]) -> bool:
    """Whether a rule with these domain lists applies to `host` (whose `domain_names` are `names`)."""
    # The most specific matching name decides (`example.com,~ads.example.com` is off on ads.example.com); on a
    # tie the exclusion wins. With only exclusions, it applies elsewhere.
    if not domains and not excluded:
        return True
    best_included = _best(domains, names)
    best_excluded = _best(excluded, names)
    if domains and best_included < 0:
        return False
    if best_excluded < 0:
        return True
    if best_included < 0:
        return False
    return best_included < best_excluded


def _best(candidates: tuple[str, ...], names: tuple[str, ...]) -> int:
    """The position in `names` (smaller is more specific) of the best candidate, -1 if none matches."""
    best = -1
    for candidate in candidates:
        try:
            position = names.index(candidate)
        except ValueError:
            continue
        if best < 0 or position < best:
            best = position
    return best
