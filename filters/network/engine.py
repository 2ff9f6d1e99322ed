"""The network rules of a set of lists, built once, immutable; `check` decides a request.

`filters.engine.Engine` (the facade the proxy and the scripts use) holds one `NetworkEngine` beside
the cosmetic store, and the compiled-engine cache saves both.

Semantics are adblock-rust's (Brave), with uBlock Origin's where adblock-rust has none (`$denyallow`,
`$to`, `$method`, `$all`, `$popup`, entity wildcards, `$redirect-rule`, `$removeparam=/regex/`,
page-level `@@...$document` and `$genericblock`). Where the two differ, we follow adblock-rust
except in these cases, where uBO does what a user expects:
- `@@...$redirect=name` only cancels that redirect (adblock-rust also files it as a plain exception,
  which would let the request through);
- `$removeparam=name` removes `name` with or without a value (adblock-rust: only `name=value`);
- `^` treats non-ASCII characters as separators, as uBO does (adblock-rust: as word characters);
- a `||host` with a port (`||example.com:8080/`) matches that port (adblock-rust never matches it);
- `www.` in `||www.example.com^` is kept (old adblock-rust releases dropped it).
The adblock-rust behaviours kept: `||host^` also blocks the page itself; `||ads.example` (no
delimiter) wants whole host labels; a request without a source page is third-party and `$domain=`
rules never apply to it. In order, for one request:

1. `$important` blocks win outright: exceptions do not apply to them.
2. Otherwise the first matching block rule decides, unless an `@@` exception matches the request,
   or the page that made it (`source_url`) is excepted with `$document` (everything allowed) or
   `$genericblock` (rules without a `$domain=` site do not apply).
3. A blocked request gets the highest-priority `$redirect=`/`$redirect-rule=` resource that applies
   (`Decision.redirect`, served by the addon from `filters.network.resources`); `@@...$redirect=name`
   cancels one resource, `@@...$redirect` all of them.
4. A request that is not blocked may get `removeparam_url` (`$removeparam`), for documents and
   frames `csp` (`$csp`, minus `@@...$csp=` exceptions), and `replace` (`$replace=`, uBO's: the
   response body is changed; `@@...$replace` cancels them all, `@@...$replace=value` that one; a
   list that is not trusted may not use it, see `FilterList.trusted`).

Rules are parsed when the engine is built (to count and report what cannot be used), but kept as
text plus an index entry; a rule is compiled into match closures the first time a request makes it
a candidate. `||host^` rules and hosts-file lines are never compiled: finding the host is the match.
"""

from __future__ import annotations

import dataclasses
import re
from array import array
from itertools import accumulate, repeat
from operator import itemgetter
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .decision import ALLOWED, Decision
from .index import (
    BLOCKS, CSPS, EXCEPTIONS, IMPORTANTS, INDEXES, IS_KEY, MERGED, MODIFIERS, PAGE_BLOCKS, PAGE_EXCEPTIONS,
    PROBE_SLOTS, REDIRECTS, REMOVEPARAMS, REPLACES, ROLE_OF_INDEX, STARTS_PAIR, IndexBuilder, RuleIndex,
    merge_indexes,
)
from ..lists.syntax import PLAIN_HOST, BadLine, FilterList, NetworkLines
from .matching import BITS, TOKEN_RE, Origin, Target, compile_rule, host_keys, host_suffixes
from .speed import hotpath
from .regex import compile_regex
from .rules import (
    ANY_PARTY,
    DOCUMENT,
    NETWORK_TYPES,
    PAGE_TYPES,
    PAIR_PREFIX,
    TYPE_BITS,
    NetworkRule,
    RuleError,
    RuleFields,
    options_start,
    parse_network_rule,
    parse_rule_fields,
)
from ..request import Request, is_ip_address, normalize_host, public_suffix, registrable_domain
from .resources import canonical_name

# Bump when the saved state or the matching semantics change: old caches are then rebuilt.
# `||host^` and `@@||host^` with nothing else: the bulk of every list, taken without a full parse.
_SIMPLE_HOST = re.compile(r"(@@)?\|\|(%s)\^" % PLAIN_HOST)
# `||host^$options` (`@@` too): what the options alone decide for such a line is worked out once per option string.
_HOST_WITH_OPTIONS = re.compile(r"(@@)?\|\|(%s)\^\$([^$]+)" % PLAIN_HOST)
_SHAPE_HOST = "x.example"  # the host of the line each option string is read with (`_Builder._host_rule_shape`)
# In a list's network lines joined by newlines: two or more plain `||host^` lines in a row, after a newline.
_SIMPLE_BLOCKS = re.compile(r"\n(\|\|%s\^(?:\n\|\|%s\^)+)(?=\n)" % (PLAIN_HOST, PLAIN_HOST))
# Scheme, then the host (after any user info); the host's span locates `||host` matches.
_URL_HEAD = re.compile(r"(?:([a-z][a-z0-9+.\-]*):)?//(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^:/?#]*)")
_WEB_SCHEMES = frozenset({"http", "https", None})
_SOCKET_SCHEMES = frozenset({"ws", "wss"})

SUBDOCUMENT = TYPE_BITS["subdocument"]
# A plain `||host^`: every type but popups (see network._type_mask), both parties; no part after a block.
_SIMPLE_COMPILED = (~(NETWORK_TYPES | DOCUMENT | ANY_PARTY), "", None, None, None, 0)
_HOSTS_PREFIX = "0.0.0.0 "
_SHARED_INTS: dict[int, int] = {}
_EMPTY: frozenset[str] = frozenset()
_CACHE_LIMIT = 8192  # per-origin, per-source and per-page memo entries kept before starting afresh


