"""A request's way through the network engine: read into a target, looked up in a rule index, decided.

`NetworkEngine` takes `check`, `target` and `find` as its `check`, `_target` and `_find`. They run
for every request, so they are kept apart here: plain Python, which Cython compiles into a C
extension with the C types of `hotpath.pxd` (setup.py does, where it finds a C compiler). Compiled,
it answers exactly as this source does (tests/network/test_hotpath.py checks every corpus request);
only the path's tokens are cut out another way (see `target`). `speed` chooses which one runs.
"""

from __future__ import annotations

from ..request import TYPE_ALIASES
from .index import AFTER_BLOCK, BLOCKS, MODIFIERS, PAGE_BLOCKS, PAGE_EXCEPTIONS
from .matching import BITS, DOMAIN_KEYS, ORIGIN, PATH_KEYS, TYPE_BIT, URL
from .rules import DOCUMENT, FIRST_PARTY, PAGE_TYPES, PAIR_PREFIX, POPUP, THIRD_PARTY, TYPE_BITS

# Loaded from a compiled extension (`.so`, `.pyd`) rather than from this source.
COMPILED = not __file__.endswith(".py")

WEBSOCKET = TYPE_BITS["websocket"]
OTHER = TYPE_BITS["other"]
EMPTY: frozenset[str] = frozenset()
BIT_OF_TYPE: dict[str, int] = {name: bit for name, bit in TYPE_BITS.items()}
BIT_OF_TYPE.update({alias: TYPE_BITS[name] for alias, name in TYPE_ALIASES.items()})

# A token's flags in the engine's `_token_flags`.
IS_KEY = 1  # a key of some index's token table (pairs included)
STARTS_PAIR = 2  # the first token of pairs (`"ads image"`) filed in a token table

# Bytes of a lower-cased URL that are not [a-z0-9] become spaces: `.split()` then gives TOKEN_RE's tokens.
_TOKEN_BYTES = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789" else 32 for c in range(256))


def hot_state(heads, source_info, token_flags, indexes, compiled, allowed):
    """What `target`, `find` and `check` read for every request, kept by the engine as `_hot_state`.

    One attribute read instead of one per table. `allowed` (the engine module's ALLOWED) travels
    with them: a hot reload imports the engine afresh but cannot import a compiled module again,
    so this module must not answer with an object of its own from an earlier import.
    """
    return (heads, source_info, token_flags, indexes, compiled, allowed)


_HEADS, _SOURCE_INFO, _TOKEN_FLAGS, _INDEXES, _COMPILED_RULES, _ALLOWED = range(6)  # in `hot_state`


def target(engine, url, source_url, request_type, method, page=False):
    """The target of a request (see `matching.URL`), or None when no rule can apply to its URL."""
    hot = engine._hot_state
    lurl = url.lower()
    # The URL up to the first `/` after its scheme's `//` decides where its host is: looked up
    # as a whole, most requests never run the URL regex.
    cut = lurl.find("/", 8)
    head = hot[_HEADS].get(lurl if cut < 0 else lurl[:cut])
    if head is None:
        head = engine._head(lurl, cut)
        if head is None:
            return None
    origin = head[0]
    host_end = head[1]
    host = origin.host
    if not host:
        return None  # no host, or a scheme that is never filtered (data:, blob:, about:...)
    host_start = origin.host_start
    raw_url = url
    ascii_host = origin.ascii_host
    if ascii_host is not None:
        # An IDN host is matched in its punycode form, as lists write it.
        lurl = lurl[:host_start] + ascii_host + lurl[host_end:]
        raw_url = url[:host_start] + ascii_host + url[host_end:]
        host_end = host_start + len(ascii_host)
    if source_url:
        source = hot[_SOURCE_INFO].get(source_url)
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
        if origin.websocket:
            type_bit = WEBSOCKET
        else:
            found = BIT_OF_TYPE.get(request_type) if request_type else OTHER
            if found is None:
                found = BIT_OF_TYPE.get(request_type.strip().lower(), OTHER)
            type_bit = found
        # Without a known source page a request counts as third-party (adblock-rust does the same).
        bits = type_bit | (FIRST_PARTY if source_domain and source_domain == origin.domain else THIRD_PARTY)
    # The keys of the token tables the path gives, in probe order: its tokens in URL order, then
    # the pairs of neighbouring tokens (`"ads image"`) that start with a token that starts pairs.
    if COMPILED:
        path = tokens_by_char(lurl, host_end)
    else:
        # In plain Python one byte table and `split()` are faster than any loop over characters.
        path = lurl[host_end:].encode("utf-8", "replace").translate(_TOKEN_BYTES).decode().split()
    # One walk over the path: each token's flags say whether it is a key and whether it starts pairs.
    flags_of = hot[_TOKEN_FLAGS]
    keys = []
    pairs = None
    starts_pair = origin.ends_pair
    previous = origin.tokens[-1] if starts_pair else ""
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


