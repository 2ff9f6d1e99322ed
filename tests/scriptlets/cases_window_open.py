"""Cases for no-window-open-if (nowoif): window.open calls that open nothing, or a decoy."""

from .cases import Case

# window.open aimed at a named frame of the page: no popup blocker gets in the way, and whether the
# call went through shows in the frame's location.
_FRAMES = '<iframe name="one"></iframe><iframe name="two"></iframe>'
_FILES = {"/ad.html": ("text/html", b"<p>ad</p>"), "/good.html": ("text/html", b"<p>good</p>")}


def _page(script: str) -> str:
    return f"""<!doctype html><html><head><title>t</title></head><body>{_FRAMES}
<script>{script}</script></body></html>"""


_WHERE = "[frames['one'].location.pathname, frames['two'].location.pathname]"

CASES = [
    Case(
        id="nowoif-every-call",
        call="nowoif",
        page=_page("window.result = String(window.open('/ad.html', 'one') === null);"),
        probe=f"[window.result].concat({_WHERE})",
        expect=["true", "blank", "blank"],
        control=["false", "/ad.html", "blank"],
        files=_FILES,
    ),
    Case(
        id="nowoif-negated-pattern",
        call="nowoif, !good",
        page=_page("window.open('/ad.html?x=1', 'one'); window.open('/good.html', 'two');"),
        probe=_WHERE,
        expect=["blank", "/good.html"],
        control=["/ad.html", "/good.html"],
        files=_FILES,
    ),
    Case(
        id="nowoif-global-regex",
        call="nowoif, /ad\\.html/g",
        # A `g` flag must not make every other call slip through.
        page=_page("window.open('/ad.html', 'one'); window.open('/ad.html', 'two');"),
        probe=_WHERE,
        expect=["blank", "blank"],
        control=["/ad.html", "/ad.html"],
        files=_FILES,
    ),
    Case(
        id="nowoif-target-pattern",
        call="nowoif, /^\\/ad\\.html one/",
        page=_page("window.open('/ad.html', 'one'); window.open('/ad.html', 'two');"),
        probe=_WHERE,
        expect=["blank", "/ad.html"],
        control=["/ad.html", "/ad.html"],
        files=_FILES,
    ),
    Case(
        id="nowoif-decoy-window",
        call="nowoif, ad, 10",
        page=_page("var w = window.open('/ad.html', 'one');"
                   "window.result = [w !== null && typeof w === 'object', w && w.closed === false];"),
        # The popunder script gets a live window as it expects, the named frame was not navigated,
        # and the decoy is a hidden frame of its own.
        probe=f"window.result.concat({_WHERE}, [document.querySelectorAll('iframe').length])",
        expect=[True, True, "blank", "blank", 3],
        control=[True, True, "/ad.html", "blank", 2],
        files=_FILES,
    ),
    Case(
        id="nowoif-decoy-object",
        call="nowoif, ad, 10, obj",
        page=_page("var w = window.open('/ad.html', 'one'); window.result = [w !== null, w && w.closed];"),
        probe=f"window.result.concat({_WHERE}, [document.querySelectorAll('object').length])",
        expect=[True, False, "blank", "blank", 1],
        control=[True, False, "/ad.html", "blank", 0],
        files=_FILES,
    ),
]
