"""Rule indexes: every rule filed once, so that a request only tests the few rules that could match.

A rule is filed by the first of these that applies:
- `||host...` rules under their host name (`by_host`); a request probes its host and each parent
  domain. A bare `||host^` (or a hosts-file line) is stored as a plain rule id: finding it is the
  whole match. A big hosts file's entries go into a `PlainHosts` table instead (`plain_hosts`):
  sorted names in one string, a tenth of a dict's memory; `by_host` is probed first.
- other rules under the rarest of the tokens their pattern guarantees (`by_token`); a request
  probes the tokens of its URL.
- rules without such a token but restricted by `$domain=` under each of those domains
  (`by_domain`); a request probes the names of its source page. So are `$domain=` rules whose
  token or host many rules share: a request from another site then never tests them.
- the rest in `always`, by resource type: tested for every request of a type the rule covers
  (few: `$ping,third-party`-style rules).

Rule ids index the engine's rule table; the index holds only ids and keys, so it pickles compactly.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate, chain
from operator import itemgetter, neg

from .rules import ALL_TYPES, DOCUMENT, PAIR_PREFIX, NetworkRule, rule_keys

# Tokens that appear in most URLs: a rule filed under one would be tested for nearly every request.
COMMON_TOKENS = frozenset(
    {
        "http", "https", "www", "com", "net", "org", "co", "uk", "de", "io", "js", "css", "html",
        "htm", "php", "asp", "aspx", "jpg", "jpeg", "png", "gif", "svg", "webp", "json", "cdn",
        "static", "assets", "img", "images", "image", "min", "api", "v1", "v2", "v3", "id", "en",
        "wp", "content", "uploads", "includes", "index", "js?", "ver", "v", "s", "a", "b", "c", "d",
        "e", "i", "m", "p", "t", "x", "1", "2", "3", "0", "utm", "src", "media", "files", "file",
        "app", "web", "script", "scripts", "lib", "libs", "dist", "public", "main", "default",
    }
)  # fmt: skip


# The engine's rule indexes (the attributes that hold them), by position: `find(engine, BLOCKS, target)`
# and so on.
INDEXES = (
    "_blocks",  # block rules for subresources (and pages, when they also name a subresource type)
    "_page_blocks",  # block rules for documents and popups only
    "_importants",  # `$important` block rules (also in one of the two above)
    "_exceptions",  # `@@` rules that let a request through
    "_redirects",  # `$redirect=`/`$redirect-rule=` rules and their exceptions
    "_removeparams",  # `$removeparam` rules and their exceptions
    "_csps",  # `$csp` rules and their exceptions
    "_page_exceptions",  # `@@...$document/$elemhide/$generichide/$genericblock/$specifichide`
    "_replaces",  # `$replace` rules and their exceptions
)
BLOCKS, PAGE_BLOCKS, IMPORTANTS, EXCEPTIONS, REDIRECTS, REMOVEPARAMS, CSPS, PAGE_EXCEPTIONS, REPLACES = range(
    len(INDEXES))
# Indexes merged at load time (not saved), each answering one question in one lookup: does anything
# change a blocked request's answer (an `$important` block, an exception, a redirect)? Does any
# modifier (`$removeparam`, `$csp`, `$replace`) apply to one let through? Usually not: then the
# separate indexes are never consulted.
MERGED = ((IMPORTANTS, EXCEPTIONS, REDIRECTS), (REMOVEPARAMS, CSPS, REPLACES))
AFTER_BLOCK, MODIFIERS = range(len(INDEXES), len(INDEXES) + len(MERGED))
# The part each rule of `AFTER_BLOCK` plays, as bits kept with its compiled form: the rules a blocked
# request matches there then tell which of the three indexes must answer.
IMPORTANT_ROLE, EXCEPTION_ROLE, REDIRECT_ROLE = 1, 2, 4
ROLE_OF_INDEX = {IMPORTANTS: IMPORTANT_ROLE, EXCEPTIONS: EXCEPTION_ROLE, REDIRECTS: REDIRECT_ROLE}
PROBE_SLOTS = len(INDEXES) + len(MERGED)

# A token's flags in the engine's table of every index's token keys (`_token_flags`).
IS_KEY = 1  # a key of some index's token table (pairs included)
STARTS_PAIR = 2  # the first token of pairs (`"ads image"`) filed in a token table

# A run of plain host rules this long (a hosts file) goes into a `PlainHosts` table, not `by_host`.
PLAIN_TABLE_FROM = 100_000


@dataclass(slots=True)
class PlainHosts:
    """Plain host rules (host -> rule id) as sorted names in one string: no object per host."""

    names: str  # "\n" + the sorted host names joined by "\n" + "\n"
    block_starts: array  # where the "\n" before each block's first name is, and the last "\n"
    entries: array  # each sorted name's entry number in list order (a name listed twice: its first entry first)
    samples: list[str]  # each block's first name, for a bisection
    first_rid: int  # the entries' rule ids are first_rid on, in list order
    slots: array  # where each entry (in list order) is among the sorted names

    BLOCK = 32  # names per block

    @classmethod
    def build(cls, hosts: list[str], first_rid: int, invert: Callable[[array], array]) -> PlainHosts:
        """The table for `hosts`, whose rule ids are `first_rid` on, in order; `invert` inverts a permutation
        (`hotpath.inverse_permutation`, a C loop where compiled)."""
        # A stable sort keeps a name's entries in list order, so a lookup finds its first one.
        entries = array("I", sorted(range(len(hosts)), key=hosts.__getitem__))
        # Joined a block at a time: the blocks' lengths give where each starts, without a number per name.
        block = cls.BLOCK
        blocks = ["\n".join(map(hosts.__getitem__, entries[k : k + block])) for k in range(0, len(entries), block)]
        names = "\n".join(["", *blocks, ""])  # one copy of the text, not three
        block_starts = array("I", accumulate(map((1).__add__, map(len, blocks)), initial=0))
        # Copies, not the list's own strings: once the list goes, its memory can go back to the system.
        samples = [text.partition("\n")[0] for text in blocks]
        del blocks
        return cls(names, block_starts, entries, samples, first_rid, invert(entries))

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, host: str) -> int | None:
        """The rule id for `host`, or None."""
        # The names before block j-1 are below `host`, and those after block j's first are above it.
        j = bisect_left(self.samples, host)
        if "\n" in host:
            return None
        low = j - 1 if j else 0
        block_starts = self.block_starts
        names = self.names
        start = block_starts[low]
        end = names.find("\n", block_starts[j] + 1) if j < len(self.samples) else block_starts[j]
        found = names.find("\n" + host + "\n", start, end + 1)
        if found < 0:
            return None
        return self.first_rid + self.entries[low * self.BLOCK + names.count("\n", start, found)]

    def name_of(self, rid: int) -> str | None:
        """The host name of the entry with rule id `rid`, or None if it is not one of this table's."""
        entry = rid - self.first_rid
        if not 0 <= entry < len(self.slots):
            return None
        block, place = divmod(self.slots[entry], self.BLOCK)
        return self.names[self.block_starts[block] + 1 : self.block_starts[block + 1]].split("\n")[place]

    def items(self):
        """(host, rule id) for each name, the first entry of a name only."""
        previous = None
        first_rid = self.first_rid
        for host, entry in zip(self.names[1:-1].split("\n"), self.entries):
            if host != previous:
                yield host, first_rid + entry
                previous = host


