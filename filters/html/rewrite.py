"""Rewriting a page: find the elements the cosmetic rules select and cut them out of the original bytes.

The page is parsed once with BeautifulSoup and lxml. One walk over the elements collects the
classes, ids, tags and attributes present; only the rules indexed under those are evaluated
(soupsieve, compiled once per process). Matched elements are then located in the source
(`htmlsource`) and their byte ranges deleted from the original body, so everything outside
them stays exactly as the server sent it: nothing is re-serialized. In "hide" mode the matched
elements get a `data-dejunk-hidden` attribute and one `<style>` hides them instead (both
well-formed XML in pages served as `application/xhtml+xml`).

`rewrite_page` never raises because of bad HTML: elements it cannot locate safely are left in
place and counted in `RewriteResult.kept`. It does raise on misuse (an unknown mode, rules whose
generic index is not installed in this process) and on genuine bugs; the caller then delivers
the original response and records a rewrite error.
"""

from __future__ import annotations

import re
import time
import warnings
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

from . import charset
from .inject import Policies, head_point, meta_nonce
from ..cosmetic.rules import HIDE, HTML, CosmeticRule, PageRules, RuleIndex, StoredIndex
from .source import DOCTYPE, DOCUMENT_ELEMENTS, END, PARSER_VOID, START, VOID, SourceMap, Unlocatable, joins_cleanly
from ..cosmetic.selectors import class_list, matches_element, run_steps, select_all, test_matches
from ..cosmetic.live import program as live_program
from ..scriptlets.compose import compose

# The rewriter hands BeautifulSoup text on purpose, and pages that start like XML are still HTML.
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

MODES = ("remove", "hide")
HIDDEN_ATTRIBUTE = "data-dejunk-hidden"
# Two id tests lift the rule above page styles that force ad slots visible (even with !important).
HIDE_STYLE = f"[{HIDDEN_ATTRIBUTE}]:not(#dejunk-a):not(#dejunk-b){{display:none!important}}"
PROTECTED = DOCUMENT_ELEMENTS  # never removed or hidden: that would blank the page

_SURROGATES = re.compile("[\udc80-\udcff]")


@dataclass(slots=True)
class RuleHit:
    """A rule that removed or hid elements on a page, and how many (nested ones included)."""

    rule: str
    list: str
    line: int
    count: int


@dataclass(slots=True)
class RewriteResult:
    """What rewriting one page did. `body` is the original bytes object itself when nothing changed."""

    changed: bool
    body: bytes
    removed: int = 0  # elements cut out (outermost ones; what they contain goes with them)
    hidden: int = 0  # elements hidden ("hide" mode)
    selectors: list[str] = field(default_factory=list)  # texts of the rules that removed or hid something
    bytes_before: int = 0
    bytes_after: int = 0
    encoding: str | None = None  # the WHATWG name of the page's encoding, once detected
    elapsed_ms: float = 0.0
    skipped_reason: str | None = None  # set when the page was not looked at (no rule applies, ...)
    mode: str = "remove"
    matched: int = 0  # elements the rules selected, nested ones included
    kept: dict[str, int] = field(default_factory=dict)  # selected elements left in place, by reason
    rule_hits: list[RuleHit] = field(default_factory=list)
    cuts: list[tuple[int, int]] = field(default_factory=list)  # byte ranges removed, or (offset, offset) insertions
    edited: int = 0  # elements whose attributes or classes were taken off (`:remove-attr()`, `:remove-class()`)
    edits: list[tuple[int, int]] = field(default_factory=list)  # the byte ranges of those start tags replaced
    injected: list[str] = field(default_factory=list)  # what went into the page: "scriptlets", "styles"
    not_injected: list[str] = field(default_factory=list)  # why something was left out (the page's CSP...)
    csp: tuple[str, ...] | None = None  # the page's Content-Security-Policy values to send instead, if changed
    csp_report_only: tuple[str, ...] | None = None  # the same for Content-Security-Policy-Report-Only

    def summary(self) -> str:
        """A one-line description for logs and flow comments ("removed 7 ad elements")."""
        if not self.changed:
            return f"nothing removed ({self.skipped_reason})" if self.skipped_reason else "nothing removed"
        parts = [f"{verb} {count}" for verb, count in (("removed", self.removed), ("hid", self.hidden)) if count]
        total = self.removed + self.hidden
        text = " and ".join(parts) + f" ad element{'s' if total != 1 else ''}" if parts else ""
        if self.edited:
            edited = f"took attributes off {self.edited} element{'s' if self.edited != 1 else ''}"
            text = f"{text}; {edited}" if text else edited
        if self.injected:
            added = " and ".join("the page runtime" if what == "runtime" else what for what in self.injected)
            text = f"{text}; added {added}" if text else f"added {added}"
        return text


