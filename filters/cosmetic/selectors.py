"""Cosmetic selectors: procedural filters translated for soupsieve, their index keys, and evaluation.

A selector becomes a `Plan`: a CSS selector soupsieve evaluates (uBO's `:has-text(text)` turned
into `:-soup-contains()`, `:-abp-has()` into `:has()`...) followed by steps soupsieve cannot
express (`:has-text(/regex/)`, `:upward()`, `:min-text-length()`, AdGuard's `tag-content`...).
Plans are plain picklable data; compiled soupsieve objects live in a per-process cache.

Index keys come from soupsieve's own parse of the CSS (so escapes and case rules are exactly
soupsieve's): an element can only match if it carries the key (`element_keys`), and a page can
only match if it contains every class and id the selector requires (`gate`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import re2
import soupsieve
from bs4.element import NavigableString, PreformattedString

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


# Procedural operators that only a browser can evaluate, and the reason they are counted under.
_BROWSER_ONLY = {
    ":matches-css": ":matches-css() needs computed styles",
    ":matches-css-before": ":matches-css() needs computed styles",
    ":matches-css-after": ":matches-css() needs computed styles",
    ":-abp-properties": ":-abp-properties() needs computed styles",
    ":xpath": ":xpath() not supported",
    ":style": ":style() is CSS injection",
    ":matches-attr": ":matches-attr() not supported",
    ":matches-prop": ":matches-prop() needs the live DOM",
    ":matches-property": ":matches-prop() needs the live DOM",
    ":matches-media": ":matches-media() needs a browser",
    ":others": ":others() not supported",
    ":remove-attr": ":remove-attr() not supported",
    ":remove-class": ":remove-class() not supported",
    ":shadow": ":shadow not supported",
}
_TEXT_PSEUDOS = (":has-text", ":-abp-contains", ":contains")
_HAS_PSEUDOS = (":-abp-has", ":if")


@dataclass(frozen=True, slots=True)
class Plan:
    """How to find what a selector selects: a soupsieve CSS selector, then steps applied to its matches."""
    # `steps` are tuples: ("text", pattern, flags) keeps elements whose text matches a regex; ("min_text", n);
    # ("upward", n); ("upward_css", css); ("select", css) selects `:scope`-relative from each element;
    # ("filter", css) keeps elements matching css; AdGuard's ("tag_content", s), ("wildcard", pattern),
    # ("max_length", n), ("min_length", n). `path` is a `:matches-path()` test on the page URL (kind "text" or
    # "regex", value). `element_keys` are ("class", name), ("id", value), ("attr", name, regex or None, regex
    # flags, compare lower-cased, literal or None), ("tag", name) or ("any",), one per alternative of `css`;
    # `gate` are the classes (".x"), ids ("#x") and attribute texts ("@name\0text") any match needs on the page.
    # `simple` marks a lone `.class` or `#id` with nothing else: matching it needs no soupsieve.

    css: str
    steps: tuple = ()
    element_keys: tuple = ()
    gate: frozenset = frozenset()
    simple: bool = False
    path: tuple | None = None
    remove: bool = False  # `:remove()`: removed even where matches are only hidden

    @property
    def plain_css(self) -> bool:
        """Whether a browser could apply this selector as it is (used to hide re-inserted elements)."""
        return not self.steps and self.path is None and ":-soup-" not in self.css


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
    remove = ("remove",) in steps
    steps = tuple(step for step in steps if step != ("remove",))
    return Plan(css, steps, _element_keys(compiled), _gate(compiled), False, path, remove)


@_bounded
def prepare(selector: str):
    """`plan_for` without soupsieve: a lone `.class`/`#id`'s Plan, else (path test, css, steps)."""
    # Raises Unsupported for everything a server cannot do, so a list can be checked cheaply; soupsieve's own
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
    pieces = list(_scan(selector))
    _check_style_block(pieces)
    path, selector, pieces = _take_matches_path(selector, pieces)
    css, steps = _translate(selector, pieces=pieces)
    return path, css, steps


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


def _text_or_regex(argument: str, what: str) -> tuple:
    """A `/regex/flags` argument as ("regex", pattern, flags), anything else as ("text", argument)."""
    regex = re.fullmatch(r"/(.*)/([imsu]*)", argument, re.DOTALL)
    if regex is None:
        return ("text", argument)
    flags = 0
    for letter in regex.group(2):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "u": 0}[letter]
    pattern = _javascript_regex(regex.group(1))
    try:
        re.compile(pattern, flags)
    except re.error as error:
        raise SelectorError(f"bad regular expression in {what}: {error}") from None
    return ("regex", pattern, flags)


def _javascript_regex(pattern: str) -> str:
    """JavaScript regex syntax to Python's where they differ: named groups, escaped slashes."""
    return pattern.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")


