"""Cosmetic selectors: procedural filters translated for soupsieve, their index keys, and evaluation.

A selector becomes a `Plan`: a CSS selector soupsieve evaluates (uBO's `:has-text(text)` turned
into `:-soup-contains()`, `:-abp-has()` into `:has()`...) followed by steps soupsieve cannot
express (`:has-text(/regex/)`, `:upward()`, `:min-text-length()`, AdGuard's `tag-content`...).
Plans are plain picklable data; compiled soupsieve objects live in a per-process cache.

Index keys come from soupsieve's own parse of the CSS (so escapes and case rules are exactly
soupsieve's), or, for the plain selectors most lines hold, from `plain`, which reads them the same
way without soupsieve: an element can only match if it carries the key (`element_keys`), and a page
can only match if it contains every class and id the selector requires (`gate`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import re2
import soupsieve
from lxml import etree
from bs4.element import Comment, Declaration, Doctype, NavigableString, PreformattedString, ProcessingInstruction, Tag

from . import plain
from .plain import attribute_literal

# soupsieve's strict mode rejects valid CSS such as `:has(> .a .b)`; browsers accept it.
SOUPSIEVE_FLAGS = soupsieve.NOSTRICT

_SIMPLE = re.compile(r"([.#])(-?[_a-zA-Z\u00a0-\uffff][_a-zA-Z0-9\u00a0-\uffff-]*)")


class SelectorError(ValueError):
    """A selector that cannot be parsed (a bad list line)."""


class Unsupported(Exception):
    """A selector that needs a browser (computed styles, XPath on a live DOM, scripts); skipped by reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# Procedural operators that dejunk cannot evaluate anywhere, and the reason they are counted under.
_BROWSER_ONLY = {
    ":-abp-properties": ":-abp-properties() needs the page's style sheets",
    ":style": ":style() is CSS injection",
    ":matches-prop": ":matches-prop() needs the page's script properties",
    ":matches-property": ":matches-prop() needs the page's script properties",
    ":matches-media": ":matches-media() not supported",
    ":shadow": ":shadow not supported",
}
# Operators only the page runtime (live.py) evaluates: the server skips rules using them.
_LIVE_ONLY = (":matches-css", ":matches-css-before", ":matches-css-after")
_TEXT_PSEUDOS = (":has-text", ":-abp-contains", ":contains")
_HAS_PSEUDOS = (":-abp-has", ":if")
# uBO's procedural operators: a pseudo-class holding one of them is procedural too (see `_is_procedural`).
_PROCEDURAL = frozenset(
    _TEXT_PSEUDOS + _LIVE_ONLY + tuple(_BROWSER_ONLY)
    + (":upward", ":nth-ancestor", ":min-text-length", ":xpath", ":matches-attr", ":others", ":remove",
       ":remove-attr", ":remove-class", ":watch-attr", ":matches-path")
)
_CONTAINERS = (":has", ":-abp-has", ":if", ":if-not", ":not", ":is", ":where", ":matches", ":any")
# Elements `:others()` leaves alone: hiding them changes nothing a reader sees.
_NOT_RENDERED = frozenset({"script", "style", "link", "meta", "base", "title", "template", "head", "noscript"})


@dataclass(frozen=True, slots=True)
class Plan:
    """How to find what a selector selects: a soupsieve CSS selector, then steps applied to its matches."""
    # `steps` are tuples: ("text", pattern, flags) keeps elements whose text matches a regex; ("min_text", n);
    # ("upward", n); ("upward_css", css); ("select", css) selects `:scope`-relative from each element;
    # ("filter", css) keeps elements matching css; ("siblings", "+" or "~", css); ("xpath", expr) evaluates
    # XPath with each element as context node, ("xpath_root", expr) once for the page; ("attr", name test,
    # value test or None) is `:matches-attr()` (tests are ("text", s), exact, or ("regex", pattern, flags));
    # ("others",) takes every element outside the matches, their ancestors and descendants; ("if", prime, css,
    # steps, expected) is a procedural `:has()` (expected True) or `:not()`/`:if-not()` (False): prime "self"
    # tests the element itself against css, "select" selects css from it (descendants, or `:scope > ...`), "+"
    # and "~" its following siblings, then the nested steps run; ("live", name) is an operator only the page
    # runtime evaluates (`server` is then False). AdGuard's ("tag_content", s), ("wildcard", pattern),
    # ("max_length", n), ("min_length", n). `path` is a `:matches-path()` test on the page URL (kind "text" or
    # "regex", value). `element_keys` are ("class", name), ("id", value), ("attr", name, regex or None, regex
    # flags, compare lower-cased, literal or None), ("tag", name) or ("any",), one per alternative of `css`;
    # `gate` are the classes (".x"), ids ("#x") and attribute texts ("@name\0text") any match needs on the page.
    # `simple` marks a lone `.class` or `#id` with nothing else: matching it needs no soupsieve. `edit` is
    # `:remove-attr()` (("attr", test)) or `:remove-class()` (("class", test)): matches are edited, not hidden.

    css: str
    steps: tuple = ()
    element_keys: tuple = ()
    gate: frozenset = frozenset()
    simple: bool = False
    path: tuple | None = None
    remove: bool = False  # `:remove()`: removed even where matches are only hidden
    edit: tuple | None = None
    hide_only: bool = False  # `:others()`: hidden even where matches are removed (uBO hides them)
    server: bool = True  # False when a step needs the page runtime: the rewriter skips the rule

    @property
    def plain_css(self) -> bool:
        """Whether a browser could apply this selector as it is (used to hide re-inserted elements)."""
        return not self.steps and self.path is None and self.edit is None and ":-soup-" not in self.css