class PageTimeout(TimeoutError):
    """The page's time budget ran out before it was rewritten (it goes out as it came)."""


def check_deadline(deadline: float | None) -> None:
    """PageTimeout once `time.monotonic()` is past `deadline` (None: no limit)."""
    if deadline is not None and time.monotonic() > deadline:
        raise PageTimeout("the page's time budget ran out")


# Generic indexes installed in this process, by fingerprint (for process-pool workers).
_INSTALLED: dict[str, RuleIndex] = {}


def install_generic_index(index: RuleIndex) -> None:
    """Make a generic index available to `rewrite_page` calls whose rules carry only its id."""
    # Meant as (part of) a process pool initializer: the index is pickled to each worker once, and
    # `PageRules.without_generic()` then travels with every page.
    _INSTALLED.clear()  # one rule set at a time: a rebuilt engine replaces the old index
    _INSTALLED[index.fingerprint] = index


class _RecordingSoup(BeautifulSoup):
    """BeautifulSoup that also lists its elements in creation order, which is document order."""

    def __init__(self, markup, features, deadline: float | None = None):
        self.deadline = deadline  # a page with a huge number of elements is stopped while it parses
        super().__init__(markup, features)

    def reset(self):
        super().reset()
        self.created = []

    def handle_starttag(self, *args, **kwargs):
        tag = super().handle_starttag(*args, **kwargs)
        if tag is not None:
            self.created.append(tag)
            if not len(self.created) & 1023:
                check_deadline(self.deadline)
        return tag


def parse(text: str, deadline: float | None = None) -> _RecordingSoup:
    """Parse page text with lxml; `.created` lists the elements in document order."""
    return _RecordingSoup(text, "lxml", deadline)


def rewrite_page(
    body: bytes,
    *,
    url: str,
    content_type: str | None,
    rules: PageRules,
    mode: str = "remove",
    deadline: float | None = None,
    csp: tuple[str, ...] = (),
    csp_report_only: tuple[str, ...] = (),
) -> RewriteResult:
    """Remove (or hide) the elements `rules` select from an HTML page given as decoded-from-transfer bytes."""
    # `content_type` is the response's Content-Type (its charset is used); the output keeps the page's encoding.
    # When nothing is removed the result's body is `body` itself. Past `deadline` (time.monotonic()) the
    # work stops with PageTimeout, checked between steps and every so many elements. The page's scriptlets and
    # styles go at the start of its head, allowed by its Content-Security-Policy values `csp` (and
    # `csp_report_only`), which the result gives back changed when they had to be.
    started = time.perf_counter()
    if mode not in MODES:
        raise ValueError(f"unknown cosmetic mode {mode!r} (expected one of {', '.join(MODES)})")
    generic = _generic_index(rules)
    reason = _reason_to_skip(body, rules, generic, content_type)
    if reason is not None:
        return _unchanged(body, started, mode, reason)
    encoding, decoded, clean = charset.decode_page(body, content_type)
    if encoding.stateful:
        return _unchanged(body, started, mode, f"{encoding.name} pages are not rewritten", encoding.name)
    # `decoded` keeps undecodable bytes as lone surrogates, so offsets map back to bytes exactly;
    # lxml takes no lone surrogates, so the parser gets U+FFFD for each (one character each way).
    text = decoded if clean else _SURROGATES.sub("\ufffd", decoded)
    check_deadline(deadline)
    xml = (content_type or "").partition(";")[0].strip().lower() == XHTML_TYPE
    policies = Policies(csp, csp_report_only, xml=xml)
    injection = _injection(text, rules, policies) if rules.injects else None
    indexes = _indexes(rules, generic)
    if indexes:
        soup = parse(text, deadline)
        elements = soup.created
        matches = find_matches(elements, indexes, deadline)
    else:
        elements, matches = [], []
    if not matches and not injection:
        return _unchanged(body, started, mode, None, encoding.name, not_injected=policies.left_out)
    check_deadline(deadline)
    return _apply(body, text, decoded, encoding, elements, matches, mode, started, clean, xml, deadline,
                  injection, policies)