@dataclass(frozen=True, slots=True)
class ListSummary:
    """What one list contributed to an engine."""

    name: str
    path: str
    title: str | None
    version: str | None
    network: int  # network rule lines
    cosmetic: int  # cosmetic lines; with a cosmetic store (see `filters.engine`), its rules in force
    hosts: int
    skipped: int
    rules: int = 0  # network rules and hosts entries in effect
    refused: int = 0  # network lines unsupported, malformed or cancelled by `$badfilter`
    host_rules: int = 0  # hosts entries in effect (part of `rules`)


@dataclass(frozen=True, slots=True)
class PageExceptions:
    """What `@@` page-level rules say about a page URL (for the cosmetic store and the addon).

    `document`: the page is allow-listed (nothing on it is blocked or hidden); `elemhide`: no
    element hiding (also true when `document` is); `generichide`: no generic hiding rules;
    `genericblock`: no generic block rules; `specifichide` (`$shide`): no site-specific hiding
    rules. Each `*_rule` is the rule text that set the flag.
    """

    document: bool = False
    elemhide: bool = False
    generichide: bool = False
    genericblock: bool = False
    document_rule: str | None = None
    elemhide_rule: str | None = None
    generichide_rule: str | None = None
    genericblock_rule: str | None = None
    specifichide: bool = False
    specifichide_rule: str | None = None


NO_PAGE_EXCEPTIONS = PageExceptions()

TRUSTED_ONLY_REPLACE = "trusted-only ($replace) in an untrusted list"

# The state that is saved in the cache; everything else is rebuilt lazily at run time.
_STATE = (
    "lists",
    "skipped",
    "bad_lines",
    "_list_names",
    "_texts",
    "_offsets",
    "_lines",
    "_list_ids",
) + INDEXES


