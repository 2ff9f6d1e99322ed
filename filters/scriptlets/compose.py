"""One inline script for a page: the library, then each scriptlet the page's rules call, each call alone."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable

from .calls import ScriptletCall
from .catalog import library, lookup

# Characters a JSON string may hold that must not reach an HTML parser or old JavaScript as they are.
_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def js_string(value) -> str:
    """`value` as a JavaScript literal that is safe inside an HTML `<script>` element."""
    return json.dumps(value, ensure_ascii=True).translate(_HTML_SAFE)


def compose(calls: Iterable[ScriptletCall]) -> str:
    """The script that runs `calls` in order (unknown names are left out); '' when none is known."""
    return _compose(tuple(calls))


@functools.lru_cache(maxsize=256)
def _compose(calls: tuple[ScriptletCall, ...]) -> str:
    # (The pages of one site ask for the same calls again and again.)
    # Same calls, same text: pages can then be allowed by a hash in their Content-Security-Policy. A
    # call that throws does not stop the others, and the script element removes itself once it ran, so
    # the page's DOM is what its server sent.
    functions: dict[str, int] = {}
    sources: list[str] = []
    runs: list[str] = []
    files: set[str] = set()
    for call in calls:
        scriptlet = lookup(call.name)
        if scriptlet is None:
            continue
        number = functions.get(scriptlet.name)
        if number is None:
            number = functions[scriptlet.name] = len(sources)
            sources.append(f"var s{number} = {scriptlet.source};")
            files.update(scriptlet.library)
        runs.append(f"run({js_string(scriptlet.name)}, s{number}, {js_string(list(call.args))});")
    if not runs:
        return ""
    return "\n".join([
        "(function () {",
        "'use strict';",
        "var me = document.currentScript;",
        "try {",
        library(files),
        *sources,
        "var run = function (name, fn, args) { try { fn.apply(null, args); } catch (e) { dj.failed(name, e); } };",
        *runs,
        "} catch (e) {}",
        "if (me && me.parentNode) { me.parentNode.removeChild(me); }",
        "})();",
    ])