def inject_page(body: bytes, *, content_type: str | None, rules: PageRules, csp: tuple[str, ...] = (),
                csp_report_only: tuple[str, ...] = ()) -> RewriteResult:
    """Only put the page's scriptlets and styles in, finding its head in its first bytes: for a page too large
    to rewrite whole. Unchanged where its encoding is not ASCII-compatible (UTF-16, ISO-2022...)."""
    started = time.perf_counter()
    prefix = body[:_INJECT_PREFIX]
    encoding = charset.detect(prefix, content_type)
    if encoding.stateful or encoding.name.startswith("UTF-16") or not rules.injects:
        return _unchanged(body, started, "remove", f"{encoding.name} pages get nothing added", encoding.name)
    xml = (content_type or "").partition(";")[0].strip().lower() == XHTML_TYPE
    policies = Policies(csp, csp_report_only, xml=xml)
    # Latin-1 maps each byte to one character, and in these encodings no byte of a multi-byte
    # character is a `<`: tags are found at their byte offsets.
    injection = _injection(prefix.decode("latin-1"), rules, policies)
    if injection is None:
        return _unchanged(body, started, "remove", None, encoding.name, not_injected=policies.left_out)
    point, markup, what = injection
    new_body = body[:point] + markup.encode("ascii") + body[point:]
    return RewriteResult(
        changed=True, body=new_body, bytes_before=len(body), bytes_after=len(new_body), encoding=encoding.name,
        elapsed_ms=(time.perf_counter() - started) * 1000, cuts=[(point, point)], injected=what,
        not_injected=policies.left_out, csp=tuple(policies.enforced) if policies.changed else None,
        csp_report_only=tuple(policies.report_only) if policies.changed else None,
    )


_INJECT_PREFIX = 65536


def _injection(text: str, rules: PageRules, policies: Policies) -> tuple[int, str, list[str]] | None:
    """(where, markup, what) to put at the start of the page's head for its scriptlets and styles; None if nothing."""
    point = head_point(text)
    policies.page_nonce = meta_nonce(text, point)
    markup, what = [], []
    script = page_script(rules)
    if script:
        element = policies.element("script", script)
        if element:
            markup.append(element)
            what.append("scriptlets" if rules.scriptlets else "runtime")
    if rules.styles:
        element = policies.element("style", css_ascii("".join(rules.styles)))
        if element:
            markup.append(element)
            what.append("styles")
    return (point, "".join(markup), what) if markup else None


def page_script(rules: PageRules) -> str:
    """The one script a page gets: its scriptlets, then the runtime for its procedural rules ('' if neither)."""
    return "\n".join(part for part in (compose(rules.scriptlets), live_program(rules.live)) if part)


def css_ascii(css: str) -> str:
    """CSS with characters outside ASCII as CSS escapes: it goes into pages of any encoding."""
    if css.isascii():
        return css
    return "".join(c if ord(c) < 128 else f"\\{ord(c):x} " for c in css)


def _generic_index(rules: PageRules) -> RuleIndex | None:
    generic = rules.generic
    if generic is not None and not isinstance(generic, StoredIndex):
        return generic
    if rules.generic_id is None:
        return None
    index = _INSTALLED.get(rules.generic_id)
    if index is None:
        if generic is None:
            raise LookupError(f"generic index {rules.generic_id} is not installed in this process")
        index = generic.load()  # kept on disk for page workers; here a page is rewritten in-process
        install_generic_index(index)
    return index


XHTML_TYPE = "application/xhtml+xml"  # parsed by browsers as XML: what dejunk adds must be well-formed
HTML_TYPES = frozenset({"text/html", XHTML_TYPE})


def skip_reason(body: bytes, rules: PageRules, content_type: str | None) -> str | None:
    """Why `rewrite_page` would not parse this page at all, or None: cheap, for the caller's process."""
    return _reason_to_skip(body, rules, rules.generic, content_type)


def _reason_to_skip(body: bytes, rules: PageRules, generic: RuleIndex | None, content_type: str | None) -> str | None:
    """Why the page need not be parsed at all, or None."""
    mime = (content_type or "").partition(";")[0].strip().lower()
    if mime and mime not in HTML_TYPES:
        return f"not HTML ({mime})"
    if rules.elemhide:
        return "$elemhide exception"
    if not rules.specific and (generic is None or len(generic) == len(rules.disabled)) and not rules.injects:
        return "no cosmetic rule applies" + (" ($generichide)" if rules.generichide else "")
    if not body:
        return "empty body"
    if b"<" not in body and b"<\x00" not in body and b"\x00<" not in body:
        return "no markup"
    return None


def _unchanged(body: bytes, started: float, mode: str, reason: str | None, encoding: str | None = None, **extra) -> RewriteResult:
    return RewriteResult(
        changed=False,
        body=body,
        bytes_before=len(body),
        bytes_after=len(body),
        encoding=encoding,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        skipped_reason=reason,
        mode=mode,
        **extra,
    )


