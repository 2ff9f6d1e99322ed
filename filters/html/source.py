"""Where each parsed element came from in the page's source text, so it can be cut out exactly.

BeautifulSoup with lxml gives a tree but no source offsets. This module tokenizes the source
the way libxml2 (2.14, an HTML5 tokenizer) does: tags with their attributes, comments, raw text
of `<script>`/`<style>`/`<textarea>`..., script data escaping. The start tags it finds, in order,
are the elements the parser created, in order; `align` pairs them up, and `locate` finds an
element's end and checks the result against the tree before anything is cut.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from html.entities import html5 as html5_entities

from bs4.element import Doctype, NavigableString, PreformattedString

START = 0
END = 1
COMMENT = 2  # `<!-- -->` and bogus comments (`<!x>`, `<?x>`, `</ x>`, `<![CDATA[x]]>`): the parser makes comments of them
DOCTYPE = 3

_SPACE = "\t\n\f\r "
_NAME = r"[^\t\n\f\r />][^\t\n\f\r />=]*+"
_VALUE = r"\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\t\n\f\r >]*+"
# An attribute: a name, then either `= value` or nothing (an `=` after a bare name always takes a
# value, so an unclosed quote makes the whole tag run to the end of the input, as in HTML5).
_ATTRIBUTE = rf"{_NAME}(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:{_VALUE})|(?![\t\n\f\r ]*=))"
_TAG = re.compile(rf"<(/?)([a-zA-Z][^\t\n\f\r />]*+)((?:[\t\n\f\r /]*+{_ATTRIBUTE})*+)([\t\n\f\r /]*+)>")
_ONE_ATTRIBUTE = re.compile(
    rf"[\t\n\f\r /]*+(?P<name>{_NAME})(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?P<value>{_VALUE})|(?![\t\n\f\r ]*=))"
)
_COMMENT_END = re.compile(r"--!?>")

# Elements whose content is text up to their own end tag (libxml2 follows HTML5 with scripting
# off, so `<noscript>` content is markup).
RAWTEXT = frozenset({"style", "xmp", "iframe", "noembed", "noframes"})
RCDATA = frozenset({"title", "textarea"})
_RAW_END: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE) for name in RAWTEXT | RCDATA
}
# Script data: `<!--` starts an escaped section in which `<script>` nests one level deeper.
_SCRIPT_DATA = re.compile(r"<!--|</script[\t\n\f\r />]", re.IGNORECASE)
_SCRIPT_ESCAPED = re.compile(r"-->|</script[\t\n\f\r />]|<script[\t\n\f\r />]", re.IGNORECASE)
_SCRIPT_DOUBLE_ESCAPED = re.compile(r"-->|</script[\t\n\f\r />]", re.IGNORECASE)

# Elements libxml2 closes at once (checked against lxml 6.1 / libxml2 2.14). It nests what follows
# `<embed>`, `<source>`, `<track>`, `<wbr>` inside them, unlike browsers.
PARSER_VOID = frozenset({"area", "base", "basefont", "br", "col", "frame", "hr", "img", "input", "isindex", "link", "meta", "param"})
# Elements a browser never gives content: their source is the start tag alone, an end tag for one is ignored.
VOID = frozenset(
    {"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img", "input",
     "keygen", "link", "meta", "param", "source", "track", "wbr"}
)
# Elements whose end tag HTML lets authors leave out: implied ends are normal for them.
OPTIONAL_END = frozenset(
    {"p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
     "caption", "rb", "rt", "rtc", "rp", "html", "head", "body"}
)
# Formatting elements a browser re-opens after they are closed implicitly (HTML5 "active
# formatting elements"): leaving one open inside a removed span would change text after it.
FORMATTING = frozenset({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"})
# Start tags the parser folds into the one html/head/body element; they never make a new element.
DOCUMENT_ELEMENTS = frozenset({"html", "head", "body"})
# libxml2's end-tag priorities: an end tag cannot implicitly close an element of higher priority.
_END_PRIORITY = {"div": 150, "td": 160, "th": 160, "tr": 170, "thead": 180, "tbody": 180, "tfoot": 180,
                 "table": 190, "head": 200, "body": 200, "html": 220}

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as HTML tag and attribute names are."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class AttributeSpan:
    """One attribute in a start tag: its lower-cased name, its source with the space before it, its value's source."""

    name: str
    start: int  # where the space (or `/`) before the name starts
    end: int
    value_start: int  # -1 for an attribute without a value; else the value as written, quotes included
    value_end: int


