"""A request's way through the network engine: read into a target, looked up in a rule index, decided.

`NetworkEngine` takes `check`, `target`, `find` and `find_all` as its `check`, `_target`, `_find`
and `_find_all`. They run for every request, so they are kept apart here, with what they call (a
blocked request's overrides, the URL and option tests): plain Python, which Cython compiles into
a C extension with the C types of `hotpath.pxd` (setup.py does, where it finds a C compiler).
Compiled, it answers exactly as this source does (tests/network/test_hotpath.py checks every
corpus request); two steps go another way there, each the faster one for it: a path's keys are
found in one walk over its characters (`keys_by_char`; plain Python splits the path), and a
`*`/`^` pattern is matched segment by segment (`glob_match`; plain Python runs its regex).
`speed` chooses which one runs. One step of building a big hosts table is here too, for its C loop:
`inverse_permutation`.
"""

from __future__ import annotations

from array import array

from ..request import TYPE_ALIASES
from .index import (
    AFTER_BLOCK, BLOCKS, EXCEPTION_ROLE, EXCEPTIONS, IMPORTANT_ROLE, IMPORTANTS, IS_KEY, MODIFIERS, PAGE_BLOCKS,
    PAGE_EXCEPTIONS, REDIRECT_ROLE, STARTS_PAIR,
)
from .matching import (
    BITS, DOMAIN_KEYS, GLOB, HOST, HOST_END, HOST_GLOB, HOST_PLAIN, HOST_START, LABELS, METHOD, ORIGIN, PATH_KEYS,
    PLAIN_END, PLAIN_EQ, PLAIN_IN, PLAIN_START, REGEX, REGEX_SEARCH, SOURCE_KEYS, TYPE_BIT, URL, compile_rule,
)
from .rules import DOCUMENT, FIRST_PARTY, PAGE_TYPES, PAIR_PREFIX, POPUP, THIRD_PARTY, TYPE_BITS

# Loaded from a compiled extension (`.so`, `.pyd`) rather than from this source.
COMPILED = not __file__.endswith(".py")

WEBSOCKET = TYPE_BITS["websocket"]
OTHER = TYPE_BITS["other"]
EMPTY: frozenset[str] = frozenset()
BIT_OF_TYPE: dict[str, int] = {name: bit for name, bit in TYPE_BITS.items()}
BIT_OF_TYPE.update({alias: TYPE_BITS[name] for alias, name in TYPE_ALIASES.items()})

# Bytes of a lower-cased URL that are not [a-z0-9] become spaces: `.split()` then gives TOKEN_RE's tokens.
_TOKEN_BYTES = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789" else 32 for c in range(256))


def hot_state(heads, source_info, token_flags, indexes, runs, compiled, has, decisions, page_cache, redirect_choices,
              allowed):
    """What `check`, `target` and `find` read for every request, kept by the engine as `_hot_state`.

    One attribute read instead of one per table; each index as (index, its token table, its
    `always` table, its `$domain=` table, its runs: see `NetworkEngine._run`). `allowed` (the engine
    module's ALLOWED) travels with them: a hot reload imports the engine afresh but cannot import a
    compiled module again, so this module must not answer with an object of its own from an earlier
    import.
    """
    tables = tuple((index, index.by_token, index.always, index.by_domain, runs) for index, runs in zip(indexes, runs))
    # Only the compiled module reads the path a character at a time, and uses the table.
    table = token_table(token_flags) if COMPILED else None
    return (heads, source_info, token_flags, tables, compiled, has, decisions, page_cache, redirect_choices, allowed,
            table)


def new_head(origin, host_end):
    """What a URL's start gives `target`, kept in the engine's `_heads`: its origin, where the host
    ends, and the origin's fields `target` reads (a tuple's item costs a fraction of an attribute)."""
    return (origin, host_end, origin.host, origin.host_start, origin.ascii_host, origin.websocket, origin.domain,
            origin.ends_pair, origin.tokens[-1] if origin.tokens else "")


# The positions in a head.
(_HEAD_ORIGIN, _HEAD_HOST_END, _HEAD_HOST, _HEAD_HOST_START, _HEAD_ASCII_HOST, _HEAD_WEBSOCKET, _HEAD_DOMAIN,
 _HEAD_ENDS_PAIR, _HEAD_LAST_TOKEN) = range(9)

