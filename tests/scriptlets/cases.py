"""Browser cases for scriptlets: a page, the scriptlet call, and what a probe reads with and without it.

Each family module (`cases_*.py`) holds `CASES`, a list of `Case`. A case is loaded twice in
headless Chromium: with the scriptlet's script at the start of `<head>` (put there by the test
origin directly, or by dejunk through a real mitmdump in tests/e2e), and as a control without it.
`probe` is a JavaScript expression evaluated after the page settled; its value must equal `expect`
with the scriptlet and `control` without, and the two must differ: the scriptlet made the difference.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One scriptlet behaviour to see in a browser."""

    id: str  # unique, [a-z0-9-]: also a host name label (`ID.test`) in tests through the proxy
    call: str  # the text inside `+js(...)`, as a list writes it
    page: str  # the HTML document; the script goes right after its `<head>` start tag
    probe: str  # a JavaScript expression giving a JSON value
    expect: object
    control: object
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (content type, body)
    settle: float = 0.5  # seconds to wait after the load event before probing
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers of the page
    alone: bool = False  # loaded in a tab of its own, in front (animation frames run only there)
    trusted_only: bool = False  # the scriptlet needs a trusted list


# What case modules share: probes of the page's `<p id="out">` and `logged` list, and the pages holding them.
JS = "text/javascript"
OUT = "document.getElementById('out').textContent"
LOG = "window.logged.join(',')"


def plain_page(body: str, head: str = "") -> str:
    """A case page with `<p id="out">`, `head` where the script goes and after, then `body`."""
    return f"""<!doctype html><html><head><title>t</title>{head}</head>
<body><p id="out">none</p>{body}</body></html>"""


def logging_page(body: str, head: str = "") -> str:
    """`plain_page` with a `logged` list and `log(text)` to add to it."""
    return plain_page(body, "<script>window.logged = []; function log(text) { window.logged.push(text); }</script>"
                      + head)


def all_cases() -> list[Case]:
    """Every case of every family module, ids checked to be unique."""
    found: list[Case] = []
    package = importlib.import_module(__package__)
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("cases_")):
        found.extend(importlib.import_module(f"{__package__}.{module}").CASES)
    ids = [case.id for case in found]
    duplicated = {i for i in ids if ids.count(i) > 1}
    assert not duplicated, f"case ids used twice: {sorted(duplicated)}"
    return found
