"""Pure match functions: a parsed rule compiled into small closures over one request's `Target`.

`compile_rule(rule)` returns `(mask, literal, test, options)`: `mask` is checked against the
request's type and party bits with one AND; `literal` is text the URL must contain (tested with
`in`, which rejects most candidates without a call); `test(target)` is the exact URL test (None
for a plain substring, or when the host lookup decides); `options(target)` tests `$domain=`,
`$to=`, `$denyallow=` and `$method=` (None when the rule has none of them).

Wildcard patterns are matched segment by segment, taking the leftmost occurrence of each (one
regex of atomic groups): for `*`-separated segments of fixed width that is always correct and
linear in the URL length, so a hostile 8 KB URL cannot make matching slow.
`/regex/` rules run on RE2 for the same reason.
"""

from __future__ import annotations

import re

from .regex import compile_regex
from .rules import NetworkRule, regex_tokens

# `^` matches one character that is not a letter, digit or one of `_ - . %` (or the URL's end).
SEPARATOR_CLASS = r"[^\w.%-]"
_SEPARATOR_RE = re.compile(SEPARATOR_CLASS, re.ASCII)

TOKEN_RE = re.compile(r"[a-z0-9]+")


class Origin:
    """What a request's scheme and host give, worked out once per origin and kept: the host, its
    parent domains, registrable domain and `$domain=` names, the tokens of the URL up to the host's
    end, and per rule index the host-table and token-table hits those produce (`probes`)."""

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


def host_keys(host: str, public_suffix: str | None) -> frozenset[str]:
    """The names a `$domain=` entry can give for `host`: itself, its parent domains, and entity forms.

    `a.example.co.uk` gives `a.example.co.uk`, `example.co.uk`, `co.uk`, `uk`, `a.example.*` and
    `example.*` (uBO's entity wildcard: any public suffix).
    """
    if not host:
        return frozenset()
    keys = [host]
    at = host.find(".")
    while at >= 0:
        keys.append(host[at + 1 :])
        at = host.find(".", at + 1)
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

    __slots__ = ("regex",)

    def __init__(self, pattern: str, anchored_start: bool, anchored_end: bool):
        texts = pattern.split("*")
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


# --- compiling a rule ----------------------------------------------------------------------------


def compile_pattern(rule: NetworkRule):
    """The URL test of a rule as `fn(target) -> bool`, or None when it accepts every URL.

    A `||host^` rule has no test: it is only ever reached by looking its host up. Other `||host...`
    rules test the host themselves, as they may be filed under a token of their path instead.
    """
    if rule.regex is not None:
        # RE2 is given the URL's UTF-8 bytes: it would encode a str itself, taking longer, and fail on
        # the lone surrogates mitmproxy decodes a path's invalid UTF-8 bytes to.
        search = compile_regex(rule.regex, rule.match_case).search
        field = RAW_URL if rule.match_case else URL
        return lambda t: search(t[field].encode("utf-8", "surrogatepass")) is not None
    if rule.hostname is not None:
        return _host_rest_matcher(rule.hostname, rule.rest, rule.anchor_end, rule.match_case)
    pattern = rule.pattern
    field = RAW_URL if rule.match_case else URL
    if rule.anchor_start == 2:
        return _label_matcher(pattern, rule.anchor_end, field)
    if not pattern:
        return None
    plain = "*" not in pattern and "^" not in pattern
    left = rule.anchor_start == 1
    right = rule.anchor_end
    if plain:
        if left and right:
            return (lambda t: t[RAW_URL] == pattern) if rule.match_case else (lambda t: t[URL] == pattern)
        if left:
            return (lambda t: t[RAW_URL].startswith(pattern)) if rule.match_case else (lambda t: t[URL].startswith(pattern))
        if right:
            return (lambda t: t[RAW_URL].endswith(pattern)) if rule.match_case else (lambda t: t[URL].endswith(pattern))
        return (lambda t: pattern in t[RAW_URL]) if rule.match_case else (lambda t: pattern in t[URL])
    match = Glob(pattern, left, right).regex.match
    if rule.match_case:
        return lambda t: match(t[RAW_URL]) is not None
    return lambda t: match(t[URL]) is not None