# --- parsing ------------------------------------------------------------------------------------

# Limits on a selector's shape. Real lists stay far below them (at most about 30 compound selectors
# in one alternative, parentheses nested 4 deep); a line beyond them is a bad line, counted with its
# list and line number, rather than a recursion that could stop the proxy starting.
MAX_COMPOUNDS = 256  # compound selectors in one comma-separated alternative
MAX_NESTING = 32  # parentheses and brackets inside one another


def check_shape(selector: str) -> None:
    """SelectorError when a selector nests or chains beyond what any real list needs."""
    # Combinators are counted outside parentheses, brackets and quotes only, so a long text argument
    # (`:has-text(a long phrase)`) or attribute value is not mistaken for a chain; nested selectors
    # (`:has(...)`) are bounded by the nesting limit instead.
    if len(selector) <= 2 * MAX_COMPOUNDS and selector.count("(") + selector.count("[") <= MAX_NESTING:
        return  # too short to chain that much, too few brackets to nest that deep: nearly every rule
    depth = deepest = 0
    quote = ""
    compounds = 1
    previous = ","
    for char in selector:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                raise SelectorError(f"selector nested more than {MAX_NESTING} deep")
        elif char in ")]":
            depth -= 1
        elif depth == 0:
            if char == ",":
                compounds = 1
            elif char in " >+~\t\n" and previous not in " >+~\t\n,":
                compounds += 1
                if compounds > MAX_COMPOUNDS:
                    raise SelectorError(f"selector chains more than {MAX_COMPOUNDS} compound selectors")
        previous = char


def _bounded(function):
    """Turn a RecursionError from parsing a selector into a SelectorError (a bad line, not a crash)."""

    @functools.wraps(function)
    def call(selector, *args, **kwargs):
        try:
            return function(selector, *args, **kwargs)
        except RecursionError:
            raise SelectorError("selector nested too deeply to parse") from None

    return call



@_bounded
def plan_for(selector: str) -> Plan:
    """The plan for an element-hiding selector (`##` / `#?#`); SelectorError or Unsupported."""
    prepared = prepare(selector)
    if isinstance(prepared, Plan):
        return prepared
    path, css, steps = prepared
    compiled = compile_css(css)
    steps, remove, edit = split_actions(steps)
    return Plan(css, steps, _element_keys(compiled), _gate(compiled), False, path, remove, edit, ("others",) in steps,
                not needs_runtime(steps))


@_bounded
def prepare(selector: str):
    """`plan_for` without soupsieve: a plain selector's Plan (see `plain`), else (path test, css, steps)."""
    # Raises Unsupported for what dejunk cannot do anywhere, so a list can be checked cheaply; soupsieve's own
    # syntax check happens when the plan is made.
    selector = selector.strip()
    if not selector:
        raise SelectorError("empty selector")
    check_shape(selector)
    simple = _SIMPLE.fullmatch(selector)
    if simple:
        kind = "class" if simple.group(1) == "." else "id"
        value = simple.group(2)
        return Plan(selector, (), ((kind, value),), frozenset({simple.group(1) + value}), True)
    keys = plain.plain_keys(selector)
    if keys is not None:
        return Plan(selector, (), *keys)
    pieces = list(_scan(selector))
    _check_style_block(pieces)
    path, selector, pieces = _take_matches_path(selector, pieces)
    css, steps, _ = _translate(selector, pieces=pieces)
    split_actions(steps)
    return path, css, steps


@_bounded
def browser_plan(selector: str) -> tuple[str, tuple, bool, tuple | None]:
    """The selector for the page runtime (live.py): (native CSS, steps, remove, edit), without `:matches-path()`."""
    # The same translation as the server's, except that CSS stays as a browser reads it (no soupsieve
    # extensions), every text test is a step, regexes keep their JavaScript source and flags (tests are
    # ("s", text) or ("r", source, flags)), `:matches-css()` is ("css", pseudo-element, property, test) and
    # `:watch-attr()` is ("watch", names).
    selector = selector.strip()
    if not selector:
        raise SelectorError("empty selector")
    check_shape(selector)
    pieces = list(_scan(selector))
    _check_style_block(pieces)
    _, selector, pieces = _take_matches_path(selector, pieces)
    css, steps, _ = _translate(selector, pieces=pieces, browser=True)
    steps, remove, edit = split_actions(steps)
    return css, tuple(steps), remove, edit


def split_actions(steps) -> tuple[tuple, bool, tuple | None]:
    """Steps without the action operators, whether `:remove()` is one, and the `:remove-attr/class()` edit."""
    remove = False
    edit = None
    kept = []
    for number, step in enumerate(steps):
        if step[0] == "remove":
            remove = True
        elif step[0] in ("remove_attr", "remove_class"):
            if number != len(steps) - 1:
                raise SelectorError(f":{step[0].replace('_', '-')}() must come last")
            edit = ("attr" if step[0] == "remove_attr" else "class", step[1])
        else:
            kept.append(step)
    if remove and edit:
        raise SelectorError(":remove() with another action")
    return tuple(kept), remove, edit


def needs_runtime(steps) -> bool:
    """Whether any step (nested ones included) only the page runtime can evaluate."""
    for step in steps:
        if step[0] == "live" or step[0] == "if" and needs_runtime(step[3]):
            return True
    return False


def plan_for_html_filter(selector: str) -> Plan:
    """The plan for a uBO HTML filter (`##^script:has-text(x)`)."""
    check_html_filter(selector)
    return plan_for(selector)


def check_html_filter(selector: str) -> None:
    """Raise Unsupported for uBO HTML filters that are not element filters."""
    if selector.strip().startswith("responseheader("):
        raise Unsupported("##^responseheader() is a response header filter")