class NetworkEngine:
    """The network rules of a set of lists, compiled and indexed; immutable (rebuild it to change the lists)."""

    # Rules switched off (a view made by `without`): never a candidate's match, nor a host's plain rule.
    _off: frozenset[int] = frozenset()

    def __init__(self, lists: Iterable[FilterList]):
        lists = list(lists)
        self.skipped: Counter = Counter()
        self.bad_lines: list[BadLine] = []
        self._list_names: tuple[str, ...] = tuple(fl.name for fl in lists)
        builder = _Builder(self.skipped, self.bad_lines)
        summaries = []
        for list_id, filter_list in enumerate(lists):
            self.skipped.update(filter_list.skipped)
            self.bad_lines.extend(filter_list.bad)
            rules, host_rules = builder.add_list(list_id, filter_list, lists)
            summaries.append(
                ListSummary(
                    name=filter_list.name,
                    path=filter_list.path,
                    title=filter_list.title,
                    version=filter_list.metadata.get("version") or filter_list.metadata.get("last_modified"),
                    network=len(filter_list.network),
                    cosmetic=len(filter_list.cosmetic),
                    hosts=len(filter_list.hosts),
                    skipped=sum(filter_list.skipped.values()),
                    rules=rules,
                    refused=len(filter_list.network) + len(filter_list.hosts) - rules,
                    host_rules=host_rules,
                )
            )
        self.lists: tuple[ListSummary, ...] = tuple(summaries)
        builder.finish(self)
        self._reset_runtime()

    # --- saved state ------------------------------------------------------------------------------

    def __getstate__(self) -> dict:
        return {name: getattr(self, name) for name in _STATE}

    def __setstate__(self, state: dict) -> None:
        for name in _STATE:
            setattr(self, name, state[name])
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        # Which indexes hold rules, in `INDEXES` order: tested once here, not per request.
        saved = tuple(getattr(self, name) for name in INDEXES)
        self._indexes = saved + tuple(merge_indexes(*(saved[n] for n in parts)) for parts in MERGED)
        self._has = tuple(index.size > 0 for index in self._indexes)
        # Every index's token and `$domain=` keys together: a request looks its path up once for all.
        token_keys = frozenset().union(*(index.by_token for index in self._indexes))
        self._token_flags = dict.fromkeys(token_keys, IS_KEY)
        for token in frozenset().union(*(index.hot for index in self._indexes)):
            self._token_flags[token] = self._token_flags.get(token, 0) | STARTS_PAIR
        self._domain_keys = frozenset().union(*(index.by_domain for index in self._indexes))
        # Per index, its token keys' and types' rules as compiled runs (`_run`), made as requests need them.
        self._runs: tuple[dict, ...] = tuple({} for _ in self._indexes)
        self._compiled: list = [None] * (len(self._offsets) - 1)
        self._origins: dict = {}
        self._heads: dict = {}
        self._source_info: dict = {}
        self._decisions: dict = {}
        self._page_cache: dict = {}
        self._redirect_choices: dict = {}
        self._hot_state = self._new_hot_state()

    def _new_hot_state(self) -> tuple:
        return hotpath.hot_state(self._heads, self._source_info, self._token_flags, self._indexes, self._runs,
                                 self._compiled, self._has, self._decisions, self._page_cache, self._redirect_choices,
                                 ALLOWED)

    # --- public queries --------------------------------------------------------------------------

    @property
    def rule_count(self) -> int:
        """Rules in effect (hosts-file entries included)."""
        return len(self._offsets) - 1

    def rule_text(self, rid: int) -> str:
        start, end = self._offsets[rid], self._offsets[rid + 1]
        if start == end:
            return self._table_text(rid)
        return self._texts[start : end - 1]

    def _table_text(self, rid: int) -> str:
        # A big hosts file's entries have no text of their own: their names are in its table.
        for table in self._blocks.plain_hosts:
            name = table.name_of(rid)
            if name is not None:
                return _HOSTS_PREFIX + name
        raise IndexError(f"rule {rid} has no text")

    def rule_origin(self, rid: int) -> tuple[str, int]:
        """(list name, line number) of a rule."""
        return self._list_names[self._list_ids[rid]], self._lines[rid]

    def check_request(self, request: Request) -> Decision:
        """Decide a request built by `Request.from_strings` or the addon."""
        return self.check(request.url, request.source_url, request.type, request.method)

    # check(url, source_url=None, request_type="other", method="GET") -> Decision: whether a request
    # to `url`, made by the page `source_url`, is blocked. In `hotpath`, compiled where possible.
    check = hotpath.check

    def page_exceptions(self, url: str) -> PageExceptions:
        """What `$document`, `$elemhide`, `$generichide` and `$genericblock` exceptions say about a page."""
        rids = self._page_rids(url)
        if rids is None:
            return NO_PAGE_EXCEPTIONS
        document, elemhide, generichide, genericblock, specifichide = (
            None if r is None else self.rule_text(r) for r in rids)
        return PageExceptions(
            document=document is not None,
            elemhide=elemhide is not None or document is not None,
            generichide=generichide is not None,
            genericblock=genericblock is not None,
            document_rule=document,
            elemhide_rule=elemhide or document,
            generichide_rule=generichide,
            genericblock_rule=genericblock,
            specifichide=specifichide is not None,
            specifichide_rule=specifichide,
        )

    # --- subsets: which rules changed a request, and the engine without some of them ----------------

    def fired(self, request: Request) -> tuple[int, ...]:
        """Ids of every rule that blocks, redirects or modifies this request (all that match, not only the
        first), in list order; none when nothing changes it. Exceptions are never among them."""
        decision = self.check_request(request)
        if not decision.blocked and not (decision.removeparam_url or decision.csp or decision.replace):
            return ()
        t = self._target(request.url, request.source_url, request.type, request.method)
        if t is None:
            return ()
        found: set[int] = set()
        for n in (BLOCKS, PAGE_BLOCKS, REDIRECTS, REMOVEPARAMS, CSPS, REPLACES):
            if not self._has[n] or (n == PAGE_BLOCKS and not t[BITS] & PAGE_TYPES):
                continue
            for rid in self._find_all(n, t):
                rule = self._rule(rid)
                if rule is None or not rule.exception:
                    found.add(rid)
        return tuple(sorted(found))

    def without(self, rids: Iterable[int]) -> NetworkEngine:
        """This engine with the rules `rids` switched off (exceptions stay in force): a view sharing its tables.

        For trying subsets of the rules that fired on a page (scripts/culprit.py); the engine itself
        is left as it was.
        """
        off = frozenset(rids)
        if not off:
            return self
        view = object.__new__(_NetworkSubset)
        view.__dict__.update(self.__dict__)
        view._off = off
        # Its own compiled rules, where a rule switched off refuses every request (all its type and
        # party bits refused), and its own per-origin caches, whose probes leave those rules out.
        view._compiled = list(self._compiled)
        for rid in off:
            compiled = view._compiled[rid] or view._compile(rid)
            view._compiled[rid] = (-1,) + compiled[1:]
        view._origins, view._heads, view._page_cache = {}, {}, {}
        view._runs = tuple({} for _ in self._indexes)
        view._hot_state = view._new_hot_state()
        return view

    # --- the request -----------------------------------------------------------------------------

    # The lookups every request makes: see `hotpath` (compiled where possible).
    _target = hotpath.target

    def _head(self, lurl: str, cut: int) -> tuple | None:
        """The head of a lower-cased URL (`hotpath.new_head`: its origin, where its host ends...), kept by
        the URL's start when that decides it."""
        head = _URL_HEAD.match(lurl)
        if head is None:
            return None
        origin_text = head.group()
        origin = self._origins.get(origin_text)
        if origin is None:
            origin = self._describe_origin(origin_text, head.group(1), head.start(2), head.group(2))
        found = hotpath.new_head(origin, len(origin_text))
        # The match stops before any `/`, so every URL with the same start up to `cut` has this head.
        if cut < 0 or head.end() <= cut:
            if len(self._heads) >= _CACHE_LIMIT:
                self._heads.clear()
            self._heads[lurl if cut < 0 else lurl[:cut]] = found
        return found

    def _describe_origin(self, origin_text: str, scheme: str | None, host_start: int, raw_host: str) -> Origin:
        slots = PROBE_SLOTS
        websocket = scheme in _SOCKET_SCHEMES
        host = normalize_host(raw_host) if scheme in _WEB_SCHEMES or websocket else ""
        ascii_host = host if host and not raw_host.isascii() else None
        tokens = TOKEN_RE.findall(origin_text[:host_start] + ascii_host if ascii_host else origin_text)
        if not host:
            origin = Origin("", (), "", _EMPTY, None, tokens, slots)
        elif is_ip_address(host):
            origin = Origin(host, (host,), host, frozenset((host,)), ascii_host, tokens, slots, host_start, websocket)
        else:
            suffixes = host_suffixes(host)
            keys = host_keys(host, public_suffix(host), suffixes)
            origin = Origin(
                host, suffixes, registrable_domain(host), keys, ascii_host, tokens, slots, host_start, websocket
            )
        if tokens:
            origin.ends_pair = self._token_flags.get(tokens[-1], 0) & STARTS_PAIR
        if len(self._origins) >= _CACHE_LIMIT:
            self._origins.clear()
        self._origins[origin_text] = origin
        return origin

    def _describe_source(self, source_url: str) -> tuple:
        head = _URL_HEAD.match(source_url.lower())
        host = normalize_host(head.group(2)) if head else ""
        if not host:
            source = ("", _EMPTY, ())
        else:
            if is_ip_address(host):
                domain, keys = host, frozenset((host,))
            else:
                domain, keys = registrable_domain(host), host_keys(host, public_suffix(host))
            source = (domain, keys, tuple(sorted(self._domain_keys.intersection(keys))))
        if len(self._source_info) >= _CACHE_LIMIT:
            self._source_info.clear()
        self._source_info[source_url] = source
        return source

    # --- lookups ---------------------------------------------------------------------------------

    def _compile(self, rid: int) -> tuple:
        text = self.rule_text(rid)
        if text.startswith(_HOSTS_PREFIX):
            compiled = _SIMPLE_COMPILED
        else:
            rule = parse_network_rule(text)
            mask, literal, test, options = compile_rule(rule)
            roles = sum(ROLE_OF_INDEX.get(n, 0) for n in index_numbers(rule))
            refused = ~mask
            # One int object per distinct value, shared by every rule with it: the hot loop reads it
            # for each candidate, and a few shared objects stay in the CPU's cache where one per rule would not.
            refused = _SHARED_INTS.setdefault(refused, refused)
            # In the form the hot loop tests with the fewest steps: the bits a request must not have
            # (`refused & bits` is non-zero exactly when `mask & bits != bits`), "" for no literal.
            compiled = (refused, literal or "", test, options, rule, roles)
        self._compiled[rid] = compiled
        return compiled

    _find = hotpath.find

    def _probe(self, index: RuleIndex, origin: Origin) -> tuple:
        """(plain host rule or None, compiled candidates, their ids) for an origin, in bucket order; the
        pair across the host's end is a path key."""
        off = self._off
        simple = None
        buckets = []
        by_host = index.by_host
        tables = index.plain_hosts
        for suffix in origin.suffixes:
            hit = by_host.get(suffix)
            if hit is None and tables:
                hit = index.host_hit(suffix)
            if hit is not None:
                if hit.__class__ is not int:
                    buckets.append(hit)
                elif simple is None and hit not in off:
                    simple = hit
        by_token = index.by_token
        tokens = origin.tokens
        hot = index.hot
        for i, token in enumerate(tokens):
            hit = by_token.get(token)
            if hit is not None:
                buckets.append(hit)
            if token in hot and i + 1 < len(tokens):
                hit = by_token.get(token + " " + tokens[i + 1][:PAIR_PREFIX])
                if hit is not None:
                    buckets.append(hit)
        # The candidates as one run of compiled rules (and their ids, in the same order): a request
        # then walks one tuple instead of a bucket, a list slot and a tuple per rule.
        rids = tuple([rid for bucket in buckets for rid in bucket])
        return simple, self._compiled_run(rids), rids

    _find_all = hotpath.find_all

    def _run(self, n: int, key: str | int) -> tuple:
        """(compiled rules, their ids) of index `n`'s bucket for a token key (or, for a type bit, its
        `always` bucket); () when there is none. Kept: the hot loop then walks one tuple of compiled
        rules, not an id, a slot of the rule table and a tuple for each."""
        index = self._indexes[n]
        bucket = index.always.get(key) if key.__class__ is int else index.by_token.get(key)
        run = () if bucket is None else (self._compiled_run(bucket), bucket)
        self._runs[n][key] = run
        return run

    def _compiled_run(self, rids: tuple[int, ...]) -> tuple:
        """The compiled rules of `rids`, in their order (each compiled the first time a run needs it)."""
        compiled = self._compiled
        return tuple([compiled[rid] or self._compile(rid) for rid in rids])

    def _rule(self, rid: int) -> NetworkRule | None:
        """The parsed rule behind an id (None for a hosts-file line)."""
        return (self._compiled[rid] or self._compile(rid))[4]

    def _is_generic(self, rid: int) -> bool:
        rule = self._rule(rid)
        return rule is None or rule.is_generic

    # --- decisions -------------------------------------------------------------------------------

    def _block_decision(self, rid: int, important: bool, redirect: str | None) -> Decision:
        """The (kept) decision of a block by rule `rid`; whether it is `$important` follows from the rule."""
        key = rid if redirect is None else (rid, redirect)
        decision = self._decisions.get(key)
        if decision is None:
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions.clear()
            decision = self._decisions[key] = self._decision(rid, important=important, redirect=redirect)
        return decision

    # A blocked request's way through `$important`, exceptions and redirects is `hotpath.blocked`;
    # these answer the rarer cases it meets, each once per set of rules where it can be kept.

    def _page_exception(self, rid: int, t: Target, page: tuple) -> tuple[int, int | None]:
        """(blocking rule, the page exception that overrides it or None), given the page's `_page_rids`."""
        document, _, _, genericblock, _ = page
        if document is not None:
            return rid, document
        if genericblock is not None and self._is_generic(rid):
            candidates = self._find_all(BLOCKS, t)
            if t[BITS] & PAGE_TYPES:
                candidates += self._find_all(PAGE_BLOCKS, t)
            for other in candidates:
                if not self._is_generic(other):
                    return other, None
            return rid, genericblock
        return rid, None

    def _excepted(self, rid: int, exception: int, t: Target, url: str, source_url: str | None) -> Decision:
        """The decision for a request rule `rid` blocks and `exception` lets through."""
        key = (rid, exception)
        allowed = self._decisions.get(key)
        if allowed is None:
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions.clear()
            allowed = self._decisions[key] = self._decision(rid, exception=exception)
        if self._has[MODIFIERS] and self._find(MODIFIERS, t) is not None:
            # Not blocked after all: `$removeparam` and `$csp` still apply.
            extra = self._modifiers(t, url, source_url)
            if extra is not ALLOWED:
                allowed = dataclasses.replace(allowed, removeparam_url=extra.removeparam_url, csp=extra.csp,
                                              replace=extra.replace, modifiers=extra.modifiers)
        return allowed

    def _decision(
        self, rid: int, *, important: bool = False, redirect: str | None = None, exception: int | None = None
    ) -> Decision:
        list_name, line = self.rule_origin(rid)
        if exception is None:
            return Decision(
                blocked=True,
                filter=self.rule_text(rid),
                list=list_name,
                line=line,
                important=important,
                redirect=redirect,
            )
        exception_list, exception_line = self.rule_origin(exception)
        return Decision(
            blocked=False,
            filter=self.rule_text(rid),
            list=list_name,
            line=line,
            exception=self.rule_text(exception),
            exception_list=exception_list,
            exception_line=exception_line,
        )

    def _redirect_choice(self, matches: tuple[int, ...]) -> str | None:
        """`_choose_redirect`, kept for each set of matching redirect rules (its choice depends on them alone)."""
        if len(self._redirect_choices) >= _CACHE_LIMIT:
            self._redirect_choices.clear()
        chosen = self._redirect_choices[matches] = self._choose_redirect(matches)
        return chosen

    def _choose_redirect(self, matches: tuple[int, ...]) -> str | None:
        """The resource the redirect rules `matches` (in list order) choose, after their exceptions."""
        rules = [self._rule(rid) for rid in matches]
        cancelled = set()
        for rule in rules:
            if rule.exception:
                name = rule.redirect if rule.redirect is not None else rule.redirect_rule
                if not name:
                    return None
                cancelled.add(canonical_name(_split_priority(name)[0]) or name)
        best = None
        best_priority = 0
        for rule in rules:
            if rule.exception:
                continue
            name, priority = _split_priority(rule.redirect if rule.redirect is not None else rule.redirect_rule)
            resource = canonical_name(name)
            if resource is None or resource in cancelled:
                continue
            if best is None or priority > best_priority:
                best, best_priority = resource, priority
        return best

    def _modifiers(self, t: Target, url: str, source_url: str | None) -> Decision:
        """`$removeparam`, `$csp` and `$replace` for a request that is not blocked."""
        new_url = None
        applied: list[int] = []
        if self._has[REMOVEPARAMS] and "?" in url and self._find(REMOVEPARAMS, t) is not None:
            new_url = self._removeparam_url(t, url, applied)
        csp = None
        if self._has[CSPS] and t[BITS] & (DOCUMENT | SUBDOCUMENT) and self._find(CSPS, t) is not None:
            csp = self._csp_for(t, applied)
        replace = ()
        if self._has[REPLACES] and self._find(REPLACES, t) is not None:
            replace = self._replace_for(t, applied)
        if new_url is None and csp is None and not replace:
            return ALLOWED
        page = self._page_rids(source_url or url) if self._has[PAGE_EXCEPTIONS] else None
        if page is not None and page[0] is not None:
            return ALLOWED  # an allow-listed page is left alone entirely
        modifiers = tuple(self._located(rid) for rid in dict.fromkeys(applied))
        return Decision(blocked=False, removeparam_url=new_url, csp=csp, modifiers=modifiers, replace=replace)

    def _replace_for(self, t: Target, applied: list[int]) -> tuple[tuple[str, str], ...]:
        """(value, located rule) of the `$replace` rules for a request, in list order, after exceptions."""
        rids = sorted(self._find_all(REPLACES, t))
        rules = [self._rule(rid) for rid in rids]
        cancelled = set()
        for rule in rules:
            if rule.exception:
                if not rule.replace:
                    return ()
                cancelled.add(rule.replace)
        found: dict[str, int] = {}
        for rid, rule in zip(rids, rules):
            if not rule.exception and rule.replace not in cancelled and rule.replace not in found:
                found[rule.replace] = rid
        applied.extend(found.values())
        return tuple((value, self._located(rid)) for value, rid in found.items())

    def _located(self, rid: int) -> str:
        """A rule as `text (list:line)`, for decisions that name several rules."""
        name, line = self.rule_origin(rid)
        return f"{self.rule_text(rid)} ({name}:{line})"

    def _removeparam_url(self, t: Target, url: str, applied: list[int]) -> str | None:
        rids = self._find_all(REMOVEPARAMS, t)
        rules = [self._rule(rid) for rid in rids]
        if not rules:
            return None
        kept = {rule.removeparam for rule in rules if rule.exception}
        if "" in kept:
            return None
        remove_all = False
        names = set()
        patterns = []
        for rule in rules:
            value = rule.removeparam
            if rule.exception or value in kept:
                continue
            if value == "":
                remove_all = True
            elif value.startswith("/") and value.endswith("/") and len(value) > 2:
                patterns.append(compile_regex(value[1:-1], False).search)
            else:
                names.add(value)
        query_start = url.find("?")
        fragment = url.find("#", query_start)
        query_end = fragment if fragment >= 0 else len(url)
        params = url[query_start + 1 : query_end].split("&")
        kept_params = []
        for param in params:
            name = param.split("=", 1)[0]
            if param and (remove_all or name in names or any(search(param) for search in patterns)):
                continue
            kept_params.append(param)
        if len(kept_params) != len(params):
            applied.extend(rid for rid, rule in zip(rids, rules) if not rule.exception and rule.removeparam not in kept)
        if len(kept_params) == len(params):
            return None
        query = "?" + "&".join(kept_params) if any(kept_params) else ""
        return url[:query_start] + query + url[query_end:]

    def _csp_for(self, t: Target, applied: list[int]) -> str | None:
        rids = self._find_all(CSPS, t)
        rules = [self._rule(rid) for rid in rids]
        if not rules:
            return None
        cancelled = set()
        policies: list[str] = []
        sources: dict[str, int] = {}
        for rid, rule in zip(rids, rules):
            if rule.exception:
                if not rule.csp:
                    return None
                cancelled.add(rule.csp)
            elif rule.csp not in policies:
                policies.append(rule.csp)
                sources[rule.csp] = rid
        policies = [p for p in policies if p not in cancelled]
        applied.extend(sources[p] for p in policies)
        return ", ".join(policies) or None

    def _page_rids(self, url: str):
        """Rule ids of a page's (document, elemhide, generichide, genericblock, specifichide) exceptions, or None."""
        if not self._has[PAGE_EXCEPTIONS]:
            return None
        cached = self._page_cache.get(url, False)
        if cached is not False:
            return cached
        found = [None, None, None, None, None]
        t = self._target(url, url, "document", "GET", page=True)
        if t is not None:
            for rid in self._find_all(PAGE_EXCEPTIONS, t):
                rule = self._rule(rid)
                flags = (rule.document, rule.elemhide, rule.generichide, rule.genericblock, rule.specifichide)
                for slot, flag in enumerate(flags):
                    if flag and found[slot] is None:
                        found[slot] = rid
        result = tuple(found) if any(r is not None for r in found) else None
        if len(self._page_cache) >= _CACHE_LIMIT:
            self._page_cache.clear()
        self._page_cache[url] = result
        return result