# The positions in `hot_state`, and in each of its index tables.
(_HEADS, _SOURCE_INFO, _TOKEN_FLAGS, _INDEXES, _COMPILED_RULES, _HAS, _DECISIONS, _PAGE_CACHE, _REDIRECT_CHOICES,
 _ALLOWED, _TOKEN_TABLE) = range(11)
# A compiled rule (see `NetworkEngine._compile`) is (refused bits, literal, URL test, options, rule,
# roles): the candidate loops read the first four by number, `blocked` the roles by this name.
_ROLES = 5
_INDEX, _BY_TOKEN, _ALWAYS, _BY_DOMAIN, _RUNS = range(5)


def target(engine, url, source_url, request_type, method, page=False):
    """The target of a request (see `matching.URL`), or None when no rule can apply to its URL."""
    return _target(engine._hot_state, engine, url, source_url, request_type, method, page)


def _target(hot, engine, url, source_url, request_type, method, page):
    """`target`, given the engine's hot state (`check` reads it once for all its calls)."""
    lurl = url.lower()
    # The URL up to the first `/` after its scheme's `//` decides where its host is: looked up
    # as a whole, most requests never run the URL regex.
    cut = lurl.find("/", 8)
    heads = hot[_HEADS]
    head = heads.get(lurl if cut < 0 else lurl[:cut])
    if head is None:
        head = engine._head(lurl, cut)
        if head is None:
            return None
    host_end = head[_HEAD_HOST_END]
    host = head[_HEAD_HOST]
    if not host:
        return None  # no host, or a scheme that is never filtered (data:, blob:, about:...)
    origin = head[_HEAD_ORIGIN]
    host_start = head[_HEAD_HOST_START]
    raw_url = url
    ascii_host = head[_HEAD_ASCII_HOST]
    if ascii_host is not None:
        # An IDN host is matched in its punycode form, as lists write it.
        lurl = lurl[:host_start] + ascii_host + lurl[host_end:]
        raw_url = url[:host_start] + ascii_host + url[host_end:]
        host_end = host_start + len(ascii_host)
    if source_url:
        source_info = hot[_SOURCE_INFO]
        source = source_info.get(source_url)
        if source is None:
            source = engine._describe_source(source_url)
        source_domain = source[0]
        source_keys = source[1]
        domain_keys = source[2]
    else:
        source_domain = ""
        source_keys = EMPTY
        domain_keys = ()
    if page:
        # Page-level rules are looked up as for the document, whatever types they name.
        type_bit = DOCUMENT
        bits = FIRST_PARTY
    else:
        if head[_HEAD_WEBSOCKET]:
            type_bit = WEBSOCKET
        else:
            found = BIT_OF_TYPE.get(request_type) if request_type else OTHER
            if found is None:
                found = BIT_OF_TYPE.get(request_type.strip().lower(), OTHER)
            type_bit = found
        # Without a known source page a request counts as third-party (adblock-rust does the same).
        bits = type_bit | (FIRST_PARTY if source_domain and source_domain == head[_HEAD_DOMAIN] else THIRD_PARTY)
    # The keys of the token tables the path gives, in probe order: its tokens in URL order, then
    # the pairs of neighbouring tokens (`"ads image"`) that start with a token that starts pairs.
    flags_of = hot[_TOKEN_FLAGS]
    if COMPILED:
        path = None
        keys = keys_by_char(lurl, host_end, flags_of, hot[_TOKEN_TABLE], head[_HEAD_ENDS_PAIR], head[_HEAD_LAST_TOKEN])
    else:
        # In plain Python one byte table and `split()` are faster than any loop over characters.
        path = lurl[host_end:].encode("utf-8", "replace").translate(_TOKEN_BYTES).decode().split()
        keys = []
        pairs = None
        starts_pair = head[_HEAD_ENDS_PAIR]
        previous = head[_HEAD_LAST_TOKEN]
        # One walk over the path: each token's flags say whether it is a key and whether it starts pairs.
        for token in path:
            if starts_pair:  # a pair across the host's end too: the origin's last token and the path's first
                pair = previous + " " + token[:PAIR_PREFIX]
                if pair in flags_of:
                    if pairs is None:
                        pairs = [pair]
                    else:
                        pairs.append(pair)
            flags = flags_of.get(token, 0)
            if flags & IS_KEY and token not in keys:
                keys.append(token)
            starts_pair = flags & STARTS_PAIR
            previous = token
        if pairs is not None:
            keys.extend(pairs)
    return (lurl, raw_url, host, host_start, host_end, bits, type_bit, origin, source_keys, method or "GET",
            domain_keys, path, keys)


