"""A parsed rule compiled into plain data that the hot path (`hotpath`) tests one request's `Target` with.

`compile_rule(rule)` returns `(mask, literal, test, options)`: `mask` is checked against the
request's type and party bits with one AND; `literal` is text the URL must contain (tested with
`in`, which rejects most candidates at once); `test` is the exact URL test, a tuple whose first
item says its kind (`PLAIN_IN`...; None for a plain substring, or when the host lookup decides);
`options` holds the sets `$domain=`, `$to=`, `$denyallow=` and `$method=` test (None when the rule
has none of them). Data rather than closures: the compiled hot path reads them without a Python call.

Wildcard patterns are matched segment by segment, taking the leftmost occurrence of each (one
regex of atomic groups): for `*`-separated segments of fixed width that is always correct and
linear in the URL length, so a hostile 8 KB URL cannot make matching slow.
`/regex/` rules run on RE2 for the same reason.
"""
from __future__ import annotations

import re

from .regex import compile_regex, raw_match
from .rules import NetworkRule, regex_tokens

# `^` matches one character that is not a letter, digit or one of `_ - . %` (or the URL's end).
SEPARATOR_CLASS = r"[^\w.%-]"
_SEPARATOR_RE = re.compile(SEPARATOR_CLASS, re.ASCII)

TOKEN_RE = re.compile(r"[a-z0-9]+")


class Origin:
    """What a request's scheme and host give, worked out once per origin and kept: the host, its
    parent domains, registrable domain and `$domain=` names, the tokens of the URL up to the host's
    end, and per rule index the rules the host table and those tokens give, compiled (`probes`)."""

    __slots__ = ("host", "suffixes", "domain", "keys", "ascii_host", "tokens", "probes", "host_start", "websocket",
                 "ends_pair")

    def __init__(self, host, suffixes, domain, keys, ascii_host, tokens, probe_slots, host_start=0, websocket=False):
        self.host_start = host_start
        self.websocket = websocket
        self.host = host
        self.suffixes = suffixes
        self.domain = domain
        self.keys = keys
        self.ascii_host = ascii_host
        self.tokens = tokens
        self.probes = [None] * probe_slots
        # Whether the last token starts pairs (a pair across the host's end): set by the engine.
        self.ends_pair = 0


# A request as the compiled rules see it (a "target") is a plain tuple, read by these positions:
# made in one step and read with one subscript, where a named tuple costs several times both (the
# hot loop reads it a dozen times per request).
(
    URL,  # the URL, lower-cased (with an IDN host in punycode)
    RAW_URL,  # the URL as given (for `$match-case`)
    HOST,  # the host, lower-case
    HOST_START,  # where the host starts in the URL
    HOST_END,  # where it ends
    BITS,  # the request's type bit | its party bit
    TYPE_BIT,  # the type bit alone
    ORIGIN,  # its `Origin`
    SOURCE_KEYS,  # the `$domain=` names of the source page
    METHOD,  # the HTTP method, upper-case
    DOMAIN_KEYS,  # the keys of the engine's `$domain=` tables among SOURCE_KEYS
    PATH_TOKENS,  # the tokens of the URL after the host (None: not worked out)
    PATH_KEYS,  # the keys of the token tables those give, in probe order (None: not worked out)
) = range(13)

Target = tuple  # for annotations: a tuple laid out as above


def new_target(url, raw_url, host, host_start, host_end, bits, type_bit, origin, source_keys, method,
               domain_keys=(), path_tokens=None, path_keys=None) -> Target:
    """A target from its fields by name (the engine builds its tuples in place)."""
    return (url, raw_url, host, host_start, host_end, bits, type_bit, origin, source_keys, method,
            domain_keys, path_tokens, path_keys)


def host_keys(host: str, public_suffix: str | None, suffixes: tuple[str, ...] | None = None) -> frozenset[str]:
    """The names a `$domain=` entry can give for `host`: itself, its parent domains, and entity forms.

    `a.example.co.uk` gives `a.example.co.uk`, `example.co.uk`, `co.uk`, `uk`, `a.example.*` and
    `example.*` (uBO's entity wildcard: any public suffix). `suffixes`, `host_suffixes(host)` if at
    hand, are taken as they are (a request's origin keeps both: the same strings, once).
    """
    if not host:
        return frozenset()
    keys = list(host_suffixes(host) if suffixes is None else suffixes)
    if public_suffix and len(host) > len(public_suffix) + 1 and host.endswith("." + public_suffix):
        base = host[: -len(public_suffix) - 1]
        keys.append(base + ".*")
        at = base.find(".")
        while at >= 0:
            keys.append(base[at + 1 :] + ".*")
            at = base.find(".", at + 1)
    return frozenset(keys)