@dataclass(slots=True)
class RuleIndex:
    """Rule ids of one kind (blocks, exceptions, redirects...), filed for lookup."""

    by_host: dict[str, int | tuple[int, ...]] = field(default_factory=dict)
    by_token: dict[str, tuple[int, ...]] = field(default_factory=dict)
    by_domain: dict[str, tuple[int, ...]] = field(default_factory=dict)
    always: dict[int, tuple[int, ...]] = field(default_factory=dict)
    size: int = 0
    # Tokens that start a two-token key (`"ads image"`) in `by_token`: a request probes the pair
    # made of such a token and the next one in its URL.
    hot: frozenset[str] = frozenset()
    # Big hosts files' entries, probed after `by_host` (which holds none of their names' rules).
    plain_hosts: tuple[PlainHosts, ...] = ()

    def __bool__(self) -> bool:
        return self.size > 0

    def host_items(self):
        """(host, what `host_hit` gives) for every host the index has rules under."""
        yield from self.by_host.items()
        for position, table in enumerate(self.plain_hosts):
            earlier = self.plain_hosts[:position]
            for host, rid in table.items():
                if host not in self.by_host and not any(t.get(host) is not None for t in earlier):
                    yield host, rid

    def host_hit(self, host: str):
        """What `by_host`, else a plain hosts table, holds for `host`: a rule id, ids, or None."""
        hit = self.by_host.get(host)
        if hit is None:
            for table in self.plain_hosts:
                hit = table.get(host)
                if hit is not None:
                    break
        return hit

    def candidates(self, suffixes, tokens, source_keys, type_bit):
        """Every rule id worth testing for a request, in probe order (ints from `by_host` are whole matches)."""
        for suffix in suffixes:
            hit = self.host_hit(suffix)
            if hit is not None:
                yield from (hit,) if hit.__class__ is int else hit
        by_token = self.by_token
        hot = self.hot
        for i, token in enumerate(tokens):
            bucket = by_token.get(token)
            if bucket is not None:
                yield from bucket
            if token in hot and i + 1 < len(tokens):
                bucket = by_token.get(token + " " + tokens[i + 1][:PAIR_PREFIX])
                if bucket is not None:
                    yield from bucket
        yield from self.always.get(type_bit, ())
        by_domain = self.by_domain
        if by_domain:
            for key in source_keys:
                bucket = by_domain.get(key)
                if bucket is not None:
                    yield from bucket