def _indexes(rules: PageRules, generic: RuleIndex | None) -> list[tuple[RuleIndex, frozenset]]:
    indexes = []
    disabled = rules.disabled
    if generic is not None and rules.without:  # rules switched off by place (a subset being tried)
        disabled = disabled | generic.numbers_at(rules.without)
    if generic is not None and len(generic) > len(disabled):
        indexes.append((generic, disabled))
    # Rules only the page runtime can evaluate (`:matches-css()`) are left to it.
    specific = [rule for rule in rules.specific if rule.plan.server]
    if specific:
        indexes.append((RuleIndex(specific), frozenset()))
    return indexes


# --- matching ---------------------------------------------------------------------------------------


def find_matches(elements: list, indexes: list[tuple[RuleIndex, frozenset]],
                 deadline: float | None = None) -> list[tuple[CosmeticRule, list]]:
    """The fast path: (rule, elements it selects) for every rule that selects something."""
    # One walk over the elements collects what they carry; each index is then asked only for the rules keyed
    # under those classes, ids, tags and attributes, and only those rules' CSS is evaluated, only on the
    # elements that carry their key (and only if the page has everything else the selector needs: its `gate`).
    wanted_tags: set[str] = set()
    wanted_attributes: set[str] = set()
    for index, _ in indexes:
        wanted_tags.update(index.by_tag)
        wanted_attributes.update(index.by_attribute)
        wanted_attributes.update(index.gate_attributes)
    classes: dict[str, list] = {}
    ids: dict[str, list] = {}
    tags: dict[str, list] = {}
    attributes: dict[str, list] = {}
    for element in elements:
        if element.name in wanted_tags:
            tags.setdefault(element.name, []).append(element)
        attrs = element.attrs
        if not attrs:
            continue
        names = attrs.get("class")
        if names:
            if isinstance(names, str):
                names = class_list(element)
            for name in names:
                found = classes.get(name)
                if found is None:
                    classes[name] = [element]
                elif found[-1] is not element:  # `class="ad ad"`
                    found.append(element)
        identifier = attrs.get("id")
        if identifier is not None:
            found = ids.get(identifier)
            if found is None:
                ids[identifier] = [element]
            else:
                found.append(element)
        if not wanted_attributes.isdisjoint(attrs):
            for name in attrs:
                if name in wanted_attributes:
                    found = attributes.get(name)
                    if found is None:
                        attributes[name] = [element]
                    else:
                        found.append(element)
    page = _Page(classes, ids, attributes)
    results: list[tuple[CosmeticRule, list]] = []
    root = None

    def tick() -> None:
        check_deadline(deadline)

    for index, disabled in indexes:
        check_deadline(deadline)
        candidates = _candidates(index, disabled, elements, page, tags)
        for number in sorted(candidates):
            check_deadline(deadline)
            rule = index.rules[number]
            plan = rule.plan
            if not plan.simple and not page.has_all(plan.gate):
                continue
            found = _unique(candidates[number])
            if len(found) > _SELECT_ABOVE and not plan.simple:
                # soupsieve prepares a matcher per match() call (walking up to the root each time):
                # for many candidates one select() over the page is cheaper, and selects the same.
                if root is None:
                    root = _root(elements[0])
                wanted = {id(e) for e in found}
                found = [e for e in select_all(plan, root) if id(e) in wanted]
            else:
                found = [e for e in found if matches_element(plan, e)]
            if found and plan.steps:
                found = run_steps(plan, found, tick)
            found = _outside_templates(found, deadline)
            if found:
                results.append((rule, found))
    return results


_SELECT_ABOVE = 150


def _root(element):
    while element.parent is not None:
        element = element.parent
    return element


class _Page:
    """What one walk over a page found: elements by class, id and attribute."""

    __slots__ = ("classes", "ids", "attributes", "_values", "_texts")

    def __init__(self, classes, ids, attributes):
        self.classes = classes
        self.ids = ids
        self.attributes = attributes
        self._values: dict[str, list[str]] = {}
        self._texts: dict[str, tuple[str, list[int]]] = {}

    def values(self, name: str) -> list[str]:
        """The values of an attribute, one per element in `attributes[name]`, as soupsieve reads them."""
        found = self._values.get(name)
        if found is None:
            found = []
            for element in self.attributes.get(name, ()):
                value = element.attrs[name]
                found.append(value if isinstance(value, str) else " ".join(value))
            self._values[name] = found
        return found

    def text(self, name: str) -> str:
        """All values of an attribute in one lower-case string (NUL-separated: no parsed value contains NUL)."""
        return self._joined(name)[0]

    def owner(self, name: str, offset: int) -> int:
        """Which value (position in `values(name)`) an offset in `text(name)` falls in."""
        return bisect_right(self._joined(name)[1], offset) - 1

    def _joined(self, name: str) -> tuple[str, list[int]]:
        found = self._texts.get(name)
        if found is None:
            lowered = [value.lower() for value in self.values(name)]
            starts = []
            position = 0
            for value in lowered:
                starts.append(position)
                position += len(value) + 1
            found = self._texts[name] = ("\0".join(lowered), starts)
        return found

    def has_all(self, gate) -> bool:
        for token in gate:
            kind = token[0]
            if kind == ".":
                if token[1:] not in self.classes:
                    return False
            elif kind == "#":
                if token[1:] not in self.ids:
                    return False
            else:
                name, _, literal = token[1:].partition("\0")
                if name not in self.attributes or literal not in self.text(name):
                    return False
        return True