def host_suffixes(host: str) -> tuple[str, ...]:
    """`a.b.com` -> (`a.b.com`, `b.com`, `com`): the keys a host table is probed with."""
    if not host:
        return ()
    suffixes = [host]
    at = host.find(".")
    while at >= 0:
        suffixes.append(host[at + 1 :])
        at = host.find(".", at + 1)
    return tuple(suffixes)


# --- regex rules ---------------------------------------------------------------------------------


# --- wildcard patterns ---------------------------------------------------------------------------


def _segment_regex(text: str, last: bool) -> str:
    """A run of pattern text between `*`s as a regex: literal text, with `^` as one separator."""
    body = SEPARATOR_CLASS.join(re.escape(chunk) for chunk in text.split("^"))
    if last and text.endswith("^"):
        # A final `^` also matches the end of the URL.
        body = body[: -len(SEPARATOR_CLASS)] + f"(?:{SEPARATOR_CLASS}|$)"
    return body


class Glob:
    """A `*`/`^` pattern, optionally anchored at a given start position and/or the URL's end.

    Compiled into one regex in which each segment after a `*` is an atomic group `(?>.*?segment)`:
    it takes the leftmost occurrence and is never tried again, so matching stays linear in the URL's
    length, as a scan segment by segment would be, but runs in one C call.
    """

    __slots__ = ("regex", "plan")

    def __init__(self, pattern: str, anchored_start: bool, anchored_end: bool):
        texts = pattern.split("*")
        # The same test as data for `hotpath.glob_match` (compiled: no regex engine to enter): each
        # segment as its pieces between `^`s, and the two anchors.
        self.plan = (tuple(tuple(text.split("^")) for text in texts), anchored_start, anchored_end)
        bodies = [_segment_regex(text, i == len(texts) - 1) for i, text in enumerate(texts)]
        parts = []
        if anchored_start:
            parts.append(bodies.pop(0))
        tail = bodies.pop() if anchored_end and bodies else None
        parts.extend(f"(?>.*?{body})" for body in bodies)
        if tail is not None:
            # The last segment must end the URL (a final `^` may match nothing there): the rightmost
            # place it can, at or after where the others left off.
            parts.append(f".*{tail}")
        if anchored_end:
            parts.append(r"\Z")
        self.regex = re.compile("".join(parts), re.ASCII | re.DOTALL)

    def match(self, s: str, pos: int = 0) -> bool:
        return self.regex.match(s, pos) is not None

    @property
    def parts(self) -> tuple:
        """(plan, the regex's match) for a URL test: the compiled hot path reads the plan, plain Python
        runs the regex (there the regex engine is the faster of the two)."""
        return (self.plan, self.regex.match)


# --- compiling a rule ----------------------------------------------------------------------------


# The kinds of URL test, the first item of a test tuple: (kind, the target field it reads, its
# argument, and for host-anchored kinds the host and "." + host, for LABELS the two loose ends,
# for REGEX the RE2 object's unanchored mode; REGEX_SEARCH is a regex through RE2's public `search`).
(PLAIN_IN, PLAIN_EQ, PLAIN_START, PLAIN_END, GLOB, REGEX, REGEX_SEARCH, HOST_PLAIN, HOST_GLOB, LABELS,
 LABEL_GLOB) = range(11)