class IndexBuilder:
    """Collects rules, then files each under its best key (`finish`)."""

    def __init__(self, invert: Callable[[array], array] | None = None) -> None:
        # What a `PlainHosts` table is built with (`PlainHosts.build`): the engine passes the hot path's.
        self._invert = invert
        self._by_host: dict[str, list[int] | int] = {}
        self._listed: list[str] = []  # the hosts `_by_host` holds a list for (made a tuple by `finish`)
        self._tables: list[PlainHosts] = []
        self._pending: list[tuple[int, list[str], frozenset[str] | None, str | None, list, int]] = []
        self._size = 0

    def add_simple_host(self, host: str, rid: int) -> None:
        """A rule that is nothing but `||host^` (blocks or allows everything on that host)."""
        self._size += 1
        current = self._by_host.get(host)
        if current is None:
            if self._tables and self._in_tables(host) is not None:
                return  # an earlier plain rule decides
            self._by_host[host] = rid
        elif isinstance(current, list):
            current.append(rid)
        # A second plain rule for the same host adds nothing: the first one already decides.

    def add_simple_hosts(self, hosts: list[str], first_rid: int) -> bool:
        """Many plain `||host^` rules at once (a hosts file's entries), with ids `first_rid` on, in order.

        Returns whether they went into a `PlainHosts` table (which then holds their names)."""
        # The same filing as `add_simple_host` for each, without a Python step per host: a hosts file
        # has millions of them.
        by_host = self._by_host
        if len(hosts) >= PLAIN_TABLE_FROM:
            self._add_table(hosts, first_rid)
            return True
        self._size += len(hosts)
        last = first_rid + len(hosts) - 1
        fresh = dict(zip(reversed(hosts), range(last, first_rid - 1, -1)))  # a host's first entry is kept
        if self._tables:
            for host in [host for host in fresh if self._in_tables(host) is not None]:
                del fresh[host]  # an earlier plain rule decides
        common = fresh.keys() & by_host.keys()
        if common:
            # What `add_simple_host` does with a name already filed: a plain rule keeps it, rules with options
            # (a list) take each of its ids.
            for host in common:
                del fresh[host]
            joining = {host for host in common if by_host[host].__class__ is list}
            if joining:
                for rid, host in enumerate(hosts, first_rid):
                    if host in joining:
                        by_host[host].append(rid)
        if len(fresh) > len(by_host):
            fresh.update(by_host)
            self._by_host = fresh
        else:
            by_host.update(fresh)
        return False

    def _add_table(self, hosts: list[str], first_rid: int) -> None:
        """A hosts file's entries as a `PlainHosts` table, filed as `add_simple_host` would file each."""
        self._size += len(hosts)
        by_host = self._by_host
        # A name `by_host` already holds keeps that (looked up first): plain ids join its bucket.
        common = by_host.keys() & hosts
        if any(by_host[host].__class__ is list for host in common):
            for rid, host in enumerate(hosts, first_rid):
                if host in common and by_host[host].__class__ is list:
                    by_host[host].append(rid)
        if self._invert is None:
            raise ValueError("a hosts table needs the builder's `invert` (hotpath.inverse_permutation)")
        self._tables.append(PlainHosts.build(hosts, first_rid, self._invert))

    def _in_tables(self, host: str) -> int | None:
        for table in self._tables:
            rid = table.get(host)
            if rid is not None:
                return rid
        return None

    def add(self, rid: int, rule: NetworkRule) -> None:
        """A rule (a `NetworkRule`, or the `RuleFields` it is made from)."""
        hostname = rule.hostname
        if hostname is not None and rule.rest in ("", "^"):  # `rule.host_only`
            self.add_host_rule(hostname, rid)
            return
        self._size += 1
        domains = rule.domains
        domains = domains.include if domains is not None and domains.include else None
        tokens, pairs = rule_keys(rule)
        self._pending.append((rid, tokens, domains, hostname, pairs, rule.mask))

    def add_host_rule(self, host: str, rid: int) -> None:
        """A rule whose pattern is `||host^` (or `||host`), options or not: filed under its host."""
        self._size += 1
        self._file_host(host, rid)

    def _file_host(self, host: str, rid: int) -> None:
        current = self._by_host.get(host)
        if current is None and self._tables:
            current = self._in_tables(host)
        if current is None:
            self._by_host[host] = [rid]
            self._listed.append(host)
        elif isinstance(current, list):
            current.append(rid)
        else:
            self._by_host[host] = [current, rid]
            self._listed.append(host)

    def finish(self) -> RuleIndex:
        pending = self._pending
        # How many rules have each token, host and pair (a rule counted once per key).
        counts: Counter = Counter(chain.from_iterable(map(dict.fromkeys, map(itemgetter(1), pending))))
        host_counts: Counter = Counter(map(itemgetter(3), pending))  # (None counts the rules without a host)
        pair_counts: Counter = Counter(chain.from_iterable(map(dict.fromkeys, map(itemgetter(4), pending))))
        # Each token's cost, worked out once: rare in URLs first, then rare among the rules, then long.
        lengths = list(map(len, counts))
        cost = dict(zip(counts, zip(map(COMMON_TOKENS.__contains__, counts), map((3).__gt__, lengths), counts.values(),
                                    map(neg, lengths)))).__getitem__
        by_token: dict[str, list[int]] = {}
        by_domain: dict[str, list[int]] = {}
        always: dict[int, list[int]] = {}
        hot: set[str] = set()
        for rid, tokens, domains, host, pairs, mask in pending:
            best = min(tokens, key=cost) if tokens else None
            if domains is not None and _crowded(best, host, counts, host_counts):
                # Site-specific rules in a crowded bucket (dozens of `||cdn.example/x.js$domain=site`
                # twins): under their sites instead, so that a request from elsewhere never tests them.
                for domain in domains:
                    by_domain.setdefault(domain, []).append(rid)
                continue
            # A pair must not start with a token most URLs have: every request would probe it.
            if pairs and (best is None or best in COMMON_TOKENS or counts[best] > _CROWDED):
                pairs = [p for p in pairs if p[0] not in COMMON_TOKENS and len(p[0]) > 1]
            else:
                pairs = None
            if pairs:
                # A crowded token: file under the rarest pair of neighbouring tokens instead.
                first, second = min(pairs, key=lambda p: (pair_counts[p], cost(p[0])))
                if pair_counts[(first, second)] < counts[best] if best is not None else True:
                    by_token.setdefault(first + " " + second, []).append(rid)
                    hot.add(first)
                    continue
            if host is not None:
                # `||host/path` rules: under a rare token of the path when there is one, else the host.
                if best is not None and best not in COMMON_TOKENS and counts[best] < host_counts[host]:
                    by_token.setdefault(best, []).append(rid)
                else:
                    self._file_host(host, rid)
                continue
            if best is not None and (best not in COMMON_TOKENS or domains is None):
                by_token.setdefault(best, []).append(rid)
            elif domains is not None:
                for domain in domains:
                    by_domain.setdefault(domain, []).append(rid)
            else:
                # A page-level rule (no request type) is looked up as a document.
                for bit in _bits(mask & ALL_TYPES) or [DOCUMENT]:
                    always.setdefault(bit, []).append(rid)
        # In place: a hosts file puts millions of plain ids here, which stay as they are.
        by_host = self._by_host
        for host in self._listed:
            by_host[host] = tuple(by_host[host])
        return RuleIndex(
            by_host=by_host,
            by_token={t: tuple(v) for t, v in by_token.items()},
            by_domain={d: tuple(v) for d, v in by_domain.items()},
            always={bit: tuple(v) for bit, v in always.items()},
            size=self._size,
            hot=frozenset(hot),
            plain_hosts=tuple(self._tables),
        )