@dataclass(slots=True)
class SourceTokens:
    """The markup tokens of a page, in source order, as parallel lists (text lies between them)."""

    text: str
    kinds: list[int]
    names: list[str]  # tag name for START/END, "" otherwise
    starts: list[int]
    ends: list[int]
    self_closing: list[bool]
    raw_text_end: list[int]  # for a START of a raw-text element, where its text ends; else -1

    def start_tags(self) -> list[int]:
        """Token indexes of all start tags, in order."""
        kinds = self.kinds
        return [index for index in range(len(kinds)) if kinds[index] == START]

    def attributes(self, token: int) -> dict[str, str]:
        """The attributes of a start tag: lower-cased names, entity-decoded values, first one wins."""
        text = self.text
        match = _TAG.match(text, self.starts[token])
        result: dict[str, str] = {}
        if match is None:
            return result
        position, end = match.start(3), match.end(3)
        while position < end:
            attribute = _ONE_ATTRIBUTE.match(text, position, end)
            if attribute is None:
                break
            position = attribute.end()
            name = ascii_lower(attribute.group("name")).replace("\0", "\ufffd")
            value = attribute.group("value")
            if value is None:
                value = ""
            elif value[:1] in ("'", '"'):
                value = value[1:-1]
            result.setdefault(name, unescape_attribute(value))
        return result

    def attribute_spans(self, token: int) -> list[AttributeSpan]:
        """Every attribute written in a start tag, duplicates included, in source order."""
        text = self.text
        match = _TAG.match(text, self.starts[token])
        spans: list[AttributeSpan] = []
        if match is None:
            return spans
        position, end = match.start(3), match.end(3)
        while position < end:
            attribute = _ONE_ATTRIBUTE.match(text, position, end)
            if attribute is None:
                break
            name = ascii_lower(attribute.group("name")).replace("\0", "\ufffd")
            value_start, value_end = attribute.span("value")
            spans.append(AttributeSpan(name, position, attribute.end(), value_start, value_end))
            position = attribute.end()
        return spans

    def attribute_insert_point(self, token: int) -> int:
        """Where a new attribute can go in a start tag: right after its name."""
        return self.starts[token] + 1 + len(self.names[token])


# The next markup from a position: a whole tag, or what kind of other markup starts there. A `<`
# plus letter that does not complete as a tag runs to the end of the input (`broken`).
_NEXT = re.compile(
    rf"<(?:(?P<slash>/?)(?P<name>[a-zA-Z][^\t\n\f\r />]*+)(?:[\t\n\f\r /]*+{_ATTRIBUTE})*+(?P<tail>[\t\n\f\r /]*+)>"
    r"|(?P<comment>!--)|(?P<bang>!)|(?P<broken>/?[a-zA-Z])|(?P<other>[/?]))"
)


def tokenize(text: str) -> SourceTokens:
    """Split a page into tags, comments and doctypes the way libxml2's HTML5 tokenizer does."""
    kinds: list[int] = []
    names: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    self_closing: list[bool] = []
    raw_text_end: list[int] = []
    length = len(text)
    search = _NEXT.search
    raw_end = _RAW_END
    position = 0
    while True:
        found = search(text, position)
        if found is None:
            break
        begin = found.start()
        name = found.group("name")
        if name is not None:
            if not name.isascii() or not name.islower():
                name = ascii_lower(name).replace("\0", "\ufffd")
            end = found.end()
            closing = found.group("slash") == "/"
            solidus = found.group("tail").endswith("/")
            kinds.append(END if closing else START)
            names.append(name)
            starts.append(begin)
            ends.append(end)
            self_closing.append(solidus)
            raw_text_end.append(-1)
            position = end
            if closing or solidus or (name not in raw_end and name != "script" and name != "plaintext"):
                continue
            if name == "script":
                content_end = _script_end(text, end)
            elif name == "plaintext":
                raw_text_end[-1] = length
                break
            else:
                close_tag = raw_end[name].search(text, end)
                content_end = close_tag.start() if close_tag else -1
            if content_end < 0:
                raw_text_end[-1] = length
                break
            raw_text_end[-1] = content_end
            position = content_end
            continue
        if found.group("broken") is not None:
            break  # a tag that never ends: HTML5 drops it and everything after it
        if found.group("comment") is not None:
            end = _comment_end(text, begin)
            kind = COMMENT
        elif found.group("bang") is not None:
            close = text.find(">", begin + 2)
            end = length if close < 0 else close + 1
            kind = DOCTYPE if text[begin + 2 : begin + 9].lower() == "doctype" else COMMENT
        else:  # `<?`, or `</` not followed by a letter
            if text.startswith("</>", begin):
                position = begin + 3  # `</>` is dropped without a trace
                continue
            if text.startswith("</", begin) and begin + 2 >= length:
                break  # a lone `</` at the end is text
            close = text.find(">", begin + 2)
            end = length if close < 0 else close + 1
            kind = COMMENT
        kinds.append(kind)
        names.append("")
        starts.append(begin)
        ends.append(end)
        self_closing.append(False)
        raw_text_end.append(-1)
        position = end
    return SourceTokens(text, kinds, names, starts, ends, self_closing, raw_text_end)


