"""The page runtime: a page's procedural rules, applied in the browser to the live DOM.

The rewriter applies rules to the page as the server sent it. What it cannot see, the browser
can: computed styles (`:matches-css()`), attribute changes (`:watch-attr()`), and elements a
script inserts after the page loaded. `needs_runtime` tells which of a page's rules go to the
runtime (every site-specific procedural rule; plain CSS rules do not), `description` turns them
into plain JSON text (what `PageRules.live` holds), and `program` gives the JavaScript for one
inline `<script>`: `live.js` (beside this module) called with that description.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from .selectors import SelectorError, Unsupported, browser_plan

RUNTIME_FILE = "live.js"
# What must never appear in the text of an inline script (case-insensitive): it would end the script
# early (`</script`), or switch the HTML tokenizer into its escaped script state (`<!--`); `]]>` would end a
# CDATA section, so the program can also be wrapped in one for a page served as XML.
UNSAFE_IN_SCRIPT = ("</script", "<!--", "]]>")


def needs_runtime(rule) -> bool:
    """Whether a page's cosmetic rule belongs in the runtime: site-specific, element hiding, procedural."""
    # Generic rules stay with the rewriter (uBO itself drops generic procedural rules); `##^` HTML filters and
    # AdGuard's `$$` act on the response, not the DOM; a lone class or id, or plain CSS, needs no script.
    plan = rule.plan
    if not rule.domains or rule.kind != "hide" or rule.adguard or plan is None:
        return False
    return plan.remove or not plan.plain_css


def description(rules, styles=()) -> str:
    """The runtime's input for these rules (those `needs_runtime` accepts) and procedural `:style()` rules
    (`styles`: (selector, ((property, value), ...)) pairs), as compact JSON text; "" if none."""
    # Each entry is [css, steps, action]: native CSS ("" for a selector that starts with `:xpath()`), the
    # steps of `selectors.browser_plan` as lists, and "hide", "remove", ["attr", test] or ["class", test]. A
    # selector the runtime cannot run (a procedural one inside `:is()`...) is left to the rewriter alone.
    entries = []
    seen = set()
    for rule in rules:
        if not needs_runtime(rule):
            continue
        entry = _entry(rule.selector)
        if entry is not None and entry not in seen:
            seen.add(entry)
            entries.append(entry)
    for selector, declarations in styles:
        entry = style_entry(selector, declarations)
        if entry is not None and entry not in seen:
            seen.add(entry)
            entries.append(entry)
    if not entries:
        return ""
    return '{"rules":[' + ",".join(entries) + "]}"  # (the entries are compact JSON already)


@functools.lru_cache(maxsize=8192)
def _entry(selector: str) -> str | None:
    try:
        css, steps, remove, edit = browser_plan(selector)
    except (SelectorError, Unsupported):
        return None
    action = "remove" if remove else list(edit) if edit else "hide"
    return json.dumps([css, steps, action], ensure_ascii=True, separators=(",", ":"))


@functools.lru_cache(maxsize=8192)
def style_entry(selector: str, declarations: tuple) -> str | None:
    """The runtime entry for a procedural `:style()` rule: its elements get the declarations, !important."""
    entry = _entry(selector)
    if entry is None:
        return None
    css, steps, _action = json.loads(entry)
    return json.dumps([css, steps, ["style", [list(pair) for pair in declarations]]], ensure_ascii=True,
                      separators=(",", ":"))


@functools.lru_cache(maxsize=1)
def runtime_source() -> str:
    """The text of live.js without its comment lines (it goes into pages), checked to be safe inside an inline script."""
    text = resources.files(__package__).joinpath(RUNTIME_FILE).read_text(encoding="utf-8")
    lowered = text.lower()
    for unsafe in UNSAFE_IN_SCRIPT:
        if unsafe in lowered:
            raise ValueError(f"{RUNTIME_FILE} contains {unsafe!r}, which cannot appear in an inline script")
    return "\n".join(line for line in text.strip().splitlines() if not line.lstrip().startswith("//"))


@functools.lru_cache(maxsize=256)
def program(live: str) -> str:
    """The JavaScript for one inline `<script>` applying a `description` ("" when there is nothing to apply)."""
    # The description is JSON: escaping `<`, `>` and `&` inside its strings (the only place they can be) as
    # \\u escapes keeps every unsafe sequence out, and JavaScript reads them back as the same characters.
    if not live:
        return ""
    data = json.loads(live)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ValueError("not a runtime description")
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"{runtime_source()}({text});"