# A token shared by more rules than this makes a slow bucket: such rules go under a token pair.
_CROWDED = 6


def _crowded(best: str | None, host: str | None, counts: Counter, host_counts: Counter) -> bool:
    """Would this rule land in a bucket that many rules share (its rarest token's, or its host's)?"""
    if best is not None and best not in COMMON_TOKENS and counts[best] <= _CROWDED:
        return False
    return host is None or host_counts[host] > _CROWDED


def _bits(mask: int) -> list[int]:
    return [1 << i for i in range(mask.bit_length()) if mask >> i & 1]


def merge_indexes(*indexes: RuleIndex) -> RuleIndex:
    """One index holding the rules of several: a request finds a rule in it iff it finds one in any of them.

    Each rule stays under the key it was filed under, so the candidates a request reaches are the
    union of theirs; a plain host rule is kept as a whole match only where it is alone under its host.
    """
    by_host: dict[str, list[int] | int] = {}
    by_token: dict[str, list[int]] = {}
    by_domain: dict[str, list[int]] = {}
    always: dict[int, list[int]] = {}
    for index in indexes:
        for host, hit in index.host_items():
            current = by_host.get(host)
            if current is None:
                by_host[host] = hit if hit.__class__ is int else list(hit)
            else:
                merged = [current] if current.__class__ is int else current
                merged.extend((hit,) if hit.__class__ is int else hit)
                by_host[host] = merged
        for table, merged in ((index.by_token, by_token), (index.by_domain, by_domain), (index.always, always)):
            for key, bucket in table.items():
                merged.setdefault(key, []).extend(bucket)
    return RuleIndex(
        by_host={host: (hit if hit.__class__ is int else tuple(hit)) for host, hit in by_host.items()},
        by_token={key: tuple(bucket) for key, bucket in by_token.items()},
        by_domain={key: tuple(bucket) for key, bucket in by_domain.items()},
        always={key: tuple(bucket) for key, bucket in always.items()},
        size=sum(index.size for index in indexes),
        hot=frozenset().union(*(index.hot for index in indexes)),
    )