def _comment_end(text: str, begin: int) -> int:
    """The end of a `<!--` comment: `<!-->` and `<!--->` are empty comments; else `-->` or `--!>`."""
    inner = begin + 4
    if text.startswith(">", inner):
        return inner + 1
    if text.startswith("->", inner):
        return inner + 2
    close = _COMMENT_END.search(text, inner)
    return len(text) if close is None else close.end()


def _script_end(text: str, position: int) -> int:
    """Where a script's text ends (the `<` of its `</script`), following HTML5 script data states; -1 at EOF."""
    state = 0  # 0 data, 1 escaped (inside `<!--`), 2 double escaped (a `<script>` inside `<!--`)
    while True:
        if state == 0:
            found = _SCRIPT_DATA.search(text, position)
            if found is None:
                return -1
            if found.group(0) == "<!--":
                state = 1
                position = found.start() + 2  # its two dashes can already be the `--` of `-->`
                continue
            return found.start()
        if state == 1:
            found = _SCRIPT_ESCAPED.search(text, position)
            if found is None:
                return -1
            token = found.group(0)
            if token == "-->":
                state = 0
            elif token[1] == "/":
                return found.start()
            else:
                state = 2
            position = found.end()
            continue
        found = _SCRIPT_DOUBLE_ESCAPED.search(text, position)
        if found is None:
            return -1
        state = 0 if found.group(0) == "-->" else 1
        position = found.end()


_REFERENCE = re.compile(r"&(?:#[xX]([0-9a-fA-F]+);?|#([0-9]+);?|([a-zA-Z][a-zA-Z0-9]*;?))")
_LONGEST_NAME = max(len(name) for name in html5_entities)


def unescape_attribute(value: str) -> str:
    """Decode character references in an attribute value the HTML5 way."""
    # A named reference is the longest entity name that matches; in an attribute, one without its `;` that is
    # followed by a letter, digit or `=` stays as written (`&copyx`, `&notit;`).
    if "&" not in value:
        return value
    parts: list[str] = []
    position = 0
    for match in _REFERENCE.finditer(value):
        if match.start() < position:
            continue
        parts.append(value[position : match.start()])
        position = match.end()
        named = match.group(3)
        if named is None:
            parts.append(html.unescape(match.group(0)))
            continue
        for length in range(min(len(named), _LONGEST_NAME), 0, -1):
            if named[:length] in html5_entities:
                break
        else:
            parts.append(match.group(0))
            continue
        name = named[:length]
        following = value[match.start() + 1 + length : match.start() + 2 + length]
        if not name.endswith(";") and (following == "=" or following.isascii() and following.isalnum()):
            parts.append(match.group(0))
            continue
        parts.append(html5_entities[name] + named[length:])
    parts.append(value[position:])
    return "".join(parts)


# --- pairing parsed elements with source start tags ---------------------------------------------------