_ADGUARD_ATTRIBUTE = re.compile(r'\[([a-zA-Z0-9_-]+)="((?:[^"]|"")*)"\]')


@_bounded
def plan_for_adguard_html(rule_body: str) -> Plan:
    """The plan for an AdGuard HTML filter: `tag[attr="value"][tag-content="x"][max-length="n"]...`."""
    # Ordinary attributes match when the attribute's value contains the given text; the special ones filter on
    # the element's HTML: `tag-content` (inner HTML contains), `wildcard` (outer HTML matches a `*` mask),
    # `max-length`/`min-length` (inner HTML length).
    css_text, steps = prepare_adguard_html(rule_body)
    compiled = compile_css(css_text)
    return Plan(css_text, tuple(steps), _element_keys(compiled), _gate(compiled))


@_bounded
def prepare_adguard_html(rule_body: str) -> tuple[str, list[tuple]]:
    """The string-level work of `plan_for_adguard_html`: (css, steps)."""
    rule_body = rule_body.strip()
    match = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)", rule_body)
    if match is None:
        raise SelectorError("an AdGuard HTML filter starts with a tag name")
    tag = match.group(1).lower()
    position = match.end()
    css = [tag]
    steps: list[tuple] = []
    while position < len(rule_body):
        attribute = _ADGUARD_ATTRIBUTE.match(rule_body, position)
        if attribute is None:
            raise SelectorError(f"cannot read AdGuard attribute at column {position + 1}")
        position = attribute.end()
        name = attribute.group(1).lower()
        value = attribute.group(2).replace('""', '"')
        if name == "tag-content":
            steps.append(("tag_content", value))
        elif name == "wildcard":
            steps.append(("wildcard", ".*".join(re.escape(part) for part in value.split("*"))))
        elif name in ("max-length", "min-length"):
            if not value.isdigit():
                raise SelectorError(f"{name} needs a number")
            steps.append(("max_length" if name == "max-length" else "min_length", int(value)))
        elif name in ("parent-elements", "parent-search-level"):
            raise Unsupported(f"AdGuard {name} not supported")
        else:
            css.append(f"[{name}*={css_string(value)}]")
    return "".join(css), steps


def css_string(text: str) -> str:
    """`text` as a quoted CSS string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ").replace("\r", "\\d ")
    return f'"{escaped}"'


def _check_style_block(pieces: list) -> None:
    """`selector {style}` (an injected style) and pseudo-elements are not element hiding."""
    for kind, value, _start, _end in pieces:
        if kind == "brace":
            raise Unsupported("CSS style injection ({...})")
        if kind == "pseudo_element":
            raise Unsupported(f"pseudo-element {value}")


def _take_matches_path(selector: str, pieces: list) -> tuple[tuple | None, str, list | None]:
    """Strip uBO's `:matches-path()` (a test on the page URL, evaluated per page) from a selector."""
    for kind, value, start, end in pieces:
        if kind == "pseudo" and value[0] == ":matches-path":
            argument = value[1].strip()
            rest = (selector[:start] + selector[end:]).strip()
            if not rest:
                raise SelectorError(":matches-path() without a selector")
            return _text_or_regex(argument, ":matches-path()"), rest, None
    return None, selector, pieces


def _text_or_regex(argument: str, what: str, browser: bool = False) -> tuple:
    """A `/regex/flags` argument as ("regex", pattern, flags), anything else as ("text", argument)."""
    # For the browser: ("r", JavaScript source, flag letters) or ("s", text), checked the same way.
    regex = re.fullmatch(r"/(.*)/([imsu]*)", argument, re.DOTALL)
    if regex is None:
        return ("s", argument) if browser else ("text", argument)
    flags = 0
    for letter in regex.group(2):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "u": 0}[letter]
    pattern = _javascript_regex(regex.group(1))
    try:
        re.compile(pattern, flags)
    except re.error as error:
        raise SelectorError(f"bad regular expression in {what}: {error}") from None
    if browser:
        return ("r", regex.group(1), "".join(sorted(set(regex.group(2)))))
    return ("regex", pattern, flags)


def _javascript_regex(pattern: str) -> str:
    """JavaScript regex syntax to Python's where they differ: named groups, escaped slashes."""
    return pattern.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")


def _unquote(argument: str) -> str:
    """An operator argument without the quotes uBO allows around it (`:xpath('//a')`)."""
    text = argument.strip()
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        return text[1:-1].replace("\\" + text[0], text[0])
    return text


def _is_procedural(name: str, argument: str) -> bool:
    """Whether a pseudo-class is one of uBO's procedural operators, or holds one."""
    if name in _PROCEDURAL:
        return True
    if name in _CONTAINERS:
        return any(kind == "pseudo" and _is_procedural(*value) for kind, value, _, _ in _scan(argument))
    return False


def _leads_procedurally(selector: str) -> bool:
    """Whether a selector starts with a procedural operator: uBO then applies it to the element itself."""
    lead = len(selector) - len(selector.lstrip())
    for kind, value, start, _ in _scan(selector):
        if kind == "pseudo":
            return start == lead and _is_procedural(*value)
    return False


_COMBINATOR_END = " \t\n\r\f>+~"