def _candidates(index: RuleIndex, disabled, elements, page: _Page, tags) -> dict[int, list]:
    candidates: dict[int, list] = {}

    def add(numbers, found) -> None:
        for number in numbers:
            if number not in disabled:
                candidates.setdefault(number, []).extend(found)

    by_class = index.by_class
    for name, found in page.classes.items():
        numbers = by_class.get(name)
        if numbers:
            add(numbers, found)
    by_id = index.by_id
    for value, found in page.ids.items():
        numbers = by_id.get(value)
        if numbers:
            add(numbers, found)
    for name, numbers in index.by_tag.items():
        found = tags.get(name)
        if found:
            add(numbers, found)
    for name in index.by_attribute:
        found = page.attributes.get(name)
        if not found:
            continue
        values = page.values(name)
        finder, by_literal, unfiltered = index.attribute_prefilter(name)
        for number, pattern, flags, lower, _ in unfiltered:
            if number in disabled:
                continue
            for element, value in zip(found, values):
                if pattern is None or _regex(pattern, flags).search(_ascii_lower(value) if lower else value):
                    candidates.setdefault(number, []).append(element)
        if finder is None:
            continue
        # One scan over all values finds the elements whose value holds some rule's literal.
        text = page.text(name)
        hits = {page.owner(name, hit.start()) for hit in finder.finditer(text)}
        for position in sorted(hits):
            element, value = found[position], values[position]
            lowered = value.lower()
            for literal, entries in by_literal.items():
                if literal not in lowered:
                    continue
                for number, pattern, flags, lower, _ in entries:
                    if number not in disabled and _regex(pattern, flags).search(_ascii_lower(value) if lower else value):
                        candidates.setdefault(number, []).append(element)
    if index.anywhere:
        add(index.anywhere, elements)
    return candidates


_REGEXES: dict[tuple[str, int], re.Pattern] = {}


def _regex(pattern: str, flags: int) -> re.Pattern:
    compiled = _REGEXES.get((pattern, flags))
    if compiled is None:
        if len(_REGEXES) > 20000:
            _REGEXES.clear()
        compiled = _REGEXES[(pattern, flags)] = re.compile(pattern, flags)
    return compiled


_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_ASCII_UPPER)


def _unique(found: list) -> list:
    if len(found) < 2:
        return found
    seen: set[int] = set()
    result = []
    for element in found:
        if id(element) not in seen:
            seen.add(id(element))
            result.append(element)
    return result


def _outside_templates(found: list, deadline: float | None) -> list:
    # Each test walks up to the root: on a deeply nested page that is slow, so time is checked on the way.
    kept = []
    for checked, element in enumerate(found):
        if not checked & 255:
            check_deadline(deadline)
        if not _in_template(element):
            kept.append(element)
    return kept


def _in_template(element) -> bool:
    """Template contents are not part of the document (soupsieve's select() does not enter them)."""
    parent = element.parent
    while parent is not None:
        if parent.name == "template":
            return True
        parent = parent.parent
    return False


def reference_matches(soup, rules: PageRules, generic: RuleIndex | None = None, page_text: str | None = None) -> list[tuple[CosmeticRule, list]]:
    """The slow reference: every applicable rule's CSS run by soupsieve over the whole page, no index."""
    # Used by the differential tests; it must select exactly what `find_matches` selects. With `page_text` (the
    # page's text with character references decoded), a lone `.class` or `#id` whose name does not occur in that
    # text is skipped: no element can carry it.
    generic = generic if generic is not None else _generic_index(rules)
    applicable: list[CosmeticRule] = []
    if generic is not None:
        applicable.extend(rule for number, rule in enumerate(generic.rules) if number not in rules.disabled)
    applicable.extend(rule for rule in rules.specific if rule.plan.server)
    results = []
    for rule in applicable:
        if page_text is not None and rule.plan.simple and rule.plan.element_keys[0][1] not in page_text:
            continue
        found = select_all(rule.plan, soup)
        if found and rule.plan.steps:
            found = run_steps(rule.plan, found)
        if found:
            results.append((rule, found))
    return results