_MASK32 = 0xFFFFFFFF  # a token's running hash is kept to 32 bits (a C unsigned int when compiled)
# The size in bits of the filter `keys_by_char` tests a token's hash against before it looks the
# token up: a few thousand keys set under 7% of its bits, and at 8 KB it stays in the CPU's cache.
FILTER_BITS = 1 << 16


def _token_bit(h):
    """The filter bit of a token's running hash."""
    return (h ^ (h >> 13)) & (FILTER_BITS - 1)


def token_table(flags_of):
    """`flags_of`'s single tokens (its pairs left out) in an open-addressing table that `keys_by_char`
    reads without cutting a token out of the URL or hashing it again: (each slot's token or None, each
    slot's tag, each slot's flags, the slot mask, a filter). A token goes in the first free slot from
    `_token_slot`'s start for its running hash (h = h * 31 + character, modulo 2**32); its tag is a
    byte of that hash, never 0 (a free slot). The filter has each token's `_token_bit` set: a token
    whose bit is clear is none of them, and is not looked for."""
    tokens = [key for key in flags_of if " " not in key]
    size = 1 << max(4, (2 * len(tokens)).bit_length())  # at most half full: a look-up meets few slots
    mask = size - 1
    slot_tokens = [None] * size
    tags = bytearray(size)
    flags = bytearray(size)
    bits = bytearray(FILTER_BITS >> 3)
    for token in tokens:
        h = 0
        for ch in token:
            h = (h * 31 + ord(ch)) & _MASK32
        bit = _token_bit(h)
        bits[bit >> 3] |= 1 << (bit & 7)
        slot = (h ^ (h >> 15)) & mask
        while tags[slot]:
            slot = (slot + 1) & mask
        tags[slot] = (h >> 24) | 1
        slot_tokens[slot] = token
        flags[slot] = flags_of[token]
    return slot_tokens, bytes(tags), bytes(flags), mask, bytes(bits)


def _token_slot(lurl, start, end, h, slot_tokens, tags, mask):
    """The slot of the token `lurl[start:end]` (running hash `h`) in a `token_table`; -1: none of its tokens."""
    slot = (h ^ (h >> 15)) & mask
    tag = (h >> 24) | 1
    length = end - start
    while True:
        found = tags[slot]
        if found == 0:
            return -1
        if found == tag:
            token = slot_tokens[slot]
            if len(token) == length:
                i = 0
                while i < length and token[i] == lurl[start + i]:
                    i += 1
                if i == length:
                    return slot
        slot = (slot + 1) & mask


def keys_by_char(lurl, start, flags_of, table, starts_pair, previous):
    """The keys that `lurl[start:]`'s tokens (the runs of [a-z0-9]) give, as `_target` finds them from
    `split()` (fast compiled): one walk over the characters, hashing each token as it goes and finding
    it in the `token_table` if its filter bit is set; a key is put in the list as the table holds it,
    and a token is cut out of the URL only for a pair. `starts_pair` and `previous` carry the host's
    last token (a pair across the host's end)."""
    slot_tokens = table[0]
    slot_flags = table[2]
    key_filter = table[4]
    keys = []
    pairs = []
    token_start = -1
    h = 0
    i = start
    for ch in lurl[start:]:  # compiled: one copy of the path, then a C loop over its characters
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            if token_start < 0:
                token_start = i
                h = 0
            h = (h * 31 + ord(ch)) & _MASK32
        elif token_start >= 0:
            bit = _token_bit(h)
            if starts_pair or key_filter[bit >> 3] & (1 << (bit & 7)):
                slot = _take_token(lurl, token_start, i, h, flags_of, table, keys, pairs, starts_pair, previous)
                if slot >= 0:
                    starts_pair = slot_flags[slot] & STARTS_PAIR
                    previous = slot_tokens[slot]
                else:
                    starts_pair = 0
            token_start = -1
        i += 1
    if token_start >= 0:  # the last token, at the URL's end
        bit = _token_bit(h)
        if starts_pair or key_filter[bit >> 3] & (1 << (bit & 7)):
            _take_token(lurl, token_start, i, h, flags_of, table, keys, pairs, starts_pair, previous)
    if pairs:
        keys.extend(pairs)
    return keys