class _NetworkSubset(NetworkEngine):
    """A NetworkEngine with some rules switched off (`NetworkEngine.without`): only its tables differ."""

    def __getstate__(self) -> dict:
        raise TypeError("a subset of an engine is not saved: save the engine")


def _split_priority(name: str) -> tuple[str, int]:
    """`noopjs:10` -> ("noopjs", 10): uBO's redirect priority suffix."""
    head, sep, tail = name.rpartition(":")
    if sep and head and tail.lstrip("-").isdigit():
        return head, int(tail)
    return name, 0


def index_numbers(rule: RuleFields | NetworkRule) -> tuple[int, ...]:
    """The indexes a rule is filed in (`index.INDEXES` positions)."""
    if rule.exception and (rule.redirect is not None or rule.redirect_rule is not None):
        return (REDIRECTS,)
    if rule.removeparam is not None:
        return (REMOVEPARAMS,)
    if rule.csp is not None:
        return (CSPS,)
    if rule.replace is not None:
        return (REPLACES,)
    if rule.exception:
        return (PAGE_EXCEPTIONS,) * bool(rule.page_flags) + (EXCEPTIONS,) * bool(rule.mask & ~ANY_PARTY)
    if rule.redirect_rule is not None:
        return (REDIRECTS,)
    found = (REDIRECTS,) if rule.redirect is not None else ()
    found += (BLOCKS,) if rule.mask & NETWORK_TYPES else (PAGE_BLOCKS,)
    return found + (IMPORTANTS,) * bool(rule.important)