# --- rewriting ---------------------------------------------------------------------------------------


def _apply(body, text, decoded, encoding, elements, matches, mode, started, clean=False, xml=False,
           deadline=None, injection=None, policies=None) -> RewriteResult:
    """Cut (or mark) the matched elements, add `injection`, and build the result (`xml`: the page is XHTML served as XML)."""
    # `text` is what was parsed; `decoded` has the same characters but undecodable bytes still escaped as
    # lone surrogates, so byte offsets are computed from it.
    position_of = {id(element): number for number, element in enumerate(elements)}
    rules_of: dict[int, list[CosmeticRule]] = {}  # rules that remove or hide the element
    edits_of: dict[int, list[CosmeticRule]] = {}  # `:remove-attr()`/`:remove-class()` rules, which keep it
    for rule, found in matches:
        chosen = edits_of if rule.plan.edit is not None else rules_of
        for element in found:
            number = position_of.get(id(element))
            if number is not None:
                chosen.setdefault(number, []).append(rule)
    matched = len(rules_of.keys() | edits_of.keys())
    source = SourceMap(text, elements) if elements else None
    check_deadline(deadline)
    kept: Counter = Counter()
    removing: list[tuple[int, int, int]] = []  # (element number, start, end) in characters
    hiding: list[tuple[int, int]] = []  # (element number, where the attribute goes)
    removed_until = hidden_until = -1  # elements before these creation numbers are inside a chosen one
    for number in sorted(rules_of):
        check_deadline(deadline)  # locating one element of a deeply nested page can take milliseconds
        if number < removed_until:
            continue  # inside an element already removed: goes with it
        # HTML filters and `:remove()` remove even in hide mode: a hidden script still runs. What `:others()`
        # selects is hidden even in remove mode, as uBO hides it: it is most of the page, scripts included.
        chosen = rules_of[number]
        remove = any(rule.kind == HTML or rule.plan.remove for rule in chosen) or (
            mode == "remove" and not all(rule.plan.hide_only for rule in chosen))
        if not remove and number < hidden_until:
            continue  # inside an element already hidden: hidden with it
        element = elements[number]
        if element.name in PROTECTED:
            kept[f"<{element.name}> is never removed"] += 1
            continue
        try:
            if remove:
                span = source.locate(number)
                if not joins_cleanly(text, span.start, span.end):
                    raise Unlocatable("cutting it would join the markup around it")
                removing.append((number, span.start, span.end))
            else:
                hiding.append((number, _hide_point(source, number)))
        except Unlocatable as why:
            kept[str(why)] += 1
            continue
        if element.name not in VOID or element.name in PARSER_VOID:
            # (Browsers give <embed>, <source>... no content; what the parser nested in them is not theirs.)
            if remove:
                removed_until = source.subtree_end[number]
            else:
                hidden_until = source.subtree_end[number]
    removing = _drop_bad_junctions(text, removing, kept)
    attribute_edits, edited = _attribute_edits(source, edits_of, removing, kept, xml, deadline)
    not_injected = policies.left_out if policies is not None else []
    if not removing and not hiding and not attribute_edits and not injection:
        return _unchanged(body, started, mode, None, encoding.name, matched=matched, kept=dict(kept),
                          not_injected=not_injected)
    hits = _hits([number for number, _, _ in removing] + [number for number, _ in hiding], source, rules_of)
    hits.extend(_edit_hits(edited))
    # (start, end, new text, kind): "cut" removes an element, "insert" adds text, "attributes" rewrites a start
    # tag's attributes.
    edits: list[tuple[int, int, str, str]] = [(start, end, "", "cut") for _, start, end in removing]
    edits.extend((start, end, new, "attributes") for start, end, new in attribute_edits)
    if hiding:
        # XML has no attribute without a value, and the style's text is parsed as XML text there.
        marker = f' {HIDDEN_ATTRIBUTE}=""' if xml else f" {HIDDEN_ATTRIBUTE}"
        style = _hide_style(matches, hits, xml, policies)
        if style:
            edits.extend((point, point, marker, "insert") for _, point in hiding)
            style_at = _style_point(source)
            edits.append((style_at, style_at, style, "insert"))
        else:  # the page's CSP allows no style of ours: the marked elements would stay visible, so none is marked
            kept["the page's Content-Security-Policy allows no hiding style"] += len(hiding)
            hiding = []
            hits = _hits([number for number, _, _ in removing], source, rules_of) + _edit_hits(edited)
    if injection:
        point, markup, _what = injection
        edits.append((point, point, markup, "insert"))
    if not edits:
        return _unchanged(body, started, mode, None, encoding.name, matched=matched, kept=dict(kept),
                          not_injected=not_injected)
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    offsets = charset.ByteOffsets(decoded, encoding)
    pieces: list[bytes] = []
    cuts: list[tuple[int, int]] = []
    edit_ranges: list[tuple[int, int]] = []
    previous = 0
    for start, end, new, kind in edits:
        byte_start = offsets(start)
        byte_end = offsets(end) if end != start else byte_start
        if byte_start < previous:
            raise AssertionError(f"edits overlap at byte {byte_start}")
        if kind == "cut":
            _check_cut(body, byte_start, byte_end, encoding)
        pieces.append(body[previous:byte_start])
        pieces.append(new.encode(encoding.codec))
        (edit_ranges if kind == "attributes" else cuts).append((byte_start, byte_end))
        previous = byte_end
    # A strict decode with a codec that maps bytes one-to-one cannot drift; anything else is checked.
    if not (clean and charset.round_trips(encoding)) and offsets(len(decoded)) != len(body):
        raise AssertionError("decoded text does not map back onto the body's bytes")
    pieces.append(body[previous:])
    new_body = b"".join(pieces)
    return RewriteResult(
        changed=True,
        body=new_body,
        removed=len(removing),
        hidden=len(hiding),
        selectors=[hit.rule for hit in hits],
        bytes_before=len(body),
        bytes_after=len(new_body),
        encoding=encoding.name,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        mode=mode,
        matched=matched,
        kept=dict(kept),
        rule_hits=hits,
        cuts=cuts,
        edited=len(edited),
        edits=edit_ranges,
        injected=injection[2] if injection else [],
        not_injected=not_injected,
        csp=tuple(policies.enforced) if policies is not None and policies.changed else None,
        csp_report_only=tuple(policies.report_only) if policies is not None and policies.changed else None,
    )