def _take_token(lurl, start, end, h, flags_of, table, keys, pairs, starts_pair, previous):
    """Add the path token `lurl[start:end]` to `keys` if it is a key, and its pair with the token before
    to `pairs` if that starts pairs and the pair is a key; its slot in the table, or -1."""
    if starts_pair:
        pair = previous + " " + lurl[start : min(end, start + PAIR_PREFIX)]
        if pair in flags_of:
            pairs.append(pair)
    slot_tokens = table[0]
    slot_flags = table[2]
    slot = _token_slot(lurl, start, end, h, slot_tokens, table[1], table[3])
    if slot >= 0 and slot_flags[slot] & IS_KEY:
        token = slot_tokens[slot]
        if token not in keys:
            keys.append(token)
    return slot


def find(engine, n, t):
    """The first rule of index `n` (in `index.INDEXES` order) that matches, or None.

    Written out in one piece because it runs for every request. The host-table and origin-token
    hits come from the origin's cache; the path's tokens, the type's `always` rules and the
    source page's `$domain=` rules are looked up here, the first two as runs of compiled rules
    kept by the engine (`NetworkEngine._run`). Each candidate is then tested: refused type and
    party bits and required literal (one test), options, exact URL test.
    """
    return _find(engine._hot_state, engine, n, t)


def _find(hot, engine, n, t):
    """`find`, given the engine's hot state."""
    tables = hot[_INDEXES][n]
    probe = _probe_of(engine, tables, n, t[ORIGIN])
    bits = t[BITS]
    if probe[0] is not None and not bits & POPUP:
        return probe[0]
    url = t[URL]
    rid = _first_match(probe[1], probe[2], bits, url, t)
    if rid is not None:
        return rid
    more = _runs_for(engine, tables, n, t)
    if more is not None:
        for run in more:
            rid = _first_match(run[0], run[1], bits, url, t)
            if rid is not None:
                return rid
    return None


def _runs_for(engine, tables, n, t):
    """The runs of index `n` a request's path keys, its type's `always` rules and its source page's
    `$domain=` names give, in that order (the origin's come first, from its probe); None for none
    (most requests have none or one)."""
    found = None
    keys = t[PATH_KEYS]
    runs = tables[_RUNS]
    if keys:
        for key in keys:
            run = _run_of(engine, runs, n, key)
            if run:
                found = _with_run(found, run)
    if tables[_ALWAYS]:
        run = _run_of(engine, runs, n, t[TYPE_BIT])
        if run:
            found = _with_run(found, run)
    domain_keys = t[DOMAIN_KEYS]
    if domain_keys:
        for key in domain_keys:
            run = _domain_run(engine, tables, key)
            if run:
                found = _with_run(found, run)
    return found


def _with_run(found, run):
    """`found` (a list, or None for none yet) with `run` added."""
    if found is None:
        return [run]
    found.append(run)
    return found


def _run_of(engine, runs, n, key):
    """Index `n`'s run for a token key or a type bit (`NetworkEngine._run`), made the first time it is asked for."""
    run = runs.get(key)
    if run is None:
        run = engine._run(n, key)
    return run


def _domain_run(engine, tables, key):
    """The run (compiled rules, ids) of an index's `$domain=` bucket for a source page's name; () for none.
    Not kept: few requests come from a page named in that table."""
    bucket = tables[_BY_DOMAIN].get(key)
    if bucket is None:
        return ()
    return engine._compiled_run(bucket), bucket


def _first_match(run, rids, bits, url, t):
    """The id of the first rule of `run` (compiled rules, `rids` their ids) that matches the request, or None."""
    at = 0
    for c in run:
        refused = c[0]  # (a C number once compiled)
        if not (refused & bits or c[1] not in url) and (c[3] is None and c[2] is None or options_pass(c, t)):
            return rids[at]
        at += 1
    return None