def _translate(selector: str, nested: bool = False, pieces: list | None = None, browser: bool = False,
               text_steps: bool = False) -> tuple[str, list[tuple], bool]:
    """Turn procedural syntax into CSS plus steps, and tell whether the selector was procedural at all."""
    # `nested`: inside another pseudo-class; `browser`: for the page runtime (see `browser_plan`); `text_steps`:
    # text tests become steps rather than soupsieve's `:-soup-contains()`.
    css: list[str] = []
    steps: list[tuple] = []
    position = 0
    after_step = False  # CSS after a step continues from the step's results
    pending: list[str] = []
    procedural = False
    lead = len(selector) - len(selector.lstrip())

    def flush_pending() -> None:
        # CSS after a step: `:upward(2) > .x` selects from the step's results, `:has-text(/x/).y` filters them.
        chunk = "".join(pending)
        pending.clear()
        stripped = chunk.strip()
        if not stripped:
            return
        if stripped[0] in "+~":
            rest = stripped[1:].strip()
            _check_css(rest, browser)
            steps.append(("siblings", stripped[0], rest))
        elif chunk[0].isspace() or stripped[0] == ">":
            _check_css(":scope " + stripped, browser)
            steps.append(("select", ":scope " + stripped))
        else:
            _check_css(stripped, browser)
            steps.append(("filter", stripped))

    target = css
    for kind, value, start, end in pieces if pieces is not None else _scan(selector):
        if kind != "pseudo":
            continue
        name, argument = value
        target.append(selector[position:start])
        position = end
        procedural = procedural or _is_procedural(name, argument)
        at_root = not nested and start == lead
        translated = _translate_pseudo(name, argument, browser, text_steps, at_root)
        if isinstance(translated, str):
            target.append(translated)
            continue
        if nested and translated is not None and translated[0] in ("remove", "remove_attr", "remove_class"):
            raise SelectorError(f"{name}() inside another pseudo-class")
        if translated is not None:
            so_far = "".join(target)
            if so_far and so_far[-1] in _COMBINATOR_END and (target is pending or so_far.strip()):
                target.append("*")  # `.a > :has-text(/x/)`: the step applies to `.a > *`
        if not after_step:
            after_step = True
            target = pending
        else:
            flush_pending()
        if translated is not None:
            steps.append(translated)
    target.append(selector[position:])
    if after_step:
        flush_pending()
    base = "".join(css).strip()
    if not base:
        if steps and steps[0][0] == "xpath_root":
            base = "" if browser else "html"  # evaluated once for the page, from its root element
        else:
            base = "*"
    elif base[-1] in ">+~":
        raise SelectorError("selector ends with a combinator")
    return base, steps, procedural


def _check_css(css: str, browser: bool) -> None:
    if not browser and plain.parse(css) is None:  # plain CSS is CSS soupsieve accepts
        compile_css(css)


def _translate_pseudo(name: str, argument: str, browser: bool, text_steps: bool, at_root: bool):
    """CSS text for a pseudo-class CSS can do, a step tuple for one it cannot, None for a no-op."""
    if name in _BROWSER_ONLY:
        raise Unsupported(_BROWSER_ONLY[name])
    if name in _TEXT_PSEUDOS:
        test = _text_or_regex(argument, f"{name}()", browser)
        if browser:
            return ("text", test)
        if test[0] == "text":
            if text_steps:
                return ("text", re.escape(test[1]), 0)
            return f":-soup-contains({css_string(test[1])})"
        return ("text", test[1], test[2])
    if name in _CONTAINERS:
        return _translate_container(name, argument, browser)
    if name in (":upward", ":nth-ancestor"):
        argument = argument.strip()
        if argument.isdigit():
            count = int(argument)
            if not 1 <= count < 256:
                raise SelectorError(f"{name}() count out of range")
            return ("upward", count)
        if name == ":nth-ancestor":
            raise SelectorError(":nth-ancestor() needs a number")
        inner, inner_steps, _ = _translate(argument, nested=True, browser=browser)
        if inner_steps:
            raise Unsupported(f"procedural selector inside {name}()")
        _check_css(inner, browser)
        return ("upward_css", inner)
    if name == ":min-text-length":
        if not argument.strip().isdigit():
            raise SelectorError(":min-text-length() needs a number")
        return ("min_text", int(argument.strip()))
    if name == ":xpath":
        expression = _unquote(argument)
        check_xpath(expression)
        return ("xpath_root" if at_root else "xpath", expression)
    if name == ":matches-attr":
        return ("attr",) + _attribute_tests(argument, browser)
    if name in _LIVE_ONLY:
        pseudo = {":matches-css-before": "::before", ":matches-css-after": "::after"}.get(name, "")
        declaration = _css_declaration(argument, pseudo, browser)
        return declaration if browser else ("live", ":matches-css()")
    if name == ":others":
        if argument.strip():
            raise SelectorError(":others() takes no argument")
        return ("others",)
    if name == ":remove":
        return ("remove",)
    if name in (":remove-attr", ":remove-class"):
        argument = _unquote(argument)
        if name == ":remove-attr" and not argument.startswith("/"):
            argument = argument.lower()  # as HTML attribute names are; class names keep their case
        name_test = _text_or_regex(argument, f"{name}()", browser)
        if name_test[1] == "":
            raise SelectorError(f"{name}() needs a name")
        return ("remove_attr" if name == ":remove-attr" else "remove_class", name_test)
    if name == ":watch-attr":
        if browser:  # re-evaluating when attributes change is for live pages
            return ("watch", tuple(sorted({n.strip().lower() for n in _unquote(argument).split(",") if n.strip()})))
        return None
    if name == ":matches-path":
        raise Unsupported(":matches-path() inside another pseudo-class")
    # Any other functional pseudo-class is plain CSS (`:nth-child(2)`, `:lang(en)`...).
    return f"{name}({argument})"