def tokens_by_char(lurl, start):
    """The runs of [a-z0-9] in `lurl[start:]` (TOKEN_RE's tokens), found one character at a time (fast compiled)."""
    tokens = []
    token_start = -1
    end = len(lurl)
    i = start
    while i < end:
        ch = lurl[i]
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            if token_start < 0:
                token_start = i
        elif token_start >= 0:
            tokens.append(lurl[token_start:i])
            token_start = -1
        i += 1
    if token_start >= 0:
        tokens.append(lurl[token_start:end])
    return tokens


def find(engine, n, t):
    """The first rule of index `n` (in `index.INDEXES` order) that matches, or None.

    Written out in one piece because it runs for every request. The host-table and origin-token
    hits come from the origin's cache; the path's tokens, the type's `always` rules and the
    source page's `$domain=` rules are looked up here. Each candidate is then tested: refused
    type and party bits and required literal (one test), options, exact URL test.
    """
    hot = engine._hot_state
    indexes = hot[_INDEXES]
    origin = t[ORIGIN]
    probes = origin.probes
    probe = probes[n]
    if probe is None:
        probe = probes[n] = engine._probe(indexes[n], origin)
    bits = t[BITS]
    if probe[0] is not None and not bits & POPUP:
        return probe[0]
    index = indexes[n]
    buckets = probe[1]
    # Each hit is added as it is found: most requests have none or one, so no list is made.
    keys = t[PATH_KEYS]
    if keys:
        by_token = index.by_token
        for key in keys:
            hit = by_token.get(key)
            if hit is not None:
                buckets += (hit,)
    always = index.always
    if always:
        hit = always.get(t[TYPE_BIT])
        if hit is not None:
            buckets += (hit,)
    domain_keys = t[DOMAIN_KEYS]
    if domain_keys:
        by_domain = index.by_domain
        for key in domain_keys:
            hit = by_domain.get(key)
            if hit is not None:
                buckets += (hit,)
    if buckets:
        compiled = hot[_COMPILED_RULES]
        url = t[URL]
        for bucket in buckets:
            for rid in bucket:
                c = compiled[rid] or engine._compile(rid)
                refused = c[0]  # (a C number once compiled)
                if refused & bits or c[1] not in url:
                    continue
                if (c[3] is None or c[3](t)) and (c[2] is None or c[2](t)):
                    return rid
    return None


def check(engine, url, source_url=None, request_type="other", method="GET"):
    """Decide whether a request to `url`, made by the page `source_url`, is blocked (`NetworkEngine.check`)."""
    t = target(engine, url, source_url, request_type, method)
    if t is None:
        return engine._hot_state[_ALLOWED]
    has = engine._has
    rid = find(engine, BLOCKS, t)
    if rid is None and t[BITS] & PAGE_TYPES and has[PAGE_BLOCKS]:
        rid = find(engine, PAGE_BLOCKS, t)
    if rid is not None:
        if has[AFTER_BLOCK] and find(engine, AFTER_BLOCK, t) is not None:
            return engine._blocked(rid, t, url, source_url)
        if source_url and has[PAGE_EXCEPTIONS] and engine._page_rids(source_url) is not None:
            return engine._blocked(rid, t, url, source_url)
        # Nothing overrides the block: its decision is the same for every request it blocks.
        decision = engine._decisions.get(rid)
        if decision is None:
            rule = engine._rule(rid)
            decision = engine._block_decision(rid, rule is not None and rule.important, None)
        return decision
    if has[MODIFIERS] and find(engine, MODIFIERS, t) is not None:
        return engine._modifiers(t, url, source_url)
    return engine._hot_state[_ALLOWED]