def _probe_of(engine, tables, n, origin):
    """(plain host rule or None, compiled candidates, their ids) of index `n` for an origin: worked out
    once, kept in the origin."""
    probes = origin.probes
    probe = probes[n]
    if probe is None:
        probe = probes[n] = engine._probe(tables[_INDEX], origin)
    return probe


def options_pass(c, t):
    """Whether a candidate that passed the quick test (type and party bits, literal) matches: its
    options (see `matching.compile_options`), then its URL test."""
    options = c[3]
    if options is not None:
        if not _sites_pass(options[0], options[1], t[SOURCE_KEYS]):
            return False  # `$domain=`: the source page's names
        if len(options) > 2 and not _other_options_pass(options, t):
            return False
    return c[2] is None or url_test(c[2], t)


def _sites_pass(limited_to, excluded, keys):
    """Whether `keys` (a host's names) meet one of the sites of `limited_to` (if given) and none of `excluded`."""
    if limited_to is not None and limited_to.isdisjoint(keys):
        return False
    return excluded is None or excluded.isdisjoint(keys)


def _other_options_pass(options, t):
    """The `$to=`, `$denyallow=` and `$method=` part of `options_pass`."""
    keys = t[ORIGIN].keys
    if not _sites_pass(options[2], options[3], keys):
        return False  # `$to=`: the request's own host
    denied = options[4]
    if denied is not None and not denied.isdisjoint(keys):
        return False
    allowed = options[5]
    if allowed is not None and t[METHOD] not in allowed:
        return False
    refused = options[6]
    return refused is None or t[METHOD] not in refused


def url_test(test, t):
    """Whether a request's URL passes a rule's URL test (a tuple from `matching.compile_pattern`)."""
    kind = test[0]
    text = t[test[1]]
    argument = test[2]
    if kind == PLAIN_IN:
        return argument in text
    if kind == GLOB:
        return _glob(argument, text, 0)
    if kind == HOST_PLAIN or kind == HOST_GLOB:
        host = t[HOST]
        if host != test[3] and not host.endswith(test[4]):
            return False
        if kind == HOST_PLAIN:
            return text.startswith(argument, t[HOST_END])
        return _glob(argument, text, t[HOST_END])
    if kind == PLAIN_START:
        return text.startswith(argument)
    if kind == PLAIN_END:
        return text.endswith(argument)
    if kind == PLAIN_EQ:
        return text == argument
    if kind == REGEX:
        # The RE2 object's own match (see `regex.raw_match`): spans, the first (-1, -1) for none.
        data = text.encode("utf-8", "surrogatepass")
        return argument(test[3], data, 0, len(data))[0][0] >= 0
    if kind == REGEX_SEARCH:
        return argument(text.encode("utf-8", "surrogatepass")) is not None
    if kind == LABELS:
        # Whole labels of the host: at its start or after a dot, up to its end or a dot (or a loose end).
        at = text.find(argument)
        while at >= 0:
            end = at + len(argument)
            if (test[3] or at == 0 or text[at - 1] == ".") and (test[4] or end == len(text) or text[end] == "."):
                return True
            at = text.find(argument, at + 1)
        return False
    # LABEL_GLOB: from the host's start or right after any dot in it.
    start = t[HOST_START]
    if _glob(argument, text, start):
        return True
    host = t[HOST]
    at = host.find(".")
    while at >= 0:
        if _glob(argument, text, start + at + 1):
            return True
        at = host.find(".", at + 1)
    return False


def _glob(parts, text, pos):
    """A `*`/`^` pattern's test (`matching.Glob.parts`): compiled, `glob_match` on its plan; plain
    Python, its regex, which is faster there than any loop written in Python."""
    if COMPILED:
        return glob_match(parts[0], text, pos)
    return parts[1](text, pos) is not None