def align(tree_names: list[str], tokens: SourceTokens) -> list[int]:
    """For each element the parser created (in creation order), the index of its start tag token, or -1."""
    # The parser creates one element per start tag, in source order, except that it implies html/head/body and
    # folds repeated html/head/body tags into the first ones; those are left unpaired. Should the sequences ever
    # disagree elsewhere, a short look-ahead re-synchronises them and the elements in between stay unpaired (and
    # are never cut).
    source = [t for t in tokens.start_tags() if tokens.names[t] not in DOCUMENT_ELEMENTS]
    names = tokens.names
    pairs = [-1] * len(tree_names)
    tree = [i for i, name in enumerate(tree_names) if name not in DOCUMENT_ELEMENTS]
    i = j = 0
    while i < len(tree) and j < len(source):
        if tree_names[tree[i]] == names[source[j]]:
            pairs[tree[i]] = source[j]
            i += 1
            j += 1
            continue
        skip = _resync(tree_names, tree, i, names, source, j)
        if skip is None:
            break
        i += skip[0]
        j += skip[1]
    return pairs


def _resync(tree_names, tree, i, names, source, j, window: int = 8):
    """The smallest (tree skip, source skip) after which the next few names agree again."""
    best = None
    for total in range(1, 2 * window + 1):
        for skip_tree in range(0, total + 1):
            skip_source = total - skip_tree
            if skip_tree > window or skip_source > window:
                continue
            a, b = i + skip_tree, j + skip_source
            if a >= len(tree) or b >= len(source):
                continue
            if all(
                a + k >= len(tree) or b + k >= len(source) or tree_names[tree[a + k]] == names[source[b + k]]
                for k in range(3)
            ):
                best = (skip_tree, skip_source)
                break
        if best:
            return best
    return None


# --- locating an element's source span ------------------------------------------------------------------