def _attribute_edits(source: SourceMap, edits_of: dict, removing: list, kept: Counter, xml: bool,
                     deadline: float | None) -> tuple[list[tuple[int, int, str]], dict[int, list]]:
    """The start-tag rewrites `:remove-attr()`/`:remove-class()` rules ask for, and the elements edited (with rules)."""
    # Elements going with a removed one are left alone; an element whose start tag is not found is kept as it is.
    gone: set[int] = set()
    for number, _, _ in removing:
        name = source.elements[number].name
        gone.update(range(number, source.subtree_end[number] if name not in VOID or name in PARSER_VOID else number + 1))
    found: list[tuple[int, int, str]] = []
    edited: dict[int, list] = {}
    for number in sorted(edits_of):
        check_deadline(deadline)
        if number in gone:
            continue
        try:
            token = source.start_tag(number)
        except Unlocatable as why:
            kept[f"attributes not edited: {why}"] += 1
            continue
        rewrites, used = _start_tag_edits(source.tokens, token, edits_of[number], xml)
        if rewrites:
            found.extend(rewrites)
            edited[number] = used
    return found, edited


_TAG_GOES_ON = frozenset("\t\n\f\r />")


def _start_tag_edits(tokens, token: int, rules: list, xml: bool) -> tuple[list[tuple[int, int, str]], list]:
    """Rewrites of one start tag: the attributes the rules name dropped (every copy), classes taken out of the first
    `class` (the one browsers read), and the rules that changed something."""
    text = tokens.text
    spans = tokens.attribute_spans(token)
    dropped: set[str] = set()
    class_tests = []
    used = []
    for rule in rules:
        kind, test = rule.plan.edit
        if kind == "attr":
            names = {span.name for span in spans if test_matches(test, span.name, True)}
            if names:
                dropped |= names
                used.append(rule)
        else:
            class_tests.append((rule, test))
    rewrites = []
    for span in spans:
        if span.name in dropped:
            # A space stays where the next attribute would otherwise touch what came before.
            rewrites.append((span.start, span.end, "" if text[span.end : span.end + 1] in _TAG_GOES_ON else " "))
    classes = next((span for span in spans if span.name == "class"), None)
    if classes is not None and "class" not in dropped and classes.value_start >= 0 and class_tests:
        names = tokens.attributes(token).get("class", "").split()
        left = [name for name in names if not any(test_matches(test, name, True) for _, test in class_tests)]
        if len(left) != len(names):
            used.extend(rule for rule, test in class_tests if any(test_matches(test, name, True) for name in names))
            value = " ".join(left).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            rewrites.append((classes.value_start, classes.value_end, f'"{value}"'))
    return rewrites, used


def _edit_hits(edited: dict[int, list]) -> list[RuleHit]:
    """Per edit rule, how many elements it changed."""
    counts: Counter = Counter()
    by_text: dict[str, CosmeticRule] = {}
    for rules in edited.values():
        for rule in rules:
            counts[rule.text] += 1
            by_text.setdefault(rule.text, rule)
    return [RuleHit(text, by_text[text].list, by_text[text].line, count) for text, count in counts.most_common()]


