"""Network filter syntax: one list line into an immutable, typed `NetworkRule`.

Understands Adblock Plus syntax with the uBlock Origin and adblock-rust extensions: `@@`
exceptions, `|`/`||` anchors, `^` separators, `*` wildcards, `/regex/` patterns and the options
after `$`. `parse_network_rule(text)` returns a rule or raises `RuleError`; its `reason` names the
problem and `unsupported` tells a known feature we do not implement (the line is skipped and
counted) from a malformed line (also reported with its file and line number).

Options become bit masks (resource types and party) and small frozen sets (domains, methods), so
that matching (`filters.network.matching`) needs no string work beyond the URL itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..lists.syntax import PLAIN_HOST
from ..request import RESOURCE_TYPES, normal_domain_list
from .regex import compile_regex
from .replace import ReplaceError, parse_replace_value

# --- option bits ---------------------------------------------------------------------------------

TYPE_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(RESOURCE_TYPES)}
DOCUMENT = TYPE_BITS["document"]
POPUP = TYPE_BITS["popup"]
# Requests for a page itself: page-level rules (`$document`, `$popup`) apply to them.
PAGE_TYPES = DOCUMENT | POPUP
ALL_TYPES = (1 << len(RESOURCE_TYPES)) - 1
# What a rule without type options applies to: every subresource, never the page or a popup.
NETWORK_TYPES = ALL_TYPES & ~DOCUMENT & ~POPUP
FIRST_PARTY = 1 << len(RESOURCE_TYPES)
THIRD_PARTY = FIRST_PARTY << 1
ANY_PARTY = FIRST_PARTY | THIRD_PARTY

_TYPE_OPTIONS = {
    "script": "script",
    "image": "image",
    "stylesheet": "stylesheet",
    "css": "stylesheet",
    "object": "object",
    "object-subrequest": "object",
    "xmlhttprequest": "xmlhttprequest",
    "xhr": "xmlhttprequest",
    "subdocument": "subdocument",
    "frame": "subdocument",
    "ping": "ping",
    "beacon": "ping",
    "media": "media",
    "font": "font",
    "websocket": "websocket",
    "other": "other",
    "document": "document",
    "doc": "document",
    "popup": "popup",
    # uBO's popunder (the opener is sent to the ad, the page moves to the new window): a proxy sees
    # both as a navigation from the page to another site, so it is decided as a popup.
    "popunder": "popup",
}

# Exception-only options that switch something off for a whole page.
_PAGE_OPTIONS = {
    "elemhide": "elemhide",
    "ehide": "elemhide",
    "generichide": "generichide",
    "ghide": "generichide",
    "genericblock": "genericblock",
    "specifichide": "specifichide",
    "shide": "specifichide",
}

_PAGE_FLAGS = frozenset(_PAGE_OPTIONS.values())

# Known options we deliberately do not implement: the rule is skipped and counted by reason.
UNSUPPORTED_OPTIONS = frozenset(
    {
        "urlskip",
        "permissions",
        "header",
        "urltransform",
        "uritransform",
        "inline-script",
        "inline-font",
        "webrtc",
        "cname",
        "ipaddress",
        "strict1p",
        "strict3p",
        "reason",
        "stealth",
        "cookie",
        "network",
        "app",
        "extension",
        "content",
        "sitekey",
        "jsonprune",
        "xmlprune",
        "hls",
        "tag",
        "redirect-url",
        "jsinject",
        "referrerpolicy",
    }
)

# Options that change nothing for us (ABP's element collapsing, issue references).
_IGNORED_OPTIONS = frozenset({"collapse", "bug"})

METHODS = frozenset({"connect", "delete", "get", "head", "options", "patch", "post", "put", "trace"})

# ABP's `$rewrite=abp-resource:NAME` names, mapped to the uBO resource that does the same.
ABP_RESOURCES = {
    "blank-text": "noop.txt",
    "blank-css": "noop.css",
    "blank-js": "noop.js",
    "blank-html": "noop.html",
    "blank-mp3": "noop-0.1s.mp3",
    "blank-mp4": "noop-1s.mp4",
    "1x1-transparent-gif": "1x1.gif",
    "2x2-transparent-png": "2x2.png",
    "3x2-transparent-png": "3x2.png",
    "32x32-transparent-png": "32x32.png",
}

# A `$` starts the options when what follows looks like an option name.
_OPTION_START = re.compile(r"~?[A-Za-z0-9_-]+(?:=|,|$)")
_HOST_PART = re.compile(r"[A-Za-z0-9._\-\u0080-\U0010ffff]*")
_DOMAIN_VALUE = re.compile(r"^(?:[a-z0-9._\-]+(?:\.\*)?|[0-9a-f:.]+)$")
_TOKEN = re.compile(r"[a-z0-9]+")  # the same runs `matching.TOKEN_RE` finds in URLs
_STARS = re.compile(r"\*\*+")
_PLAIN_HOST_PATTERN = re.compile(r"\|\|(%s)\^" % PLAIN_HOST)  # `||host^`
# Lower-cased patterns `_parse_pattern` reads in its simplest way, the most common forms: `||host` and what
# follows it (no `*` or `|`: no anchor at the end, no wildcard to drop), and a pattern with no anchor, no
# wildcard at either end, no `**` and not a `/regex/`.
_HOST_AND_REST = re.compile(r"\|\|([a-z0-9_-][a-z0-9._-]*+)(?<!\.)([\^/:?=&;][^*|]*+)")
_UNANCHORED = re.compile(r"(?!/.+/\Z)(?!.*\*\*)[^|*](?:[^|]*[^|*])?", re.DOTALL)


class RuleError(ValueError):
    """A line that is not a usable network rule; `unsupported` marks a known, unimplemented feature."""

    def __init__(self, reason: str, unsupported: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.unsupported = unsupported


@dataclass(frozen=True, slots=True)
class DomainSet:
    """`$domain=`/`$to=` values: host names and entity wildcards (`example.*`), split by `~`."""

    include: frozenset[str]
    exclude: frozenset[str]


@dataclass(frozen=True, slots=True)
class NetworkRule:
    """One parsed network filter.

    Pattern: `pattern` is the filter text between anchors and options (lower-cased unless
    `match_case`); `anchor_start` is 0 (none), 1 (`|`) or 2 (`||`); for a `||` rule whose host
    part is a plain host name, `hostname` holds it and `rest` the pattern that must follow it
    directly. `regex` holds the source of a `/regex/` rule.
    """

    text: str
    exception: bool = False
    pattern: str = ""
    anchor_start: int = 0
    anchor_end: bool = False
    hostname: str | None = None
    rest: str = ""
    regex: str | None = None
    mask: int = NETWORK_TYPES | ANY_PARTY
    match_case: bool = False
    important: bool = False
    badfilter: bool = False
    domains: DomainSet | None = None
    to_domains: DomainSet | None = None
    denyallow: frozenset[str] | None = None
    methods: DomainSet | None = None
    redirect: str | None = None
    redirect_rule: str | None = None
    removeparam: str | None = None
    csp: str | None = None
    replace: str | None = None  # `/regex/replacement/flags`; '' on an exception that cancels every one
    document: bool = False
    elemhide: bool = False
    generichide: bool = False
    genericblock: bool = False
    specifichide: bool = False

    @property
    def host_keyed(self) -> bool:
        """Filed by host: `||host` followed by `^`, `/`, `:`, `?` or the end anchor."""
        return self.hostname is not None

    @property
    def host_only(self) -> bool:
        """The pattern is just a host (`||host^`): nothing to match after it."""
        return self.hostname is not None and self.rest in ("", "^")

    @property
    def is_generic(self) -> bool:
        """No `$domain=` names a site it is restricted to (what `$genericblock` switches off)."""
        return self.domains is None or not self.domains.include

    @property
    def page_flags(self) -> bool:
        return self.document or self.elemhide or self.generichide or self.genericblock or self.specifichide

    @property
    def modifier(self) -> str | None:
        """Which of redirect / redirect-rule / removeparam / csp / replace this rule carries, if any."""
        if self.redirect is not None:
            return "redirect"
        if self.redirect_rule is not None:
            return "redirect-rule"
        if self.removeparam is not None:
            return "removeparam"
        if self.csp is not None:
            return "csp"
        if self.replace is not None:
            return "replace"
        return None

    def identity(self) -> str:
        """What `$badfilter` compares: the rule text without `badfilter`, options in a fixed order."""
        return rule_identity(self.text)


def rule_identity(text: str) -> str:
    """Normalized rule text (options sorted, `badfilter` dropped) for `$badfilter` matching."""
    body = text[2:] if text.startswith("@@") else text
    at = options_start(body)
    if at < 0:
        return text
    options = sorted(o for o in split_options(body[at + 1 :]) if o.lower() != "badfilter")
    head = text[: len(text) - len(body) + at]
    return head + ("$" + ",".join(options) if options else "")


def options_start(body: str) -> int:
    """Index of the `$` that starts the options, or -1 (a `$` inside a regex is not one)."""
    at = body.rfind("$")
    while at >= 0:
        if _OPTION_START.match(body, at + 1):
            return at
        at = body.rfind("$", 0, at)
    return -1


def split_options(raw: str) -> list[str]:
    """Split at commas that are not escaped (`\\,` keeps a comma inside a value).

    A `replace=` value is a regex and may hold commas (`{1,3}`): as uBO reads it, a comma ends it
    only where an option follows (a name, then `=` or the next comma or the end).
    """
    if "\\," not in raw:
        parts = raw.split(",")
    else:
        parts = [p.replace("\\,", ",") for p in re.split(r"(?<!\\),", raw)]
    if len(parts) > 1 and "replace=" in raw.lower():
        parts = _join_replace_values(parts)
    return parts


_OPTION_PART = re.compile(r"~?[A-Za-z0-9_-]+(?:=.*)?", re.DOTALL)


def _join_replace_values(parts: list[str]) -> list[str]:
    joined: list[str] = []
    in_value = False
    for part in parts:
        if in_value and not _OPTION_PART.fullmatch(part):
            joined[-1] += "," + part
            continue
        joined.append(part)
        in_value = part.lstrip().lower().startswith("replace=")
    return joined


def parse_network_rule(text: str) -> NetworkRule:
    """Parse one network filter line. Raises RuleError."""
    return NetworkRule(**parse_rule_fields(text).__dict__)


class RuleFields:
    """A parsed line's fields as `NetworkRule` holds them, in a plain object: the engine builder's form.

    Reads like a `NetworkRule` (the same attributes, defaults and properties); `parse_network_rule`
    makes the immutable rule from it. `options_at` is where the options' `$` is in `text`, or -1.
    """

    __slots__ = ("__dict__", "options_at")

    def identity(self) -> str:
        return rule_identity(self.text)


for _field in NetworkRule.__dataclass_fields__.values():
    setattr(RuleFields, _field.name, _field.default)
for _name in ("host_keyed", "host_only", "is_generic", "page_flags", "modifier"):
    setattr(RuleFields, _name, getattr(NetworkRule, _name))
del _field, _name


def parse_rule_fields(text: str) -> RuleFields:
    """Parse one network filter line into its fields. Raises RuleError, as `parse_network_rule`."""
    line = text.strip()
    if not line:
        raise RuleError("empty line")
    exception = line.startswith("@@")
    body = line[2:] if exception else line
    at = options_start(body)
    # Many rules share their options (`$third-party`, `$popup`...): each option string is read once.
    options = _OPTIONS.get((body[at + 1 :] if at >= 0 else None, exception))
    if options is None:
        options = _read_options(body[at + 1 :] if at >= 0 else None, exception)
    if options.__class__ is tuple:
        raise RuleError(*options)
    pattern = body[:at] if at >= 0 else body
    plain = _PLAIN_HOST_PATTERN.fullmatch(pattern)
    simple = None
    if plain is None and not options.match_case:
        lowered = pattern.lower()
        simple = _HOST_AND_REST.fullmatch(lowered)
    if plain is not None:
        # `||host^`, what `_parse_pattern` makes of it.
        host = plain.group(1)
        fields = {"text": line, "exception": exception, "pattern": host + "^", "anchor_start": 2, "anchor_end": False,
                  "hostname": host, "rest": "^"}
        host_document = True
    elif simple is not None:
        # `||host/path...`: what `_parse_pattern` and `_split_host` make of it, directly.
        rest = simple.group(2)
        fields = {"text": line, "exception": exception, "pattern": lowered[2:], "anchor_start": 2, "anchor_end": False,
                  "hostname": simple.group(1), "rest": rest}
        host_document = rest == "^"
    elif not options.match_case and _UNANCHORED.fullmatch(lowered):
        fields = {"text": line, "exception": exception, "pattern": lowered, "anchor_start": 0, "anchor_end": False}
        host_document = False
    else:
        fields = {"text": line, "exception": exception}
        _parse_pattern(pattern, options.match_case, fields)
        host_document = fields.pop("host_document", False)
        if not fields.get("pattern") and fields.get("regex") is None and fields.get("hostname") is None and at < 0:
            raise RuleError("empty rule")
    if options.fields:
        fields.update(options.fields)
    outcome = options.outcomes[host_document]
    if outcome is None:
        outcome = options.outcomes[1] = options.outcome(True)
    mask, error = outcome
    if error is not None:
        raise RuleError(*error)
    fields["mask"] = mask
    parsed = RuleFields()
    parsed.__dict__ = fields
    parsed.options_at = at + len(line) - len(body) if at >= 0 else -1
    return parsed


class _Options:
    """One option string read: the fields it gives, and the mask (or error) with and without `host_document`."""

    __slots__ = ("fields", "match_case", "outcomes", "_types")

    def __init__(self, fields: dict, exception: bool):
        positive = fields.pop("types_on", 0)
        negative = fields.pop("types_off", 0)
        party = fields.pop("party", ANY_PARTY)
        self.fields = fields
        self.match_case = fields.get("match_case", False)
        self._types = (positive, negative, party, exception)
        # With `host_document` (only `||host^` rules have it), worked out when such a rule first needs it.
        self.outcomes = [self.outcome(False), None]

    def outcome(self, host_document: bool) -> tuple:
        """(mask, None), or (0, (reason, unsupported)) of the RuleError a rule with these options gets."""
        positive, negative, party, exception = self._types
        # What `parse_network_rule` checks once the pattern is read, in that order.
        checked = dict(self.fields, host_document=True) if host_document else dict(self.fields)
        try:
            mask = _type_mask(positive, negative, checked) | party
            if not exception and any(checked.get(flag) for flag in _PAGE_FLAGS):
                raise RuleError("$elemhide/$generichide/$genericblock/$specifichide are only valid on @@ exceptions")
            if checked.get("removeparam") is not None and checked["removeparam"].startswith("/"):
                _check_regex(checked["removeparam"][1:-1], False)
            return (mask, None)
        except RuleError as e:
            return (0, (e.reason, e.unsupported))


# (option string or None, exception) -> `_Options`, or (reason, unsupported) of the RuleError it gives.
_OPTIONS: dict[tuple[str | None, bool], _Options | tuple[str, bool]] = {}
_OPTIONS_LIMIT = 8192


def _read_options(raw: str | None, exception: bool) -> _Options | tuple[str, bool]:
    fields: dict = {}
    try:
        if raw is not None:
            _parse_options(raw, exception, fields)
        options = _Options(fields, exception)
    except RuleError as e:
        options = (e.reason, e.unsupported)
    if len(_OPTIONS) >= _OPTIONS_LIMIT:
        _OPTIONS.clear()
    _OPTIONS[(raw, exception)] = options
    return options


# --- options -------------------------------------------------------------------------------------


def _parse_options(raw: str, exception: bool, fields: dict) -> None:
    positive = 0
    negative = 0
    party = ANY_PARTY
    modifiers = 0
    for option in split_options(raw):
        option = option.strip()
        if not option:
            raise RuleError("empty option")
        name, has_value, value = option.partition("=")
        name = name.lower()
        negated = name.startswith("~")
        if negated:
            name = name[1:]
        if not name:
            raise RuleError(f"option without a name: {option!r}")
        if name in _TYPE_OPTIONS:
            bit = TYPE_BITS[_TYPE_OPTIONS[name]]
            if has_value:
                raise RuleError(f"${name} takes no value")
            if negated:
                negative |= bit
            else:
                positive |= bit
                if name in ("document", "doc") and exception:
                    fields["document"] = True
            continue
        if name in ("third-party", "3p", "first-party", "1p"):
            third = name in ("third-party", "3p")
            if negated:
                third = not third
            party &= THIRD_PARTY if third else FIRST_PARTY
            continue
        if name.strip("_") == "":
            continue  # uBO's `_` placeholder option
        if negated and name not in ("domain", "from", "to", "method"):
            raise RuleError(f"${name} cannot be negated")
        if name in ("domain", "from"):
            fields["domains"] = _domain_set(value, name)
        elif name == "to":
            fields["to_domains"] = _domain_set(value, name)
        elif name == "denyallow":
            denied = _domain_set(value, name)
            if denied.exclude:
                raise RuleError("$denyallow= takes no ~ negations")
            fields["denyallow"] = denied.include
        elif name == "method":
            fields["methods"] = _method_set(value)
        elif name == "all":
            positive |= ALL_TYPES
        elif name == "important":
            fields["important"] = True
        elif name == "badfilter":
            fields["badfilter"] = True
        elif name == "match-case":
            fields["match_case"] = True
        elif name in _PAGE_OPTIONS:
            fields[_PAGE_OPTIONS[name]] = True
        elif name in ("redirect", "redirect-rule"):
            modifiers += 1
            if not value and not exception:
                raise RuleError(f"${name} needs a resource name")
            fields["redirect" if name == "redirect" else "redirect_rule"] = value.strip()
        elif name == "rewrite":
            if not value.startswith("abp-resource:"):
                raise RuleError("$rewrite= other than abp-resource:", unsupported=True)
            resource = ABP_RESOURCES.get(value[len("abp-resource:") :])
            if resource is None:
                raise RuleError(f"unknown $rewrite resource {value}", unsupported=True)
            modifiers += 1
            fields["redirect"] = resource
        elif name in ("removeparam", "queryprune"):
            modifiers += 1
            if value.startswith("~"):
                raise RuleError("$removeparam=~ (keep-only) is not supported", unsupported=True)
            if value.startswith("/") and not (len(value) > 2 and value.endswith("/")):
                raise RuleError("$removeparam=/regex/ without closing /")
            fields["removeparam"] = value
        elif name == "csp":
            modifiers += 1
            if not value and not exception:
                raise RuleError("$csp needs a policy")
            fields["csp"] = value.strip()
        elif name == "replace":
            modifiers += 1
            if value:
                try:
                    parse_replace_value(value)
                except ReplaceError as e:
                    raise RuleError(str(e)) from None
            elif not exception:
                raise RuleError("$replace needs /regex/replacement/flags")
            fields["replace"] = value
        elif name == "empty":
            modifiers += 1
            fields["redirect"] = "empty"
        elif name == "mp4":
            modifiers += 1
            fields["redirect"] = "noop-1s.mp4"
        elif name in _IGNORED_OPTIONS:
            pass
        elif name in UNSUPPORTED_OPTIONS:
            raise RuleError(f"unsupported option ${name}", unsupported=True)
        else:
            raise RuleError(f"unknown option ${name}")
    if modifiers > 1:
        raise RuleError("more than one of $redirect/$redirect-rule/$removeparam/$csp/$replace")
    fields["types_on"] = positive
    fields["types_off"] = negative
    if party == 0:
        raise RuleError("both $first-party and $third-party excluded")
    fields["party"] = party


def _type_mask(positive: int, negative: int, fields: dict) -> int:
    if positive:
        mask = positive
    elif fields.get("csp") is not None:
        # A CSP belongs to pages: documents and frames.
        mask = DOCUMENT | TYPE_BITS["subdocument"]
    elif fields.get("removeparam") is not None or fields.get("replace") is not None:
        mask = ALL_TYPES & ~POPUP
    elif negative:
        mask = NETWORK_TYPES
    elif any(fields.get(flag) for flag in _PAGE_FLAGS):
        mask = 0  # a page-level switch only: it lets no request through by itself
    else:
        mask = NETWORK_TYPES
        # adblock-rust (and uBO's strict blocking): a bare `||host^` also blocks the page itself.
        if fields.get("host_document"):
            mask |= DOCUMENT
    fields.pop("host_document", None)
    mask &= ~negative
    if mask == 0 and not any(fields.get(flag) for flag in _PAGE_FLAGS):
        raise RuleError("the type options exclude every request type")
    return mask


def _domain_set(value: str, option: str) -> DomainSet:
    normal = normal_domain_list(value, "|")
    if normal is not None:
        return DomainSet(frozenset(normal[0]), frozenset(normal[1]))
    if not value:
        raise RuleError(f"${option}= without a value")
    include = set()
    exclude = set()
    for item in value.split("|"):
        item = item.strip().lower()
        negated = item.startswith("~")
        if negated:
            item = item[1:]
        if item.startswith("/") and item.endswith("/") and len(item) > 1:
            raise RuleError(f"${option}=/regex/ is not supported", unsupported=True)
        item = item.rstrip(".")
        if item.startswith("[") and item.endswith("]"):
            item = item[1:-1]  # an IPv6 address, as hosts are compared without brackets
        if not item.isascii():
            item = _punycode(item)
        if not item or not _DOMAIN_VALUE.match(item):
            raise RuleError(f"bad ${option}= value {item!r}")
        (exclude if negated else include).add(item)
    return DomainSet(frozenset(include), frozenset(exclude))


def _method_set(value: str) -> DomainSet:
    include = set()
    exclude = set()
    for item in value.lower().split("|"):
        negated = item.startswith("~")
        name = item[1:] if negated else item
        if name not in METHODS:
            raise RuleError(f"unknown $method {item!r}")
        (exclude if negated else include).add(name.upper())
    return DomainSet(frozenset(include), frozenset(exclude))


def _punycode(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as e:
        raise RuleError(f"host name cannot be encoded: {host!r}") from e


# --- pattern -------------------------------------------------------------------------------------


def _parse_pattern(pattern: str, match_case: bool, fields: dict) -> None:
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        source = pattern[1:-1]
        _check_regex(source, match_case)
        fields["regex"] = source
        return
    anchor_start = 0
    if pattern.startswith("||"):
        anchor_start = 2
        pattern = pattern[2:]
    elif pattern.startswith("|"):
        anchor_start = 1
        pattern = pattern[1:]
    anchor_end = False
    if pattern.endswith("|") and not pattern.endswith("\\|"):
        anchor_end = True
        pattern = pattern[:-1]
    if "**" in pattern:
        pattern = _STARS.sub("*", pattern)
    # A wildcard next to an anchor undoes it.
    if pattern.startswith("*") and anchor_start == 1:
        anchor_start = 0
    if pattern.endswith("*"):
        anchor_end = False
    if anchor_start != 2:
        pattern = pattern.strip("*")
    else:
        pattern = pattern.rstrip("*")
    if not match_case:
        pattern = pattern.lower()
    if anchor_start == 2:
        _split_host(pattern, anchor_end, fields)
        if not pattern:
            raise RuleError("|| without a host")
    fields["pattern"] = pattern
    fields["anchor_start"] = anchor_start
    fields["anchor_end"] = anchor_end


def _split_host(pattern: str, anchor_end: bool, fields: dict) -> None:
    """Record the host name of a `||host...` rule when it is a plain name followed by a delimiter."""
    if pattern.startswith("["):
        close = pattern.find("]")
        if close < 0:
            return
        # An IPv6 address: requests carry it without brackets.
        host = pattern[1:close].lower()
        rest = pattern[close + 1 :]
    else:
        host = _HOST_PART.match(pattern).group()
        rest = pattern[len(host) :]
        host = host.lower()
    if not host or host.startswith(".") or host.endswith("."):
        return
    if rest and rest[0] not in "^/:?=&;|":
        return  # `||ads*.example.com` and friends: matched as a general pattern
    if not rest and not anchor_end:
        return  # `||example.com` with nothing after: a host-label substring, not a host
    if not host.isascii():
        host = _punycode(host)
    fields["hostname"] = host
    fields["rest"] = rest
    if rest == "^" and not anchor_end:
        fields["host_document"] = True


def _check_regex(source: str, match_case: bool) -> None:
    try:
        compile_regex(source, match_case)
    except ValueError as e:
        raise RuleError(f"regex rejected by RE2: {e}", unsupported=True) from e


# --- tokens --------------------------------------------------------------------------------------


def pattern_tokens(rule: NetworkRule) -> list[str]:
    """Tokens that every URL this rule matches must contain as whole tokens (`[a-z0-9]+` runs)."""
    return rule_keys(rule)[0]


def pattern_bigrams(rule: NetworkRule) -> list[tuple[str, str]]:
    """Pairs (token, start of the next token) that every matching URL contains one after the other.

    `/ads/image/` gives ("ads", "imag"): the URL has the token `ads` followed (across non-token
    characters) by a token starting with `imag`. The second part is cut to `PAIR_PREFIX` chars so
    that a run bounded only on its left (`/ads/vtrack*`) still gives a pair.
    """
    return rule_keys(rule)[1]


PAIR_PREFIX = 4


def rule_keys(rule: NetworkRule) -> tuple[list[str], list[tuple[str, str]]]:
    """`pattern_tokens(rule)` and `pattern_bigrams(rule)`, from one scan of the pattern."""
    if rule.regex is not None:
        return regex_tokens(rule.regex), []
    if rule.hostname is not None:
        # What follows the host; it starts with a delimiter, so its first run is bounded on the left.
        pattern = rule.rest.lower()
        first_left_ok = False
        last_right_ok = rule.anchor_end
    else:
        pattern = rule.pattern.lower()
        first_left_ok = rule.anchor_start != 0
        # `||ads.example` must end at a host label boundary (adblock-rust), so its last run is whole.
        last_right_ok = rule.anchor_end or (rule.anchor_start == 2 and _HOST_PART.fullmatch(pattern) is not None)
    # Token runs at odd positions, each between the text before and after it ('' only at either end).
    parts = _TOKEN_SPLIT(pattern)
    tokens = []
    pairs = []
    last = len(parts) - 2
    previous = None  # the run before, when bounded on both sides
    for i in range(1, len(parts), 2):
        run = parts[i]
        before = parts[i - 1]
        after = parts[i + 1]
        left_ok = before[-1] != "*" if before else first_left_ok
        right_ok = after[0] != "*" if after else last_right_ok
        if left_ok:
            if right_ok:
                tokens.append(run)
            if previous is not None and (right_ok or len(run) >= PAIR_PREFIX):
                pairs.append((previous, run[:PAIR_PREFIX]))
        previous = run if left_ok and right_ok and i < last and "*" not in after else None
    return tokens, pairs


_TOKEN_SPLIT = re.compile(r"([a-z0-9]+)").split


_BOUNDARY = " "  # a literal non-token char: what `^`/`$` assertions and escaped punctuation give


def regex_tokens(source: str) -> list[str]:
    """Tokens a regex requires: literal `[a-z0-9]` runs at top level, bounded by literal non-token chars.

    Deliberately conservative: an alternation at top level, or a quantifier, group, class or `.`
    next to a run makes that run unusable.
    """
    if source.startswith("(?i)"):
        source = source[4:]
    # The top level as a sequence of known single chars, or None where anything could stand.
    items: list[str | None] = []
    depth = 0
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            nxt = source[i + 1] if i + 1 < n else ""
            i += 2
            if nxt in ("x", "u"):
                while i < n and source[i] in "0123456789abcdefABCDEF{}":
                    i += 1
            if depth == 0:
                items.append(None if (not nxt or nxt.isalnum()) else nxt)
            continue
        if c == "[":
            i = _class_end(source, i) + 1
            if depth == 0:
                items.append(None)
            continue
        if c == "(":
            if depth == 0:
                items.append(None)
            depth += 1
            i += 1
            continue
        if c == ")":
            depth = max(0, depth - 1)
            i += 1
            continue
        if depth:
            i += 1
            continue
        if c == "|":
            return []
        if c in "?*+{":
            if items:
                items[-1] = None
            items.append(None)
            if c == "{":
                close = source.find("}", i)
                i = close + 1 if close > 0 else n
            else:
                i += 1
            continue
        items.append(_BOUNDARY if c in "^$" else None if c == "." else c.lower())
        i += 1
    tokens = []
    run: list[str] = []
    bounded_left = False
    for item in items + [None]:
        if item is not None and _TOKEN.fullmatch(item):
            run.append(item)
            continue
        if run and bounded_left and item is not None:
            tokens.append("".join(run))
        run = []
        bounded_left = item is not None
    return tokens


def _class_end(source: str, start: int) -> int:
    i = start + 1
    if i < len(source) and source[i] == "^":
        i += 1
    if i < len(source) and source[i] == "]":
        i += 1
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source[i] == "]":
            return i
        i += 1
    return len(source)
