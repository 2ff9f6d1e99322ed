"""`##^responseheader(name)` rules: response headers removed from the documents of a site.

uBlock Origin's response header filtering, read from the lists' cosmetic lines (the cosmetic store
leaves these lines to this module). `example.com##^responseheader(set-cookie)` removes that header
from the responses to the site's documents (pages and frames), before the body; exceptions are
`example.com#@#^responseheader(set-cookie)`, a generic `#@#^responseheader(set-cookie)`, and
`example.com#@#^responseheader()` for every header on a site. As uBO does, lists may remove only
the headers in `ALLOWED_HEADERS`, and a removal must name its sites: any other line is a bad line
(counted, and kept with its list and line number).

    rules = ResponseHeaderRules.from_lists(filter_lists)
    rules.removals("https://example.com/page")  # -> (HeaderRemoval("set-cookie", rule, list, line),)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..lists.syntax import BadLine, FilterList
from ..request import host_of
from .selectors import SelectorError, Unsupported
from .rules import applies, domain_names, parse_domains

# The headers uBO lets a list remove (its documentation: redirects, refreshes, reporting, cookies).
ALLOWED_HEADERS = frozenset({"location", "refresh", "report-to", "set-cookie"})

# `##^responseheader(` or `#@#^responseheader(`: how the cosmetic store tells these lines apart.
HEADER_RULE = re.compile(r"#@?#\^responseheader\(")
_FORM = re.compile(r"^(?P<domains>[^#]*)#(?P<at>@?)#\^responseheader\((?P<name>[^()]*)\)\s*$")
_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]*")  # an HTTP field name (a token), lower-cased


@dataclass(frozen=True, slots=True)
class HeaderRule:
    """One `responseheader()` line; `name` is '' for an exception naming every header."""

    text: str
    list: str
    line: int
    name: str
    exception: bool
    domains: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    number: int = 0  # position among the rules of all lists: removals come in list order


@dataclass(frozen=True, slots=True)
class HeaderRemoval:
    """A header to remove from one response, and the rule that says so."""

    name: str
    rule: str
    list: str
    line: int


class HeaderRuleError(ValueError):
    """A `responseheader()` line uBO would refuse."""


def parse_header_rule(text: str, list_name: str = "inline", line: int = 0, number: int = 0) -> HeaderRule:
    """Parse one `responseheader()` line. HeaderRuleError for a bad one."""
    form = _FORM.match(text.strip())
    if form is None:
        raise HeaderRuleError("not a responseheader(name) filter")
    exception = form.group("at") == "@"
    name = form.group("name").strip().lower()
    if not _NAME.fullmatch(name):
        raise HeaderRuleError(f"responseheader({name}): not a header name")
    try:
        domains, excluded = parse_domains(form.group("domains").strip())
    except (Unsupported, SelectorError) as e:
        raise HeaderRuleError(f"responseheader(): {e}") from None
    if not exception:
        if not name:
            raise HeaderRuleError("responseheader() names no header")
        if name not in ALLOWED_HEADERS:
            raise HeaderRuleError(f"responseheader({name}): lists may remove only {', '.join(sorted(ALLOWED_HEADERS))}")
        if not domains:
            raise HeaderRuleError("responseheader() must name the sites it applies to")
    return HeaderRule(text.strip(), list_name, line, name, exception, domains, excluded, number)


class ResponseHeaderRules:
    """The `responseheader()` rules of a set of lists, by domain; immutable once built."""

    def __init__(self) -> None:
        self.by_domain: dict[str, tuple[HeaderRule, ...]] = {}  # "" holds the generic exceptions
        self.skipped: Counter = Counter()
        self.bad_lines: list[BadLine] = []
        self.rule_count = 0

    @classmethod
    def from_lists(cls, filter_lists: Iterable[FilterList]) -> ResponseHeaderRules:
        rules = cls()
        by_domain: dict[str, list[HeaderRule]] = {}
        for filter_list in filter_lists:
            for line_no, text in [entry for entry in filter_list.cosmetic if "^responseheader(" in entry[1]]:
                if not HEADER_RULE.search(text):
                    continue
                try:
                    rule = parse_header_rule(text, filter_list.name, line_no, rules.rule_count)
                except HeaderRuleError as e:
                    rules.skipped["bad responseheader() rule"] += 1
                    rules.bad_lines.append(BadLine(filter_list.name, line_no, text, str(e)))
                    continue
                for domain in rule.domains or ("",):
                    by_domain.setdefault(domain, []).append(rule)
                rules.rule_count += 1
        rules.by_domain = {domain: tuple(found) for domain, found in by_domain.items()}
        return rules

    def __len__(self) -> int:
        return self.rule_count

    def removals(self, url: str) -> tuple[HeaderRemoval, ...]:
        """The headers to remove from the response to the document at `url`, in list order."""
        if not self.by_domain:
            return ()
        host = host_of(url)
        if not host:
            return ()
        names = domain_names(host)
        found: dict[int, HeaderRule] = {}
        for domain in ("", *names):
            for rule in self.by_domain.get(domain, ()):
                if id(rule) not in found and applies(rule.domains, rule.excluded, host, names):
                    found[id(rule)] = rule
        excepted = {rule.name for rule in found.values() if rule.exception}
        if "" in excepted:
            return ()
        removals: dict[str, HeaderRemoval] = {}
        for rule in sorted(found.values(), key=lambda r: r.number):
            if not rule.exception and rule.name not in excepted and rule.name not in removals:
                removals[rule.name] = HeaderRemoval(rule.name, rule.text, rule.list, rule.line)
        return tuple(removals.values())