def _hide_point(source: SourceMap, number: int) -> int:
    """Where the hiding attribute goes in an element's start tag (checked like a removal's start)."""
    token = source.start_tag(number)
    tokens = source.tokens
    name = tokens.names[token]
    if tokens.self_closing[token] and name not in VOID and not {"svg", "math"} & set(source.ancestors(number)):
        raise Unlocatable(f"<{name}/>: browsers keep it open, the parser closed it")
    return tokens.attribute_insert_point(token)


def _drop_bad_junctions(text: str, chosen: list, kept: Counter) -> list:
    """Adjacent cuts join as one: check each run of them again and give up the last one if needed."""
    result = list(chosen)
    for _ in range(len(chosen)):
        problem = None
        run_start = 0
        for position in range(1, len(result) + 1):
            if position < len(result) and result[position][1] == result[position - 1][2]:
                continue
            if position - run_start > 1 and not joins_cleanly(text, result[run_start][1], result[position - 1][2]):
                problem = position - 1
                break
            run_start = position
        if problem is None:
            return result
        kept["cutting it would join the markup around it"] += 1
        del result[problem]
    return result


def _check_cut(body: bytes, start: int, end: int, encoding: charset.PageEncoding) -> None:
    """A cut must start at a `<` and end after a `>`, before a `<` or at the end (a guard on offset mapping)."""
    less = "<".encode(encoding.codec)
    greater = ">".encode(encoding.codec)
    width = len(less)
    if body[start : start + width] != less:
        raise AssertionError(f"cut at byte {start} does not start at '<'")
    if end < len(body) and body[end - width : end] != greater and body[end : end + width] != less:
        raise AssertionError(f"cut at byte {end} does not end at a tag boundary")


def _hits(chosen: list[int], source: SourceMap, rules_of) -> list[RuleHit]:
    """Count, per rule, the matched elements that went or were hidden: the chosen ones and any inside them."""
    covered: set[int] = set()
    for number in chosen:
        name = source.elements[number].name
        last = source.subtree_end[number] if name not in VOID or name in PARSER_VOID else number + 1
        covered.update(range(number, last))
    counts: Counter = Counter()
    rule_by_text: dict[str, CosmeticRule] = {}
    for number in sorted(covered):
        for rule in rules_of.get(number, ()):
            counts[rule.text] += 1
            rule_by_text.setdefault(rule.text, rule)
    return [RuleHit(text, rule_by_text[text].list, rule_by_text[text].line, count) for text, count in counts.most_common()]


def _style_point(source: SourceMap) -> int:
    """Where the hiding `<style>` goes: at the end of <head> if it is written out, else as early as allowed."""
    tokens = source.tokens
    kinds, names = tokens.kinds, tokens.names
    first_start = {}
    for token in range(len(kinds)):
        if kinds[token] == END and names[token] == "head":
            return tokens.starts[token]
        if kinds[token] == START and names[token] in ("head", "body", "html") and names[token] not in first_start:
            first_start[names[token]] = token
    if "head" in first_start:
        return tokens.ends[first_start["head"]]
    if "body" in first_start:
        return tokens.starts[first_start["body"]]
    if "html" in first_start:
        return tokens.ends[first_start["html"]]
    # No document tags written out: after a leading doctype, or at the very start.
    for token in range(len(kinds)):
        if kinds[token] == DOCTYPE:
            return tokens.ends[token]
        if kinds[token] == START:
            break
    return 0


def _hide_style(matches, hits, xml: bool = False, policies: Policies | None = None) -> str:
    """One `<style>`: the attribute rule plus the plain-CSS selectors of the rules used (XML-escaped for XHTML)."""
    # The selectors also hide elements a script inserts again later; each gets its own rule, so that one
    # a browser rejects costs only itself.
    used = {hit.rule for hit in hits}
    extra = []
    for rule, _found in matches:
        if rule.text in used and rule.kind == HIDE and not rule.plan.remove and rule.plan.plain_css and "<" not in rule.plan.css:
            extra.append(f"{rule.plan.css}{{display:none!important}}")
    css = HIDE_STYLE + "".join(extra)
    if policies is not None:  # (escaped for XHTML, a nonce or hash where the page's CSP asks for one)
        return policies.element("style", css_ascii(css), ' id="dejunk-hide"')
    if xml:  # the XML parser turns the entities back into the characters the CSS parser needs
        css = css.replace("&", "&amp;").replace("<", "&lt;")
    return '<style id="dejunk-hide">' + css + "</style>"