class _Builder:
    """Turns list lines into the engine's rule table and indexes."""

    def __init__(self, skipped: Counter, bad_lines: list[BadLine]):
        self.skipped = skipped
        self.bad_lines = bad_lines
        self.texts: list[str] = []  # rule texts, each ending in a newline (a hosts file's in one piece)
        self.offsets = array("I", [0])  # where each rule's text starts in the joined texts, and the end
        self.lines = array("I")
        self.list_ids = array("H")
        self.by_number = [IndexBuilder(hotpath.inverse_permutation) for _ in INDEXES]  # in `INDEXES` order
        self.badfilters: set[str] | None = None
        self.badfilter_heads: set[str] = set()
        self.badfilter_hosts: set[str] = set()  # the hosts of cancelled plain `||host^` block rules
        self._host_rule_shapes: dict[tuple[str, bool], tuple | None] = {}  # see `_host_rule_shape`

    def _collect_badfilters(self, lists: list[FilterList]) -> set[str]:
        # `$badfilter` cancels a rule wherever it is, before or after, in any list.
        found = set()
        for filter_list in lists:
            network = filter_list.network
            entries = network.entries if isinstance(network, NetworkLines) else network  # runs have no options
            joined = "\n" + "\n".join(map(itemgetter(1), entries)) + "\n"
            at = joined.find("badfilter")
            while at >= 0:
                end = joined.find("\n", at)
                try:
                    rule = parse_rule_fields(joined[joined.rfind("\n", 0, at) + 1 : end])
                except RuleError:
                    rule = None
                if rule is not None and rule.badfilter:
                    found.add(rule.identity())
                at = joined.find("badfilter", end)
        # What a rule's text is up to its options (or whole) for its identity to be one of these: a rule
        # whose head is none of them is not cancelled, and its identity need not be worked out.
        self.badfilter_heads = {identity[:at] for identity in found for at in self._dollars(identity)}
        self.badfilter_hosts = {identity[2:-1] for identity in found if identity.startswith("||")
                                and _SIMPLE_HOST.fullmatch(identity)}
        return found

    @staticmethod
    def _dollars(text: str):
        """Every place a `$` is in `text`, and its end."""
        at = text.find("$")
        while at >= 0:
            yield at
            at = text.find("$", at + 1)
        yield len(text)

    def _add_text(self, text: str, list_id: int, line: int) -> int:
        self.texts.append(text + "\n")
        self.offsets.append(self.offsets[-1] + len(text) + 1)
        self.lines.append(line)
        self.list_ids.append(list_id)
        return len(self.lines) - 1

    def add_list(self, list_id: int, filter_list: FilterList, lists: list[FilterList]) -> tuple[int, int]:
        """File one list's rules; returns how many are in effect, and how many of those are hosts entries."""
        before = len(self.lines)
        if self.badfilters is None:
            self.badfilters = self._collect_badfilters(lists)
        # Runs of plain `||host^` block rules (most of EasyList and EasyPrivacy) are filed a run at a time
        # (`_add_simple_run`), without a Python step per line; each other line between them, in list order.
        network = filter_list.network
        for segment in network.segments() if isinstance(network, NetworkLines) else (network,):
            if segment.__class__ is tuple:  # a run the parser found
                first, count, text = segment
                self._add_simple_run(list_id, text, range(first, first + count))
            elif segment:
                self._add_entries(list_id, segment, filter_list)
        from_hosts = len(self.lines)
        self._add_hosts(list_id, filter_list)
        return len(self.lines) - before, len(self.lines) - from_hosts

    def _add_entries(self, list_id: int, entries: list[tuple[int, str]], filter_list: FilterList) -> None:
        """File consecutive network lines, (line number, text) each, in order."""
        # Shorter runs of plain `||host^` lines among them are found in their joined texts, and filed as runs.
        joined = "\n" + "\n".join(map(itemgetter(1), entries)) + "\n"
        if joined.count("\n") != len(entries) + 1:  # a text with a newline (not from a list file): one by one
            for line_no, text in entries:
                self._add_line(list_id, line_no, text, filter_list)
            return
        number = 0  # the next line's place in `entries`
        previous = 0  # the newline before it in `joined`
        for run in _SIMPLE_BLOCKS.finditer(joined):
            at = run.start()
            if at > previous:
                between = joined.count("\n", previous, at)
                for line_no, text in entries[number : number + between]:
                    self._add_line(list_id, line_no, text, filter_list)  # (a lone `||host^` too)
                number += between
            text = run.group(1)
            count = text.count("\n") + 1
            self._add_simple_run(list_id, text, map(itemgetter(0), entries[number : number + count]))
            number += count
            previous = run.end()
        for line_no, text in entries[number:]:
            self._add_line(list_id, line_no, text, filter_list)

    def _add_line(self, list_id: int, line_no: int, text: str, filter_list: FilterList) -> None:
        """File one network line that is not a plain `||host^` block rule."""
        skipped = self.skipped
        badfilters = self.badfilters
        simple = _SIMPLE_HOST.fullmatch(text)
        if simple is not None:
            if simple.group(1) is None:  # `||host^` alone (`add_list` finds most of them in runs)
                self._add_simple_run(list_id, text, (line_no,))
            elif badfilters and text in badfilters:
                skipped["removed by $badfilter"] += 1
            else:
                self.by_number[EXCEPTIONS].add_simple_host(simple.group(2), self._add_text(text, list_id, line_no))
            return
        with_options = _HOST_WITH_OPTIONS.fullmatch(text)
        if with_options is not None and self._add_host_rule(list_id, line_no, text, with_options, filter_list):
            return
        try:
            rule = parse_rule_fields(text)
        except RuleError as e:
            self._refuse(filter_list, line_no, text, e.reason, e.unsupported)
            return
        if rule.badfilter:
            skipped["$badfilter (applied)"] += 1
            return
        if rule.replace is not None and not filter_list.trusted:
            skipped[TRUSTED_ONLY_REPLACE] += 1  # uBO takes `$replace` from trusted lists only
            return
        if badfilters and (rule.text[: rule.options_at] if rule.options_at >= 0 else rule.text) in \
                self.badfilter_heads and rule.identity() in badfilters:
            skipped["removed by $badfilter"] += 1
            return
        self._route(rule, self._add_text(rule.text, list_id, line_no))

    def _refuse(self, filter_list: FilterList, line_no: int, text: str, reason: str, unsupported: bool) -> None:
        """Count a line the parser refused: an unsupported form by its kind, a malformed one as a bad line too."""
        if unsupported:
            self.skipped[reason.split(":", 1)[0]] += 1
        else:
            self.skipped["malformed network rule"] += 1
            self.bad_lines.append(BadLine(filter_list.name, line_no, text, reason))

    def _add_host_rule(self, list_id: int, line_no: int, text: str, found: re.Match, filter_list: FilterList) -> bool:
        """File a `||host^$options` line as its option string says (`_host_rule_shape`), without parsing it;
        False when it must take the full way (its options may start elsewhere, or a `$badfilter` may name it)."""
        options_at = found.start(3) - 1
        if self.badfilter_heads and text[:options_at] in self.badfilter_heads:
            return False
        key = (found.group(3), found.group(1) is not None)
        shape = self._host_rule_shapes.get(key, False)
        if shape is False:
            shape = self._host_rule_shapes[key] = self._host_rule_shape(*key)
        if shape is None:
            return False
        outcome, detail = shape
        if outcome == "refused":
            self._refuse(filter_list, line_no, text, *detail)
        elif outcome == "badfilter":
            self.skipped["$badfilter (applied)"] += 1
        elif detail[0] and not filter_list.trusted:  # `$replace`
            self.skipped[TRUSTED_ONLY_REPLACE] += 1
        else:
            rid = self._add_text(text, list_id, line_no)
            host = found.group(2)
            for n in detail[1]:
                self.by_number[n].add_host_rule(host, rid)
        return True

    @staticmethod
    def _host_rule_shape(options: str, exception: bool) -> tuple | None:
        """What the full way makes of a `||host^$options` line, read from one with these options and any
        host: ("refused", (reason, unsupported)), ("badfilter", None) or ("rule", (has `$replace`, indexes)).
        None when that line is not of that form after all (its options start elsewhere)."""
        # Every part of the outcome comes from the options (and `@@`): a plain host's pattern is read the same
        # way whatever the host, and the rule is filed under its host in each index it belongs to.
        head = ("@@" if exception else "") + "||" + _SHAPE_HOST + "^"
        if options_start(head[2 if exception else 0 :] + "$" + options) != len(head) - (2 if exception else 0):
            return None
        try:
            rule = parse_rule_fields(head + "$" + options)
        except RuleError as e:
            return "refused", (e.reason, e.unsupported)
        if rule.hostname != _SHAPE_HOST or rule.rest != "^" or rule.options_at != len(head):
            return None
        if rule.badfilter:
            return "badfilter", None
        return "rule", (rule.replace is not None, index_numbers(rule))

    def _add_simple_run(self, list_id: int, run: str, line_numbers: Iterable[int]) -> None:
        """File consecutive plain `||host^` block rules: their texts joined by newlines, and their line numbers."""
        names = run[2:-1].split("^\n||")
        lines = array("I", line_numbers)
        if self.badfilter_hosts and not self.badfilter_hosts.isdisjoint(names):
            kept = [k for k, name in enumerate(names) if name not in self.badfilter_hosts]
            self.skipped["removed by $badfilter"] += len(names) - len(kept)
            if not kept:
                return
            names = [names[k] for k in kept]
            lines = array("I", [lines[k] for k in kept])
            run = "\n".join(["||" + name + "^" for name in names])
        first = len(self.lines)
        self.lines.extend(lines)
        self.list_ids.extend(array("H", [list_id]) * len(names))
        self.texts.append(run + "\n")
        self.offsets.extend(accumulate(map((4).__add__, map(len, names)), initial=self.offsets[-1]))
        self.offsets.pop(first)  # `initial` repeats the last offset
        self.by_number[BLOCKS].add_simple_hosts(names, first)

    def _add_hosts(self, list_id: int, filter_list: FilterList) -> None:
        """File a list's hosts entries as `0.0.0.0 host` rules, all at once."""
        # Names from `FilterList.hosts` are already host names as `normalize_host` gives them.
        hosts = filter_list.hosts
        names = hosts.names
        lines = hosts.lines
        bad_hosts = {text[2:-1] for text in self.badfilters or () if text.startswith("||") and text.endswith("^")}
        if bad_hosts and not bad_hosts.isdisjoint(names):
            kept = [position for position, host in enumerate(names) if host not in bad_hosts]
            self.skipped["removed by $badfilter"] += len(names) - len(kept)
            names = [names[position] for position in kept]
            lines = array("I", [lines[position] for position in kept])
        if not names:
            return
        first = len(self.lines)
        in_table = self.by_number[BLOCKS].add_simple_hosts(names, first)
        self.lines.extend(lines)
        self.list_ids.extend(array("H", [list_id]) * len(names))
        if in_table:
            # Filed as a table, which holds the names: their texts are empty here (see `rule_text`).
            self.offsets.extend(repeat(self.offsets[-1], len(names)))
            return
        # One text for them all: `0.0.0.0 a\n0.0.0.0 b\n`, and each rule's end offset.
        prefix = len(_HOSTS_PREFIX) + 1
        self.texts.append("".join((_HOSTS_PREFIX, ("\n" + _HOSTS_PREFIX).join(names), "\n")))  # one copy
        self.offsets.extend(accumulate(map(prefix.__add__, map(len, names)), initial=self.offsets[-1]))
        self.offsets.pop(first)  # `initial` repeats the last offset

    def _route(self, rule: RuleFields, rid: int) -> None:
        for n in index_numbers(rule):
            self.by_number[n].add(rid, rule)

    def finish(self, engine: NetworkEngine) -> None:
        engine._texts = "".join(self.texts)
        engine._offsets = self.offsets
        engine._lines = self.lines
        engine._list_ids = self.list_ids
        for name, builder in zip(INDEXES, self.by_number):
            setattr(engine, name, builder.finish())