def _translate_container(name: str, argument: str, browser: bool):
    """`:has()`, `:not()`, `:is()`... : plain CSS, or a procedural ("if", ...) step as uBO evaluates it."""
    # uBO runs a procedural argument from the element: its CSS selects descendants (or, after `>`, `+`, `~`,
    # children and siblings), or, when it starts with an operator, the element itself; `:has()` keeps the
    # element if that finds something, `:not()` and `:if-not()` if it finds nothing.
    leading = _leads_procedurally(argument)
    inner, inner_steps, procedural = _translate(argument, nested=True, browser=browser)
    if not procedural:
        if name in _HAS_PSEUDOS or name == ":has":
            return f":has({inner})"
        if name == ":if-not":
            return f":not(:has({inner}))"
        return f"{':is' if name in (':matches', ':any') else name}({inner})"
    if name in (":is", ":where", ":matches", ":any"):
        if inner_steps or browser:
            raise Unsupported(f"procedural selector inside {name}()")
        return f"{':is' if name in (':matches', ':any') else name}({inner})"
    expected = name not in (":not", ":if-not")
    if not inner_steps and not browser:
        # Text tests soupsieve evaluates itself: `:has(p:has-text(x))`, `:not(:has-text(x))`.
        if not leading:
            return f":has({inner})" if expected else f":not(:has({inner}))"
        if _one_compound(inner):
            return f":is({inner})" if expected else f":not({inner})"
        inner, inner_steps, _ = _translate(argument, nested=True, text_steps=True)
    if leading:
        prime, css = "self", inner
    elif inner[0] in "+~":
        prime, css = inner[0], inner[1:].strip()
    elif inner[0] == ">":
        prime, css = "select", ":scope " + inner
    else:
        prime, css = "select", inner
    _check_css(css, browser)
    return ("if", prime, css, tuple(inner_steps), expected)


def _one_compound(css: str) -> bool:
    """Whether CSS is one compound selector (no combinator): it then tests an element by itself."""
    known = plain.one_compound(css)
    if known is not None:
        return known
    return all(not selector.relation.selectors for selector in compile_css(css).selectors)


def _attribute_tests(argument: str, browser: bool) -> tuple:
    """`:matches-attr(name=value)`: (name test, value test or None), each exact text or a regex, quotes optional."""
    text = argument.strip()
    if text[:1] in ("'", '"'):
        close = _string_end(text, 1, text[0])
    elif text[:1] == "/":
        close = _regex_end(text, 1)
        if close < 0:
            raise SelectorError(":matches-attr(): unclosed regex")
        close += len(re.match(r"[imsu]*", text[close:]).group(0))
    else:
        close = text.find("=")
        close = len(text) if close < 0 else close
    name, rest = _unquote(text[:close]), text[close:].strip()
    if not name:
        raise SelectorError(":matches-attr() needs an attribute name")
    if not name.startswith("/"):
        name = name.lower()  # as HTML attribute names are
    value = None
    if rest:
        if rest[0] != "=":
            raise SelectorError(f":matches-attr(): unexpected {rest[:10]!r} after the name")
        value = _text_or_regex(_unquote(rest[1:]), ":matches-attr()", browser)
    return _text_or_regex(name, ":matches-attr()", browser), value


def _css_declaration(argument: str, pseudo: str, browser: bool) -> tuple:
    """`:matches-css(property: value)` (also `before, property: value`) for the page runtime."""
    text = argument.strip()
    prefix = re.match(r"(before|after)\s*,", text)
    if prefix is not None:
        pseudo = "::" + prefix.group(1)
        text = text[prefix.end():]
    prop, colon, value = text.partition(":")
    prop = prop.strip().lower()
    if not colon or not re.fullmatch(r"-?[a-z][a-z0-9-]*", prop):
        raise SelectorError(":matches-css() expects property: value")
    test = _text_or_regex(value.strip(), ":matches-css()", True)  # quotes are the value's: `content: "Ad"`
    return ("css", pseudo, prop, test)


# --- XPath -------------------------------------------------------------------------------------------

_XPATH_PROBE = "<html><head><title>t</title></head><body><div><p>x</p></div></body></html>"


def check_xpath(expression: str) -> None:
    """SelectorError unless the expression is XPath 1.0 that lxml can run and that selects nodes."""
    if not expression:
        raise SelectorError(":xpath() needs an expression")
    compiled = compile_xpath(expression)
    probe = etree.fromstring(_XPATH_PROBE)
    try:
        result = compiled(probe[1][0])
    except etree.XPathError as error:
        raise SelectorError(f"bad XPath in :xpath(): {error}") from None
    if not isinstance(result, list):
        raise SelectorError(":xpath() expression does not select nodes")


@functools.lru_cache(maxsize=1024)
def compile_xpath(expression: str):
    """A compiled lxml XPath, cached per process; SelectorError (with the column) if it is not XPath."""
    try:
        return etree.XPath(expression, smart_strings=False)
    except etree.XPathSyntaxError as error:
        columns = [entry.column for entry in error.error_log if entry.column]
        where = f" at column {columns[-1] + 1}" if columns else ""
        raise SelectorError(f"bad XPath in :xpath(){where}: {error}") from None
    except etree.XPathError as error:
        raise SelectorError(f"bad XPath in :xpath(): {error}") from None


_SCAN_TOKEN = re.compile(r"""\\.|["'\[\]()]|::?(-?[a-zA-Z][a-zA-Z0-9-]*)(\()?|\{""", re.DOTALL)


