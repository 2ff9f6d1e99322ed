"""Test helper: a page's parsed tree as a flat event list, to compare two parses of HTML.

Events ignore what a parse may legitimately vary without changing the page: white space in
text (the parser drops some white-space-only nodes depending on context) and the implied
html/head/body elements.
"""

from __future__ import annotations

from bs4.element import Comment, NavigableString, PreformattedString, Tag

from filters.html.rewrite import parse  # the rewriter's own parse: lxml, elements listed in document order

DOCUMENT_ELEMENTS = frozenset({"html", "head", "body"})


def attributes(tag: Tag) -> tuple:
    return tuple(sorted((k, " ".join(v) if isinstance(v, list) else v) for k, v in tag.attrs.items()))


def events(node, *, skip=(), unwrap=(), out=None) -> list[tuple]:
    """Start/end/text/comment events under `node`; elements in `skip` are left out, those in `unwrap` replaced by their children."""
    if out is None:
        out = []
    skip_ids = skip if isinstance(skip, set) else {id(x) for x in skip}
    unwrap_ids = unwrap if isinstance(unwrap, set) else {id(x) for x in unwrap}
    for child in node.children:
        if isinstance(child, Tag):
            if id(child) in skip_ids:
                continue
            if child.name in DOCUMENT_ELEMENTS or id(child) in unwrap_ids:
                events(child, skip=skip_ids, unwrap=unwrap_ids, out=out)
                continue
            out.append(("start", child.name, attributes(child)))
            events(child, skip=skip_ids, unwrap=unwrap_ids, out=out)
            out.append(("end", child.name))
        elif isinstance(child, Comment):
            out.append(("comment", str(child)))
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            squeezed = "".join(str(child).split())
            if squeezed:
                if out and out[-1][0] == "text":
                    out[-1] = ("text", out[-1][1] + squeezed)
                else:
                    out.append(("text", squeezed))
    return out