def glob_match(plan, text, pos):
    """Whether a `*`/`^` pattern (`matching.Glob.plan`) matches `text` from `pos`, as its regex does:
    each segment at its leftmost place after the one before, the first at `pos` when anchored there,
    the last ending the text when anchored there; a `^` is one separator, or the end for the last."""
    segments = plan[0]
    count = len(segments)
    end = len(text)
    first = 0
    if plan[1]:
        pos = _segment_end(text, pos, segments[0], count == 1)
        if pos < 0:
            return False
        first = 1
    if not plan[2]:
        for i in range(first, count):
            pos = _find_segment(text, pos, segments[i], i == count - 1)
            if pos < 0:
                return False
        return True
    if first == count:
        return pos == end  # one segment, anchored at both ends
    for i in range(first, count - 1):
        pos = _find_segment(text, pos, segments[i], False)
        if pos < 0:
            return False
    # The last segment ends the text: it starts `width` characters before its end, or one fewer
    # where its final `^` matches the end itself.
    pieces = segments[count - 1]
    width = len(pieces) - 1
    for piece in pieces:
        width += len(piece)
    start = end - width
    if start >= pos and _segment_end(text, start, pieces, True) == end:
        return True
    return start + 1 >= pos and _segment_end(text, start + 1, pieces, True) == end


def _find_segment(text, pos, pieces, last):
    """Where the leftmost match of a segment at or after `pos` ends, or -1."""
    lead = pieces[0]
    if lead:
        at = text.find(lead, pos)
        while at >= 0:
            found = _segment_end(text, at, pieces, last)
            if found >= 0:
                return found
            at = text.find(lead, at + 1)
        return -1
    end = len(text)
    while pos <= end:
        found = _segment_end(text, pos, pieces, last)
        if found >= 0:
            return found
        pos += 1
    return -1


def _segment_end(text, at, pieces, last):
    """Where a segment (its pieces, a `^` between each two) matching right at `at` ends, or -1. A `^`
    is one character that is not a letter, digit, `_`, `.`, `%` or `-` (ASCII); in the pattern's
    last segment (`last`), a final `^` also matches the end of the text."""
    end = len(text)
    final = len(pieces) - 1
    i = 0
    for piece in pieces:
        if i:
            if at < end:
                ch = text[at]
                if ("a" <= ch <= "z" or "A" <= ch <= "Z" or "0" <= ch <= "9" or ch == "_" or ch == "."
                        or ch == "%" or ch == "-"):
                    return -1
                at += 1
            elif not (last and i == final and not piece):
                return -1
        if not text.startswith(piece, at):
            return -1
        at += len(piece)
        i += 1
    return at


def rule_matches(rule, t):
    """Whether one parsed rule matches one request (the slow path, for tests and explanations)."""
    mask, literal, test, options = compile_rule(rule)
    if mask & t[BITS] != t[BITS]:
        return False
    if rule.hostname is not None:
        host = t[HOST]
        if host != rule.hostname and not host.endswith("." + rule.hostname):
            return False
    if literal is not None and literal not in t[URL]:
        return False
    return options_pass((None, None, test, options), t)


def find_all(engine, n, t):
    """Every rule of index `n` that matches, each once, in the order `find` tries them."""
    return _find_all(engine._hot_state, engine, n, t)


def _find_all(hot, engine, n, t):
    """`find_all`, given the engine's hot state."""
    tables = hot[_INDEXES][n]
    probe = _probe_of(engine, tables, n, t[ORIGIN])
    bits = t[BITS]
    url = t[URL]
    found = []
    simple = probe[0]
    if simple is not None and not bits & POPUP:
        _all_in_run((hot[_COMPILED_RULES][simple] or engine._compile(simple),), (simple,), bits, url, t, found)
    _all_in_run(probe[1], probe[2], bits, url, t, found)
    more = _runs_for(engine, tables, n, t)
    if more is not None:
        for run in more:
            _all_in_run(run[0], run[1], bits, url, t, found)
    return found


def _all_in_run(run, rids, bits, url, t, found):
    """Add to `found` each id of `rids` whose compiled rule in `run` matches, unless it is there already."""
    at = 0
    for c in run:
        refused = c[0]
        if not (refused & bits or c[1] not in url) and rids[at] not in found and (
                c[3] is None and c[2] is None or options_pass(c, t)):
            found.append(rids[at])
        at += 1