def _scan(selector: str):
    """Top-level pseudo-classes (with arguments), pseudo-elements and style blocks of a selector."""
    # Yields ("pseudo", (name, argument), start, end), ("pseudo_element", name, start, end) or
    # ("brace", "{", start, end); quotes, escapes, attribute brackets and nested parentheses are skipped.
    depth_brackets = 0
    position = 0
    length = len(selector)
    while position < length:
        match = _SCAN_TOKEN.search(selector, position)
        if match is None:
            return
        token = match.group(0)
        position = match.end()
        if token[0] == "\\":
            continue
        if token in ('"', "'"):
            close = _string_end(selector, position, token)
            position = close
            continue
        if token == "[":
            depth_brackets += 1
            continue
        if token == "]":
            depth_brackets = max(0, depth_brackets - 1)
            continue
        if depth_brackets:
            continue
        if token == "{":
            yield ("brace", "{", match.start(), length)
            return
        if token in ("(", ")"):
            continue  # parentheses not opened by a pseudo-class (e.g. inside :nth-child) are skipped below
        if token.startswith("::"):
            yield ("pseudo_element", token, match.start(), match.end())
            continue
        if match.group(2):  # `:name(`
            close = _paren_end(selector, position)
            if close < 0:
                raise SelectorError(f"unclosed {token}")
            yield ("pseudo", (":" + match.group(1).lower(), selector[position:close]), match.start(), close + 1)
            position = close + 1


# The rest of a quoted string, from after its opening quote to after its closing one (escapes skipped).
_STRING_REST = {quote: re.compile(r"(?:[^%s\\]++|\\.)*+%s" % (quote, quote), re.DOTALL) for quote in "\"'"}
# What `_paren_end` stops at; every other character it steps over.
_PAREN_SPECIAL = re.compile(r"""[\\"'/()]""")


def _string_end(text: str, position: int, quote: str) -> int:
    rest = _STRING_REST[quote].match(text, position)
    if rest is None:
        raise SelectorError("unclosed string")
    return rest.end()


def _paren_end(text: str, position: int) -> int:
    """The index of the `)` closing an argument that starts at `position` (quotes, escapes, regexes skipped)."""
    depth = 1
    start = position
    special = _PAREN_SPECIAL.search
    while True:
        found = special(text, position)
        if found is None:
            return -1
        position = found.start()
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char in ('"', "'"):
            position = _string_end(text, position + 1, char)
            continue
        if char == "/" and not text[start:position].strip():
            # A `/regex/` argument: skip to its closing slash so `(` and `)` in it do not count.
            closing = _regex_end(text, position + 1)
            if closing > 0:
                position = closing
                continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position
        position += 1


def _regex_end(text: str, position: int) -> int:
    """After the opening `/` of a regex argument: the index after its closing `/`, or -1."""
    in_class = False
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            return position + 1
        position += 1
    return -1


# --- compiled selectors and index keys -----------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def compile_css(css: str):
    """A compiled soupsieve selector, cached per process; SelectorError if soupsieve rejects it."""
    try:
        return soupsieve.compile(css, flags=SOUPSIEVE_FLAGS)
    except soupsieve.SelectorSyntaxError as error:
        raise SelectorError(f"selector not understood: {str(error).splitlines()[0]}") from None
    except (ValueError, TypeError, KeyError, RecursionError) as error:
        raise SelectorError(f"selector not understood: {error}") from None


def forget_compiled() -> None:
    """Drop every compiled selector this process keeps (ours and soupsieve's own cache of them)."""
    compile_css.cache_clear()
    soupsieve.purge()


def _element_keys(compiled) -> tuple:
    """One key per alternative: what an element must carry to match it."""
    keys = []
    for alternative in compiled.selectors:
        keys.append(_compound_key(alternative))
    return tuple(keys)


def _compound_key(selector) -> tuple:
    if selector.ids:
        return ("id", selector.ids[0])
    if selector.classes:
        return ("class", max(selector.classes, key=len))
    for attribute in selector.attributes:
        if attribute.inverse or attribute.prefix:
            continue
        if attribute.pattern is not None:
            pattern = attribute.pattern
            return ("attr", attribute.attribute.lower(), pattern.pattern, pattern.flags, bool(attribute.ignore_case),
                    attribute_literal(pattern.pattern))
    for attribute in selector.attributes:
        if not attribute.inverse and not attribute.prefix:
            return ("attr", attribute.attribute.lower(), None, 0, False, None)
    if selector.tag is not None and selector.tag.name != "*" and not selector.tag.prefix:
        return ("tag", selector.tag.name.lower())
    return ("any",)



def _gate(compiled) -> frozenset:
    """What must be on a page for the selector to match anything there."""
    # Classes (".x"), ids ("#x") and attribute texts ("@name" NUL "text", lower-cased) of the compounds other
    # than the matched element's own.
    if len(compiled.selectors) != 1:
        shared = None
        for alternative in compiled.selectors:
            required = _required(alternative, True)
            shared = required if shared is None else shared & required
        return frozenset(shared or ())
    return frozenset(_required(compiled.selectors[0], True))


def _required(selector, matched_element: bool) -> set:
    required = {"." + name for name in selector.classes} | {"#" + value for value in selector.ids}
    if not matched_element:
        # The matched element's own attributes are tested through its key already.
        for attribute in selector.attributes:
            if attribute.inverse or attribute.prefix or attribute.pattern is None:
                continue
            literal = attribute_literal(attribute.pattern.pattern)
            if literal is not None:
                required.add(f"@{attribute.attribute.lower()}\0{literal}")
    for nested in selector.selectors:
        if not nested.is_not and len(nested.selectors) == 1:
            required |= _required(nested.selectors[0], False)
    for related in selector.relation.selectors:
        required |= _required(related, False)
    return required


# --- evaluation ------------------------------------------------------------------------------------


_NOT_SPACE = re.compile(r"[^ \t\r\n\f]+")