def _translate(selector: str, nested: bool = False, pieces: list | None = None) -> tuple[str, list[tuple]]:
    """Turn procedural syntax into soupsieve CSS plus steps; nested means inside another pseudo-class."""
    css: list[str] = []
    steps: list[tuple] = []
    position = 0
    after_step = False  # CSS after a step continues from the step's results
    pending: list[str] = []

    def flush_pending() -> None:
        # CSS after a step: `:upward(2) > .x` selects from the step's results, `:has-text(/x/).y` filters them.
        chunk = "".join(pending)
        pending.clear()
        stripped = chunk.strip()
        if not stripped:
            return
        if stripped[0] in "+~":
            rest = stripped[1:].strip()
            compile_css(rest)
            steps.append(("siblings", stripped[0], rest))
        elif chunk[0].isspace() or stripped[0] == ">":
            compile_css(":scope " + stripped)
            steps.append(("select", ":scope " + stripped))
        else:
            compile_css(stripped)
            steps.append(("filter", stripped))

    target = css
    for kind, value, start, end in pieces if pieces is not None else _scan(selector):
        if kind != "pseudo":
            continue
        name, argument = value
        target.append(selector[position:start])
        position = end
        translated = _translate_pseudo(name, argument, nested)
        if isinstance(translated, str):
            target.append(translated)
            continue
        if nested:
            raise Unsupported(f"{name}() inside another pseudo-class")
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
        base = "*"
    elif base[-1] in ">+~":
        raise SelectorError("selector ends with a combinator")
    return base, steps


def _translate_pseudo(name: str, argument: str, nested: bool):
    """CSS text for a pseudo-class soupsieve can do, a step tuple for one it cannot, None for a no-op."""
    if name in _BROWSER_ONLY:
        raise Unsupported(_BROWSER_ONLY[name])
    if name in _TEXT_PSEUDOS:
        test = _text_or_regex(argument, f"{name}()")
        if test[0] == "text":
            return f":-soup-contains({css_string(test[1])})"
        return ("text", test[1], test[2])
    if name in _HAS_PSEUDOS or name == ":has":
        inner, _ = _translate(argument, nested=True)
        return f":has({inner})"
    if name == ":if-not":
        inner, _ = _translate(argument, nested=True)
        return f":not(:has({inner}))"
    if name in (":not", ":is", ":where", ":matches", ":any"):
        inner, _ = _translate(argument, nested=True)
        return f"{':is' if name in (':matches', ':any') else name}({inner})"
    if name in (":upward", ":nth-ancestor"):
        argument = argument.strip()
        if argument.isdigit():
            count = int(argument)
            if not 1 <= count < 256:
                raise SelectorError(f"{name}() count out of range")
            return ("upward", count)
        if name == ":nth-ancestor":
            raise SelectorError(":nth-ancestor() needs a number")
        inner, _ = _translate(argument, nested=True)
        compile_css(inner)
        return ("upward_css", inner)
    if name == ":min-text-length":
        if not argument.strip().isdigit():
            raise SelectorError(":min-text-length() needs a number")
        return ("min_text", int(argument.strip()))
    if name == ":remove":
        return ("remove",)
    if name == ":watch-attr":
        return None  # re-evaluating when attributes change is for live pages
    if name == ":matches-path":
        raise Unsupported(":matches-path() inside another pseudo-class")
    # Any other functional pseudo-class is plain CSS (`:nth-child(2)`, `:lang(en)`...).
    return f"{name}({argument})"


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


def _string_end(text: str, position: int, quote: str) -> int:
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == quote:
            return position + 1
        position += 1
    raise SelectorError("unclosed string")


def _paren_end(text: str, position: int) -> int:
    """The index of the `)` closing an argument that starts at `position` (quotes, escapes, regexes skipped)."""
    depth = 1
    start = position
    while position < len(text):
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
    return -1


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


# soupsieve builds attribute patterns as a fixed prefix and suffix around `re.escape(value)`.
_PATTERN_PREFIXES = ("(?:(?<=^)|(?<=[ \\t\\r\\n\\f]))", "^")
_PATTERN_SUFFIXES = ("(?=(?:[ \\t\\r\\n\\f]|\\Z))", "(?:-.*)?\\Z", "\\Z")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def attribute_literal(pattern: str) -> str | None:
    """The lower-case text any value a soupsieve attribute pattern matches contains; None if unknown."""
    # Lower-cased, it serves case-insensitive patterns too. Patterns that match nothing (`[a^=""]`) get a NUL
    # character, which no parsed attribute value contains.
    if pattern in ("(?!)", "^(?!)"):
        return "\0"
    core = pattern
    for prefix in _PATTERN_PREFIXES:
        if core.startswith(prefix):
            core = core[len(prefix) :]
            break
    for suffix in _PATTERN_SUFFIXES:
        if core.endswith(suffix):
            core = core[: -len(suffix)]
            break
    literal = _ESCAPED.sub(r"\1", core)
    if re.escape(literal) != core or not literal:
        return None
    return literal.lower()


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


def run_steps(plan: Plan, elements: list) -> list:
    """Apply the plan's steps to the elements its CSS matched, in document order, without duplicates."""
    for step in plan.steps:
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
            compiled = compile_css(step[2])
            elements = _unique(found for e in elements for found in _following_siblings(e, step[1] == "+") if compiled.match(found))
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


def _following_siblings(element, adjacent: bool):
    for sibling in element.find_next_siblings(True, limit=1 if adjacent else None):
        yield sibling


def _unique(elements) -> list:
    seen: set[int] = set()
    result = []
    for element in elements:
        if element is not None and id(element) not in seen:
            seen.add(id(element))
            result.append(element)
    return result