# Start tags that make a browser close an open <p> (HTML5 "close a p element" in button scope).
P_CLOSERS = frozenset(
    {"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl", "fieldset",
     "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr",
     "main", "menu", "nav", "ol", "p", "pre", "listing", "search", "section", "summary", "table", "ul", "xmp",
     "plaintext", "li", "dd", "dt"}
)
# For an element whose end tag may be left out: the start tags after which a browser closes it.
_IMPLIED_END_BY = {
    "p": P_CLOSERS,
    "li": frozenset({"li"}),
    "dt": frozenset({"dt", "dd"}),
    "dd": frozenset({"dt", "dd"}),
    "option": frozenset({"option", "optgroup"}),
    "optgroup": frozenset({"optgroup"}),
    "rb": frozenset({"rb", "rt", "rtc", "rp"}),
    "rt": frozenset({"rb", "rt", "rtc", "rp"}),
    "rp": frozenset({"rb", "rt", "rtc", "rp"}),
    "rtc": frozenset({"rb", "rtc"}),
    "td": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
    "th": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
    "tr": frozenset({"tr", "tbody", "thead", "tfoot"}),
    "thead": frozenset({"tbody", "thead", "tfoot"}),
    "tbody": frozenset({"tbody", "thead", "tfoot"}),
    "tfoot": frozenset({"tbody", "thead", "tfoot"}),
    "caption": frozenset({"caption", "col", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr"}),
    "colgroup": frozenset({"caption", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr"}),
}
# Elements a browser only accepts under a given parent (else it moves or drops them).
_TABLE_PARENTS = {
    "tr": frozenset({"table", "tbody", "thead", "tfoot"}),
    "td": frozenset({"tr"}),
    "th": frozenset({"tr"}),
    "tbody": frozenset({"table"}),
    "thead": frozenset({"table"}),
    "tfoot": frozenset({"table"}),
    "caption": frozenset({"table"}),
    "colgroup": frozenset({"table"}),
    "col": frozenset({"colgroup", "table"}),
}
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# HTML5 scope boundaries: an open <p> behind one of these is not "in button scope".
_BUTTON_SCOPE_BOUNDARIES = frozenset(
    {"applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "button",
     "mi", "mo", "mn", "ms", "mtext", "annotation-xml", "foreignobject", "desc", "title"}
)
# HTML5 "special" elements, which stop the search for an open <li>/<dd>/<dt> to close.
_SPECIAL = frozenset(
    {"address", "applet", "area", "article", "aside", "base", "basefont", "bgsound", "blockquote", "body", "br",
     "button", "caption", "center", "col", "colgroup", "dd", "details", "dir", "div", "dl", "dt", "embed",
     "fieldset", "figcaption", "figure", "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5",
     "h6", "head", "header", "hgroup", "hr", "html", "iframe", "img", "input", "keygen", "li", "link", "listing",
     "main", "marquee", "menu", "meta", "nav", "noembed", "noframes", "noscript", "object", "ol", "p", "param",
     "plaintext", "pre", "script", "search", "section", "select", "source", "style", "summary", "table",
     "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "title", "tr", "track", "ul", "wbr", "xmp"}
)


def p_in_button_scope(open_elements: list[str]) -> bool:
    """Whether a browser has a <p> in button scope with these elements open (outermost first)."""
    for name in reversed(open_elements):
        if name == "p":
            return True
        if name in _BUTTON_SCOPE_BOUNDARIES:
            return False
    return False


def closes_list_item(name: str, open_elements: list[str]) -> bool:
    """Whether a browser closes an open <li> (for `li`) or <dd>/<dt> (for those) at this start tag."""
    targets = ("li",) if name == "li" else ("dd", "dt")
    for open_name in reversed(open_elements):
        if open_name in targets:
            return True
        if open_name in _SPECIAL and open_name not in ("address", "div", "p"):
            return False
    return False


# Elements a browser keeps in <head>; any other start tag there implies <body>.
HEAD_CONTENT = frozenset({"base", "basefont", "bgsound", "link", "meta", "noscript", "script", "style", "template", "title"})


@dataclass(frozen=True, slots=True)
class Span:
    """A source range [start, end) in characters, and whether the element had its own end tag."""

    start: int
    end: int
    explicit_end: bool


class Unlocatable(Exception):
    """An element whose source range cannot be pinned down safely; it is left in the page."""


class SourceMap:
    """The parsed elements of one page paired with their source tokens."""

    def __init__(self, text: str, elements: list):
        self.tokens = tokenize(text)
        self.elements = elements
        self.pairs = align([element.name for element in elements], self.tokens)
        count = len(elements)
        index_of = {id(element): position for position, element in enumerate(elements)}
        self.parent = [index_of.get(id(element.parent), -1) for element in elements]
        # Descendants follow their element in creation order: elements[i + 1 : subtree_end[i]].
        self.subtree_end = [count] * count
        open_chain: list[int] = []
        for position in range(count):
            parent = self.parent[position]
            while open_chain and open_chain[-1] != parent:
                self.subtree_end[open_chain.pop()] = position
            open_chain.append(position)
        # The first element a browser puts in the body, and an explicit <body> tag if there is one.
        self.first_body_content = next(
            (i for i, e in enumerate(elements) if e.name not in DOCUMENT_ELEMENTS and e.name not in HEAD_CONTENT),
            count,
        )
        tokens = self.tokens
        self.explicit_body_token = next(
            (t for t in range(len(tokens.kinds)) if tokens.kinds[t] == START and tokens.names[t] == "body"), -1
        )

    def ancestors(self, index: int) -> list[str]:
        """The names of an element's ancestors, outermost first."""
        names = []
        parent = self.parent[index]
        while parent >= 0:
            names.append(self.elements[parent].name)
            parent = self.parent[parent]
        names.reverse()
        return names

    def start_tag(self, index: int) -> int:
        """The token index of an element's start tag, checked against the element's name; Unlocatable if none."""
        token = self.pairs[index]
        if token < 0:
            raise Unlocatable("start tag not found in the source")
        if self.tokens.names[token] != self.elements[index].name:
            raise Unlocatable("start tag name differs")
        return token

    def locate(self, index: int) -> Span:
        """The source range of `elements[index]`, cut-safe for a browser; Unlocatable if that cannot be established."""
        # The range is found by replaying the parser's end-tag handling, then cross-checked against the tree
        # (every descendant's start tag inside, the next element's outside, the same text and comments), and
        # must be markup a browser reads the same way: balanced inside, not closing anything outside, and ending
        # where a browser would end the element too.
        tokens = self.tokens
        token = self.start_tag(index)
        name = tokens.names[token]
        ancestors = self.ancestors(index)
        foreign = "svg" in ancestors or "math" in ancestors
        if tokens.self_closing[token] and name not in VOID and not foreign:
            raise Unlocatable(f"<{name}/>: browsers keep it open, the parser closed it")
        _check_start_is_neutral(name, ancestors, foreign)
        self._check_not_body_start(index, token, name)
        closed = self._closed_by_start(index, token)
        if name in VOID and name not in PARSER_VOID:
            # The parser nested the following markup inside it; for a browser it is just this tag.
            span = Span(tokens.starts[token], tokens.ends[token], True)
            self._check_closed_stay_closed(name, closed, span)
            return span
        subtree_end = self.subtree_end[index]
        limit_token = self._next_paired(subtree_end)
        if name in VOID or tokens.self_closing[token]:
            span = Span(tokens.starts[token], tokens.ends[token], True)
        else:
            span = self._find_end(index, token, limit_token, ancestors)
            if not span.explicit_end:
                self._check_implied_end(name, span, limit_token)
        self._check_closed_stay_closed(name, closed, span)
        self._check_descendants(index, subtree_end, span)
        _check_balanced(span, tokens, foreign, ancestors)
        _check_content(self.elements[index], span, tokens)
        return span

    def _next_paired(self, start: int) -> int:
        pairs = self.pairs
        for position in range(start, len(pairs)):
            if pairs[position] >= 0:
                return pairs[position]
        return -1

    def _find_end(self, index: int, token: int, limit_token: int, ancestors: list[str]) -> Span:
        """Replay the parser's end-tag handling from the start tag to where the element closes."""
        tokens = self.tokens
        kinds, names, starts, ends = tokens.kinds, tokens.names, tokens.starts, tokens.ends
        last_inside = token
        for descendant in range(index + 1, self.subtree_end[index]):
            paired = self.pairs[descendant]
            if paired < 0:
                if self.elements[descendant].name in DOCUMENT_ELEMENTS:
                    continue
                raise Unlocatable("a descendant's start tag was not found")
            last_inside = max(last_inside, paired)
        name = names[token]
        stack = list(ancestors) + [name]
        base = len(ancestors)
        position = token + 1
        stop = limit_token if limit_token >= 0 else len(kinds)
        while position < stop:
            kind = kinds[position]
            if kind == START:
                if position <= last_inside:
                    child = names[position]
                    if child not in DOCUMENT_ELEMENTS and child not in PARSER_VOID and not tokens.self_closing[position]:
                        stack.append(child)
            elif kind == END:
                closing = names[position]
                depth = _closes(stack, closing)
                if depth is not None:
                    if depth <= base:
                        if depth == base and closing == name:
                            return Span(starts[token], ends[position], True)
                        if closing in ("body", "html"):
                            # A browser keeps the element open past these end tags.
                            raise Unlocatable(f"closed by </{closing}>")
                        return Span(starts[token], starts[position], False)
                    del stack[depth:]
            position += 1
        end = starts[limit_token] if limit_token >= 0 else len(tokens.text)
        return Span(starts[token], end, False)

    def _check_implied_end(self, name: str, span: Span, limit_token: int) -> None:
        """An element without an end tag, closed by the next start tag: a browser must close it there too."""
        tokens = self.tokens
        if limit_token < 0 or span.end != tokens.starts[limit_token]:
            return  # closed by an ancestor's end tag or by the end of the page
        closers = _IMPLIED_END_BY.get(name)
        if closers is None or tokens.names[limit_token] not in closers:
            raise Unlocatable(f"<{name}> closed by <{tokens.names[limit_token]}> only in the parser")

    def _closed_by_start(self, index: int, token: int) -> list[tuple[str, list[str]]]:
        """The elements the start tag closed implicitly (per the tree), each with its ancestors' names."""
        # Those can only be the element created just before and its ancestors below this element's parent.
        # Replaying the parser's end-tag handling from that element's start tag to this one shows which of them
        # were still open when this start tag came.
        previous = index - 1
        parent = self.parent[index]
        if previous < 0 or previous == parent:
            return []
        previous_token = self.pairs[previous]
        if previous_token < 0:
            raise Unlocatable("cannot tell what the start tag closes")
        names, kinds = self.tokens.names, self.tokens.kinds
        chain = self.ancestors(previous)
        stack = chain + [self.elements[previous].name]
        if stack[-1] in PARSER_VOID or self.tokens.self_closing[previous_token]:
            stack.pop()
        for position in range(previous_token + 1, token):
            if kinds[position] == END:
                depth = _closes(stack, names[position])
                if depth is not None:
                    del stack[depth:]
            elif kinds[position] == START and names[position] not in DOCUMENT_ELEMENTS:
                raise Unlocatable("cannot tell what the start tag closes")
        base = len(self.ancestors(index))
        if stack[:base] != self.ancestors(index):
            raise Unlocatable("cannot tell what the start tag closes")
        return [(stack[depth], stack[:depth]) for depth in range(base, len(stack))]

    def _check_closed_stay_closed(self, name: str, closed: list[tuple[str, list[str]]], span: Span) -> None:
        """Elements the start tag closed stay open once it is gone: what follows must close them the same way."""
        # `<li>a<li class=ad>b</ul>` is fine (`</ul>` closes the first item just as well);
        # `<p>a<div class=ad>b</div>more` is not (`more` would move into the paragraph).
        if not closed:
            return
        tokens = self.tokens
        text = tokens.text
        position = span.end
        while position < len(text) and text[position] in _SPACE:
            position += 1
        following = _tokens_in(Span(position, position + 1, False), tokens)
        following_token = following[0] if len(following) and tokens.starts[following[0]] == position else -1
        for closed_name, ancestors in closed:
            closers = _IMPLIED_END_BY.get(closed_name)
            if closers is None or name not in closers:
                raise Unlocatable(f"the start tag closes an open <{closed_name}>")
            if position >= len(text):
                continue
            if following_token < 0:
                raise Unlocatable(f"the start tag closes an open <{closed_name}> and text follows")
            kind, following_name = tokens.kinds[following_token], tokens.names[following_token]
            if kind == START and following_name in closers:
                continue
            if kind == END and following_name not in ("body", "html") and (
                following_name == closed_name or following_name in ancestors
            ):
                continue
            raise Unlocatable(f"the start tag closes an open <{closed_name}> and what follows would not")

    def _check_not_body_start(self, index: int, token: int, name: str) -> None:
        """The first body content implies `<body>` in a browser: without it, the body would start later."""
        if name in HEAD_CONTENT or index != self.first_body_content:
            return
        if 0 <= self.explicit_body_token < token:
            return
        raise Unlocatable(f"<{name}> starts the body")

    def _check_descendants(self, index: int, subtree_end: int, span: Span) -> None:
        starts = self.tokens.starts
        for descendant in range(index + 1, subtree_end):
            paired = self.pairs[descendant]
            if paired >= 0 and not span.start < starts[paired] < span.end:
                raise Unlocatable("a descendant starts outside the located range")
        following = self._next_paired(subtree_end)
        if following >= 0 and starts[following] < span.end:
            raise Unlocatable("the next element starts inside the located range")


def _check_start_is_neutral(name: str, ancestors: list[str], foreign: bool) -> None:
    """A browser must not close an open element when it reads this start tag (the parser may not have)."""
    if foreign:
        return
    if "body" not in ancestors and "frameset" not in ancestors and name not in HEAD_CONTENT:
        raise Unlocatable(f"<{name}> before the body: a browser starts the body there")
    parent = ancestors[-1] if ancestors else ""
    if name in P_CLOSERS and p_in_button_scope(ancestors):
        raise Unlocatable(f"<{name}> inside <p>: a browser closes the <p> there")
    if name in ("li", "dd", "dt") and closes_list_item(name, ancestors):
        raise Unlocatable(f"<{name}> inside an open list item: a browser closes it there")
    if name in _HEADINGS and parent in _HEADINGS:
        raise Unlocatable(f"<{name}> directly inside <{parent}>")
    if name in ("a", "button", "form", "nobr", "option", "optgroup", "select") and name in ancestors:
        raise Unlocatable(f"<{name}> inside <{name}>")
    if name in _TABLE_PARENTS and parent not in _TABLE_PARENTS[name]:
        raise Unlocatable(f"<{name}> inside <{parent}>")


def _closes(stack: list[str], closing: str) -> int | None:
    """The stack depth an end tag pops to, or None when the parser ignores it."""
    priority = _END_PRIORITY.get(closing, 100)
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth] == closing:
            return depth
        if _END_PRIORITY.get(stack[depth], 100) > priority:
            return None
    return None


def _tokens_in(span: Span, tokens: SourceTokens) -> range:
    starts = tokens.starts
    low, high = 0, len(starts)
    while low < high:
        middle = (low + high) // 2
        if starts[middle] < span.start:
            low = middle + 1
        else:
            high = middle
    last = low
    while last < len(starts) and starts[last] < span.end:
        last += 1
    return range(low, last)


def _check_balanced(span: Span, tokens: SourceTokens, foreign: bool, ancestors: list[str]) -> None:
    """Every tag opened in the range closes in it and nothing in it reaches outside it."""
    kinds, names = tokens.kinds, tokens.names
    stack: list[str] = []
    foreign_depth = 0
    for position in _tokens_in(span, tokens):
        kind = kinds[position]
        name = names[position]
        if kind == DOCTYPE:
            raise Unlocatable("a doctype inside the range")
        if kind == START:
            if name in DOCUMENT_ELEMENTS:
                raise Unlocatable(f"a <{name}> tag inside the range")
            in_foreign = foreign or foreign_depth > 0
            if not in_foreign and stack:
                # A start tag that a browser lets close an element open outside the range.
                if name in P_CLOSERS and "p" not in stack and p_in_button_scope(ancestors + stack):
                    raise Unlocatable(f"<{name}> inside the range closes an outer <p> in a browser")
                if name in ("li", "dd", "dt") and closes_list_item(name, ancestors + stack) and not closes_list_item(name, stack):
                    raise Unlocatable(f"<{name}> inside the range closes an outer list item in a browser")
            if name in ("svg", "math"):
                foreign_depth += 1
            if name in VOID:
                continue
            if tokens.self_closing[position]:
                if in_foreign:
                    continue
                raise Unlocatable(f"<{name}/> inside the range")
            stack.append(name)
        elif kind == END:
            if name in VOID:
                continue
            if name not in stack:
                raise Unlocatable(f"a stray </{name}> inside the range")
            while stack:
                popped = stack.pop()
                if popped in ("svg", "math") and foreign_depth:
                    foreign_depth -= 1
                if popped == name:
                    break
                if popped in FORMATTING:
                    raise Unlocatable(f"<{popped}> closed implicitly inside the range")
    if span.explicit_end:
        if stack:
            raise Unlocatable(f"<{stack[-1]}> left open inside the range")
        return
    # Closed implicitly: browsers close the element and whatever is still open in it the same
    # way, unless one is a formatting element (those are re-opened after it).
    for name in stack:
        if name in FORMATTING:
            raise Unlocatable(f"<{name}> left open at the end of the range")


def _check_content(element, span: Span, tokens: SourceTokens) -> None:
    """The range holds the same text (ignoring white space) and the same number of comments as the element."""
    tree_text, tree_comments = element_text_and_comments(element)
    source_text, source_comments = _source_text_and_comments(span, tokens)
    if source_comments != tree_comments:
        raise Unlocatable("comment count differs")
    if _squeeze(tree_text) != _squeeze(source_text):
        raise Unlocatable("text differs")


def _squeeze(text: str) -> str:
    return "".join(text.replace("\0", "\ufffd").split())


def element_text_and_comments(element) -> tuple[str, int]:
    """All text under an element (scripts and styles included, comments not) and its comment count."""
    parts: list[str] = []
    comments = 0
    for node in element.descendants:
        if isinstance(node, NavigableString):
            if isinstance(node, PreformattedString):
                if not isinstance(node, Doctype):
                    comments += 1
                continue
            parts.append(node)
    return "".join(parts), comments


def _source_text_and_comments(span: Span, tokens: SourceTokens) -> tuple[str, int]:
    text = tokens.text
    parts: list[str] = []
    comments = 0
    position = span.start
    for index in _tokens_in(span, tokens):
        start = tokens.starts[index]
        if start > position:
            parts.append(html.unescape(text[position:start]))
        if tokens.kinds[index] == COMMENT:
            comments += 1
        position = max(position, tokens.ends[index])
        raw_end = tokens.raw_text_end[index]
        if raw_end >= 0:
            raw_end = min(raw_end, span.end)
            raw = text[position:raw_end]
            parts.append(html.unescape(raw) if tokens.names[index] in RCDATA else raw)
            position = raw_end
    if span.end > position:
        parts.append(html.unescape(text[position : span.end]))
    return "".join(parts), comments


_OPEN_REFERENCE = re.compile(r"&#?[A-Za-z0-9]*$")


def joins_cleanly(text: str, start: int, end: int) -> bool:
    """Whether deleting text[start:end] leaves the markup around it as it was."""
    # A `<` or an unfinished character reference just before the cut must not meet the text after it: `a <` +
    # `b>` would become a tag, `&amp` + `;x` a different reference.
    if start <= 0 or end >= len(text):
        return True
    following = text[end]
    before = text[start - 1]
    if before == "<" and (following.isascii() and following.isalpha() or following in "/!?"):
        return False
    if (following.isascii() and following.isalnum() or following == ";") and _OPEN_REFERENCE.search(text, max(0, start - 40), start):
        return False
    return True