def class_list(element) -> list:
    """An element's classes the way soupsieve reads them."""
    classes = element.attrs.get("class")
    if not classes:
        return []
    if isinstance(classes, str):
        return _NOT_SPACE.findall(classes)
    return classes


def element_text(element) -> str:
    """An element's text content as a browser's textContent has it (script and style text included)."""
    return "".join(
        node for node in element.descendants if isinstance(node, NavigableString) and not isinstance(node, PreformattedString)
    )


# What RE2 cannot do; list regexes using it run on Python's re instead.
_NOT_RE2 = re.compile(r"\(\?[=!<>(]|\\[1-9Z]|[*+?}]\+")
_INLINE_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))


@functools.lru_cache(maxsize=4096)
def list_regex(pattern: str, flags: int):
    """A regex from a filter list: RE2 when it uses nothing RE2 lacks, else Python's re."""
    # RE2 runs in linear time, so a hostile pattern in a list cannot stall a rewrite.
    if not _NOT_RE2.search(pattern):
        inline = "".join(letter for flag, letter in _INLINE_FLAGS if flags & flag)
        try:
            return re2.compile(f"(?{inline}){pattern}" if inline else pattern)
        except re2.error:
            pass
    return re.compile(pattern, flags)


def path_matches(path: tuple | None, path_and_query: str) -> bool:
    """Whether a `:matches-path()` test accepts the page's path and query."""
    if path is None:
        return True
    if path[0] == "text":
        return path[1] in path_and_query
    return list_regex(path[1], path[2]).search(path_and_query) is not None


def matches_element(plan: Plan, element) -> bool:
    """Whether the plan's CSS matches this element (steps not applied)."""
    if plan.simple:
        kind, value = plan.element_keys[0]
        if kind == "class":
            return value in class_list(element)
        return element.attrs.get("id") == value
    return compile_css(plan.css).match(element)


def select_all(plan: Plan, root) -> list:
    """The reference evaluation: soupsieve selects the plan's CSS over the whole page."""
    return compile_css(plan.css).select(root)


def run_steps(plan: Plan, elements: list, tick=None) -> list:
    """Apply the plan's steps to the elements its CSS matched, in document order, without duplicates."""
    # `tick` (no arguments) is called every so often on long work, e.g. to stop at a page's deadline.
    if not plan.server:
        raise ValueError("this plan needs the page runtime")
    return _run(plan.steps, elements, tick)


def _run(steps: tuple, elements: list, tick) -> list:
    for step in steps:
        kind = step[0]
        if kind == "text":
            pattern = list_regex(step[1], step[2])
            elements = [e for e in elements if pattern.search(element_text(e))]
        elif kind == "min_text":
            elements = [e for e in elements if len(element_text(e)) >= step[1]]
        elif kind == "upward":
            elements = _unique(_ancestor(e, step[1]) for e in elements)
        elif kind == "upward_css":
            compiled = compile_css(step[1])
            elements = _unique(_closest_ancestor(e, compiled) for e in elements)
        elif kind == "select":
            compiled = compile_css(step[1])
            elements = _unique(found for e in elements for found in compiled.select(e))
        elif kind == "filter":
            compiled = compile_css(step[1])
            elements = [e for e in elements if compiled.match(e)]
        elif kind == "siblings":
            elements = _unique(found for e in elements for found in _after(e, step[1], step[2]))
        elif kind == "xpath":
            tree = xpath_tree(elements[0], tick)
            elements = _unique(found for e in elements for found in tree.evaluate(step[1], e))
        elif kind == "xpath_root":
            tree = xpath_tree(elements[0], tick)
            elements = tree.evaluate(step[1], None)
        elif kind == "attr":
            elements = [e for e in elements if _has_attribute(e, step[1], step[2])]
        elif kind == "others":
            elements = _others(elements, tick)
        elif kind == "if":
            elements = [e for e in elements if _procedural_test(e, step, tick) == step[4]]
        elif kind == "tag_content":
            elements = [e for e in elements if step[1] in _inner_html(e)]
        elif kind == "wildcard":
            pattern = re.compile(step[1], re.DOTALL)
            elements = [e for e in elements if pattern.search(str(e))]
        elif kind == "max_length":
            elements = [e for e in elements if len(_inner_html(e)) <= step[1]]
        elif kind == "min_length":
            elements = [e for e in elements if len(_inner_html(e)) >= step[1]]
        else:
            raise ValueError(f"unknown step {kind!r}")
        if not elements:
            break
    return elements


def test_matches(test: tuple, value: str, exact: bool) -> bool:
    """Whether a text or regex test (see `Plan`) accepts a value; a text test equals it or, if not exact, is in it."""
    if test[0] == "text":
        return value == test[1] if exact else test[1] in value
    return list_regex(test[1], test[2]).search(value) is not None


def _attribute_value(value) -> str:
    return value if isinstance(value, str) else " ".join(value)


def _has_attribute(element, name_test: tuple, value_test: tuple | None) -> bool:
    """`:matches-attr()`: an attribute whose name (and value) the tests accept, both compared whole for text."""
    for name, value in element.attrs.items():
        if not test_matches(name_test, name, True):
            continue
        if value_test is None or test_matches(value_test, _attribute_value(value), True):
            return True
    return False


def _procedural_test(element, step: tuple, tick) -> bool:
    """Whether the nested selector of a procedural `:has()`/`:not()` finds anything from `element`."""
    _, prime, css, steps, _ = step
    compiled = compile_css(css)
    if prime == "self":
        found = [element] if compiled.match(element) else []
    elif prime == "select":
        found = compiled.select(element)
    else:
        found = _after(element, prime, css)
    if found and steps:
        found = _run(steps, found, tick)
    return bool(found)