def blocked(hot, engine, rid, t, url, source_url, after):
    """The decision for a request that rule `rid` blocks, when something may change it: `after`, the
    rules of `AFTER_BLOCK` it matches (`$important` blocks, exceptions, redirects), or its page's
    exceptions. Their parts (`index.IMPORTANT_ROLE`...) say which of the three indexes to ask."""
    compiled = hot[_COMPILED_RULES]
    roles = 0
    for other in after:
        roles |= compiled[other][_ROLES]
    important = (compiled[rid] or engine._compile(rid))[_ROLES] & IMPORTANT_ROLE
    if not important and roles & IMPORTANT_ROLE:
        rid = _find(hot, engine, IMPORTANTS, t)  # the one `find` gives: it names the decision
        important = IMPORTANT_ROLE
    if not important:
        exception = None
        if roles & EXCEPTION_ROLE:
            exception = _find(hot, engine, EXCEPTIONS, t)
        if exception is None and source_url and hot[_HAS][PAGE_EXCEPTIONS]:
            page = _page_rids(hot, engine, source_url)
            if page is not None:
                overridden = engine._page_exception(rid, t, page)
                rid = overridden[0]
                exception = overridden[1]
        if exception is not None:
            allowed = hot[_DECISIONS].get((rid, exception))
            if allowed is None or hot[_HAS][MODIFIERS] and _find(hot, engine, MODIFIERS, t) is not None:
                return engine._excepted(rid, exception, t, url, source_url)
            return allowed
    redirect = None
    if roles & REDIRECT_ROLE:
        # In list order: of two resources with the same priority, the first listed wins, however indexed.
        matches = tuple(sorted([other for other in after if compiled[other][_ROLES] & REDIRECT_ROLE]))
        redirect = hot[_REDIRECT_CHOICES].get(matches, False)
        if redirect is False:
            redirect = engine._redirect_choice(matches)
    decision = hot[_DECISIONS].get(rid if redirect is None else (rid, redirect))
    if decision is None:
        decision = engine._block_decision(rid, important != 0, redirect)
    return decision


def _page_rids(hot, engine, url):
    """`engine._page_rids(url)`, read from its memo without a call when it is kept there."""
    page = hot[_PAGE_CACHE].get(url, False)
    if page is False:
        page = engine._page_rids(url)
    return page


def check(engine, url, source_url=None, request_type="other", method="GET"):
    """Decide whether a request to `url`, made by the page `source_url`, is blocked (`NetworkEngine.check`)."""
    hot = engine._hot_state
    t = _target(hot, engine, url, source_url, request_type, method, False)
    if t is None:
        return hot[_ALLOWED]
    has = hot[_HAS]
    rid = _find(hot, engine, BLOCKS, t)
    if rid is None and t[BITS] & PAGE_TYPES and has[PAGE_BLOCKS]:
        rid = _find(hot, engine, PAGE_BLOCKS, t)
    if rid is not None:
        if has[AFTER_BLOCK]:
            after = _find_all(hot, engine, AFTER_BLOCK, t)
            if after:
                return blocked(hot, engine, rid, t, url, source_url, after)
        if source_url and has[PAGE_EXCEPTIONS] and _page_rids(hot, engine, source_url) is not None:
            return blocked(hot, engine, rid, t, url, source_url, ())
        # Nothing overrides the block: its decision is the same for every request it blocks.
        decisions = hot[_DECISIONS]
        decision = decisions.get(rid)
        if decision is None:
            rule = engine._rule(rid)
            decision = engine._block_decision(rid, rule is not None and rule.important, None)
        return decision
    if has[MODIFIERS] and _find(hot, engine, MODIFIERS, t) is not None:
        return engine._modifiers(t, url, source_url)
    return hot[_ALLOWED]


def inverse_permutation(order):
    """The array("I") `inverse` with `inverse[order[k]] == k` for each k, for a permutation `order` (an array("I"))."""
    # Compiled, a C loop over the two arrays' memory: a hosts file of two million names takes
    # milliseconds here, a third of a second in plain Python.
    inverse = array("I", bytes(4 * len(order)))
    source = order  # (the two names are typed as memoryviews in hotpath.pxd)
    target = inverse
    for k in range(len(order)):
        target[source[k]] = k
    return inverse