def _host_rest_matcher(hostname: str, rest: str, anchor_end: bool, match_case: bool):
    """A `||host...` rule: the host or a subdomain of it, then `rest` right at the host's end."""
    if rest in ("", "^"):
        return None
    dotted = "." + hostname
    if "*" not in rest and "^" not in rest and not anchor_end and not match_case:

        def plain(t) -> bool:
            host = t[HOST]
            return (host == hostname or host.endswith(dotted)) and t[URL].startswith(rest, t[HOST_END])

        return plain
    match = Glob(rest, True, anchor_end).regex.match
    field = RAW_URL if match_case else URL

    def general(t) -> bool:
        host = t[HOST]
        return (host == hostname or host.endswith(dotted)) and match(t[field], t[HOST_END]) is not None

    return general


def _label_matcher(pattern: str, anchor_end: bool, field: str):
    """A `||` rule that is not a plain host: it may start at the host or after any dot in it."""
    host_part = pattern.split("/", 1)[0]
    if "*" not in pattern and "^" not in pattern and not anchor_end and pattern == host_part:
        # `||ads.example`: adblock-rust wants whole labels here, as for a host name.
        needle = pattern.lower()
        loose_left = needle.startswith(".")
        loose_right = needle.endswith(".")

        def labels(t) -> bool:
            host = t[HOST]
            at = host.find(needle)
            while at >= 0:
                end = at + len(needle)
                if (loose_left or at == 0 or host[at - 1] == ".") and (
                    loose_right or end == len(host) or host[end] == "."
                ):
                    return True
                at = host.find(needle, at + 1)
            return False

        return labels
    match = Glob(pattern, True, anchor_end).regex.match

    def anchored(t) -> bool:
        s = t[field]
        host = t[HOST]
        start = t[HOST_START]
        if match(s, start) is not None:
            return True
        at = host.find(".")
        while at >= 0:
            if match(s, start + at + 1) is not None:
                return True
            at = host.find(".", at + 1)
        return False

    return anchored


def compile_options(rule: NetworkRule):
    """The `$domain=`/`$to=`/`$denyallow=`/`$method=` test as `fn(target) -> bool`, or None."""
    checks = []
    if rule.domains is not None:
        include = rule.domains.include
        exclude = rule.domains.exclude
        if include and exclude:
            checks.append(lambda t: not include.isdisjoint(t[SOURCE_KEYS]) and exclude.isdisjoint(t[SOURCE_KEYS]))
        elif include:
            checks.append(lambda t: not include.isdisjoint(t[SOURCE_KEYS]))
        elif exclude:
            checks.append(lambda t: exclude.isdisjoint(t[SOURCE_KEYS]))
    if rule.to_domains is not None:
        to_include = rule.to_domains.include
        to_exclude = rule.to_domains.exclude
        if to_include:
            checks.append(lambda t: not to_include.isdisjoint(t[ORIGIN].keys))
        if to_exclude:
            checks.append(lambda t: to_exclude.isdisjoint(t[ORIGIN].keys))
    if rule.denyallow is not None:
        denied = rule.denyallow
        checks.append(lambda t: denied.isdisjoint(t[ORIGIN].keys))
    if rule.methods is not None:
        allowed = rule.methods.include
        refused = rule.methods.exclude
        if allowed:
            checks.append(lambda t: t[METHOD] in allowed)
        if refused:
            checks.append(lambda t: t[METHOD] not in refused)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda t: all(check(t) for check in checks)


def source_domains(rule: NetworkRule) -> tuple[frozenset[str] | None, frozenset[str] | None] | None:
    """(the sites a rule is limited to, the sites it excludes; None for none) when `$domain=` is its
    only option test, else None: the hot loop tests these two sets itself, without a call."""
    if rule.domains is None or rule.to_domains is not None or rule.denyallow is not None or rule.methods is not None:
        return None
    return (rule.domains.include or None, rule.domains.exclude or None)


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
    """(mask, required literal or None, URL test or None, options test or None) for the hot loop.

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


def rule_matches(rule: NetworkRule, target: Target) -> bool:
    """Whether one rule matches one request (the slow path, for tests and explanations)."""
    mask, literal, test, options = compile_rule(rule)
    if mask & target[BITS] != target[BITS]:
        return False
    if rule.hostname is not None:
        host = target[HOST]
        if host != rule.hostname and not host.endswith("." + rule.hostname):
            return False
    if literal is not None and literal not in target[URL]:
        return False
    if test is not None and not test(target):
        return False
    return options is None or options(target)