def _others(elements: list, tick) -> list:
    """Every element outside the matches, their ancestors and their descendants, as uBO's `:others()` takes them."""
    # Those are the siblings of each match and of each of its ancestors below <body>; hiding them hides the rest
    # with them. Elements nothing is shown of (scripts, styles...) are left out.
    keep: set[int] = set()
    chains = []
    for element in elements:
        chain = []
        node = element
        while node is not None and node.name not in ("body", "html", "[document]"):
            keep.add(id(node))
            chain.append(node)
            node = node.parent
        chains.append(chain)
    others = []
    seen: set[int] = set()
    for chain in chains:
        if tick is not None:
            tick()
        for node in chain:
            parent = node.parent
            if parent is None:
                continue
            for sibling in parent.find_all(True, recursive=False):
                if id(sibling) in keep or id(sibling) in seen or sibling.name in _NOT_RENDERED:
                    continue
                seen.add(id(sibling))
                others.append(sibling)
    return others


# XML 1.0 forbids these characters; lxml refuses strings holding them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")


def xpath_tree(element, tick=None) -> XPathTree:
    """The XPath view of the page `element` belongs to, made once per page."""
    root = element
    while root.parent is not None:
        root = root.parent
    tree = getattr(root, "_dejunk_xpath_tree", None)
    if tree is None:
        tree = XPathTree(root, tick)
        root._dejunk_xpath_tree = tree
    return tree


class XPathTree:
    """An lxml copy of a parsed page for XPath, each lxml element mapped back to the page's element."""
    # Copying the tree soupsieve matches on (rather than parsing again) makes the mapping exact. Like a
    # browser's DOM: template contents are left out, processing instructions are comments, adjacent text is
    # one node. Names XML cannot hold are left out (attributes) or renamed (elements): XPath could not name them.

    def __init__(self, soup, tick=None):
        self._page: dict[int, object] = {}  # id of an lxml element -> the page's element
        self._copies: dict[int, object] = {}  # id of a page's element -> its lxml element
        self._proxies: list = []  # keeps every lxml proxy alive, so `id()` of a result finds its element
        top = next((child for child in soup.children if isinstance(child, Tag)), None)
        self.root = None
        if top is None:
            return
        self.root = self._element(None, top)
        stack = [(top, self.root)]
        count = 0
        while stack:
            source, copy = stack.pop()
            last = None
            if source.name == "template":
                continue
            for child in source.children:
                if isinstance(child, Tag):
                    last = self._element(copy, child)
                    stack.append((child, last))
                    count += 1
                    if tick is not None and not count & 1023:
                        tick()
                elif isinstance(child, (Comment, ProcessingInstruction)):
                    # (XML comments hold no `--` and do not end with `-`; XPath rarely looks inside them.)
                    last = etree.Comment(_xml_text(str(child)).replace("--", "- -").rstrip("-"))
                    copy.append(last)
                elif isinstance(child, NavigableString) and not isinstance(child, (Doctype, Declaration)):
                    text = _xml_text(str(child))
                    if last is None:
                        copy.text = (copy.text or "") + text
                    else:
                        last.tail = (last.tail or "") + text

    def _element(self, parent, source):
        name = source.name if _XML_NAME.fullmatch(source.name or "") else "dejunk-unnamed"
        copy = etree.Element(name) if parent is None else etree.SubElement(parent, name)
        for attribute, value in source.attrs.items():
            if _XML_NAME.fullmatch(attribute):
                copy.set(attribute, _xml_text(_attribute_value(value)))
        self._page[id(copy)] = source
        self._copies[id(source)] = copy
        self._proxies.append(copy)
        return copy

    def evaluate(self, expression: str, context) -> list:
        """The page's elements an XPath selects with `context` (a page element; None: the root) as context node."""
        if self.root is None:
            return []
        if context is None:
            node = self.root
        else:
            node = self._copies.get(id(context))
            if node is None:
                return []
        try:
            result = compile_xpath(expression)(node)
        except etree.XPathError:
            return []  # (checked when the list was read: only an expression failing on this page gets here)
        if not isinstance(result, list):
            return []
        found = []
        for item in result:
            element = self._page.get(id(item)) if isinstance(item, etree._Element) else None
            if element is not None:
                found.append(element)
        return _unique(found)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _inner_html(element) -> str:
    if element.name in ("script", "style"):
        return element.string or ""
    return element.decode_contents()


def _ancestor(element, count: int):
    for _ in range(count):
        element = element.parent
        if element is None or element.name == "[document]":
            return None
    return element


def _closest_ancestor(element, compiled):
    parent = element.parent
    while parent is not None and parent.name != "[document]":
        if compiled.match(parent):
            return parent
        parent = parent.parent
    return None


def _after(element, combinator: str, css: str) -> list:
    """What `:scope + css` or `:scope ~ css` selects from an element (css may go on with more combinators)."""
    # soupsieve selects descendants only: select from the parent, naming the element by its position there.
    parent = element.parent
    if parent is None or parent.name == "[document]":
        return []
    position = 1 + sum(1 for _ in element.find_previous_siblings(True))
    return _compile_relative(f":scope > :nth-child({position}) {combinator} {css}").select(parent)


@functools.lru_cache(maxsize=256)
def _compile_relative(css: str):
    # Apart from `compile_css`'s cache: positions would crowd the list's own selectors out of it.
    return soupsieve.compile(css, flags=SOUPSIEVE_FLAGS)


def _unique(elements) -> list:
    seen: set[int] = set()
    result = []
    for element in elements:
        if element is not None and id(element) not in seen:
            seen.add(id(element))
            result.append(element)
    return result