def compile_pattern(rule: NetworkRule) -> tuple | None:
    """The URL test of a rule (see the kinds above), or None when it accepts every URL.

    A `||host^` rule has no test: it is only ever reached by looking its host up. Other `||host...`
    rules test the host themselves, as they may be filed under a token of their path instead.
    """
    field = RAW_URL if rule.match_case else URL
    if rule.regex is not None:
        # RE2 is given the URL's UTF-8 bytes: it would encode a str itself, taking longer, and fail on
        # the lone surrogates mitmproxy decodes a path's invalid UTF-8 bytes to.
        regex = compile_regex(rule.regex, rule.match_case)
        raw = raw_match(regex)
        return (REGEX_SEARCH, field, regex.search) if raw is None else (REGEX, field, *raw)
    if rule.hostname is not None:
        return _host_rest_test(rule.hostname, rule.rest, rule.anchor_end, field)
    pattern = rule.pattern
    if rule.anchor_start == 2:
        return _label_test(pattern, rule.anchor_end, field)
    if not pattern:
        return None
    left = rule.anchor_start == 1
    right = rule.anchor_end
    if "*" not in pattern and "^" not in pattern:
        kind = PLAIN_EQ if left and right else PLAIN_START if left else PLAIN_END if right else PLAIN_IN
        return (kind, field, pattern)
    return (GLOB, field, Glob(pattern, left, right).parts)


def _host_rest_test(hostname: str, rest: str, anchor_end: bool, field: int) -> tuple | None:
    """A `||host...` rule: the host or a subdomain of it, then `rest` right at the host's end."""
    if rest in ("", "^"):
        return None
    if "*" not in rest and "^" not in rest and not anchor_end and field == URL:
        return (HOST_PLAIN, URL, rest, hostname, "." + hostname)
    return (HOST_GLOB, field, Glob(rest, True, anchor_end).parts, hostname, "." + hostname)


def _label_test(pattern: str, anchor_end: bool, field: int) -> tuple:
    """A `||` rule that is not a plain host: it may start at the host or after any dot in it."""
    host_part = pattern.split("/", 1)[0]
    if "*" not in pattern and "^" not in pattern and not anchor_end and pattern == host_part:
        # `||ads.example`: adblock-rust wants whole labels here, as for a host name.
        needle = pattern.lower()
        return (LABELS, HOST, needle, needle.startswith("."), needle.endswith("."))
    return (LABEL_GLOB, field, Glob(pattern, True, anchor_end).parts)


def compile_options(rule: NetworkRule) -> tuple | None:
    """The sets the `$domain=`/`$to=`/`$denyallow=`/`$method=` test reads, or None for no such option.

    (sites the rule is limited to, sites it excludes), each None when not given; when any other
    option is there, followed by ($to= sites, $to= exclusions, $denyallow= sites, methods allowed,
    methods refused). `hotpath.options_pass` tests them.
    """
    include = exclude = None
    if rule.domains is not None:
        include = rule.domains.include or None
        exclude = rule.domains.exclude or None
    others = (
        (rule.to_domains.include or None) if rule.to_domains is not None else None,
        (rule.to_domains.exclude or None) if rule.to_domains is not None else None,
        rule.denyallow or None,
        (rule.methods.include or None) if rule.methods is not None else None,
        (rule.methods.exclude or None) if rule.methods is not None else None,
    )
    if others != (None,) * 5:
        return (include, exclude, *others)
    if include is None and exclude is None:
        return None
    return (include, exclude)


def required_literal(rule: NetworkRule) -> str | None:
    """The longest piece of text every URL the rule matches contains (lower-cased), or None.

    Tested with `in` before anything else: one C-level scan that turns most candidates away.
    """
    if rule.regex is not None:
        return max(regex_tokens(rule.regex), key=len, default=None)
    if rule.hostname is not None:
        text = rule.rest
    else:
        text = rule.pattern
    pieces = [p for p in re.split(r"[*^]", text.lower()) if p]
    return max(pieces, key=len, default=None)


def compile_rule(rule: NetworkRule) -> tuple:
    """(mask, required literal or None, URL test or None, option sets or None) for the hot loop.

    A rule matches a request when `mask & bits == bits`, the literal is in the lower-cased URL,
    and both tests (when present) pass.
    """
    options = compile_options(rule)
    literal = required_literal(rule)
    if (
        rule.regex is None
        and rule.hostname is None
        and rule.anchor_start == 0
        and not rule.anchor_end
        and not rule.match_case
        and rule.pattern == literal
    ):
        return (rule.mask, literal, None, options)  # a plain substring: the literal is the whole test
    return (rule.mask, literal, compile_pattern(rule), options)
