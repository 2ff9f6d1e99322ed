"""Cases for remove-attr (ra), remove-class (rc), set-attr, href-sanitizer and disable-newtab-links."""

from .cases import Case


def _page(body: str) -> str:
    return f"""<!doctype html><html><head><title>t</title></head><body>{body}</body></html>"""


# Adds an element after the load event, as ad scripts do.
def _later(html: str) -> str:
    return ("<script>window.addEventListener('load', function () { setTimeout(function () {"
            f" document.body.insertAdjacentHTML('beforeend', {html!r}); }}, 100); }});</script>")


CASES = [
    Case(
        id="ra-onclick",
        call="ra, onclick",
        page=_page('<div id="a" onclick="window.open()">x</div><div id="b">y</div>'),
        probe="[document.getElementById('a').hasAttribute('onclick'), document.getElementById('b').id]",
        expect=[False, "b"],
        control=[True, "b"],
    ),
    Case(
        id="ra-selector",
        call="ra, href, %23clickfakeplayer",
        page=_page('<a id="clickfakeplayer" href="/ad">play</a><a id="real" href="/video">video</a>'),
        probe="[document.getElementById('clickfakeplayer').hasAttribute('href'), document.getElementById('real').getAttribute('href')]",
        expect=[False, "/video"],
        control=[True, "/video"],
    ),
    Case(
        id="ra-several-complete",
        call='ra, href|target, a[href="/view.php"][target="_blank"], complete',
        page=_page('<a id="a" href="/view.php" target="_blank">i</a>'),
        probe="[document.getElementById('a').hasAttribute('href'), document.getElementById('a').hasAttribute('target')]",
        expect=[False, False],
        control=[True, True],
    ),
    Case(
        id="ra-stay-later-element",
        call="ra, data-popunder-url, , stay",
        page=_page(_later('<a id="late" data-popunder-url="/ad">x</a>')),
        probe="document.getElementById('late').hasAttribute('data-popunder-url')",
        expect=False,
        control=True,
    ),
    Case(
        id="ra-page-replaced-native",
        call="ra, onclick, , stay",
        # A page that breaks removeAttribute (as anti-adblock scripts do) does not stop it.
        page=_page("<script>Element.prototype.removeAttribute = function () {};</script>"
                   + _later('<div id="late" onclick="window.open()">x</div>')),
        probe="document.getElementById('late').hasAttribute('onclick')",
        expect=False,
        control=True,
    ),
    Case(
        id="rc-class",
        call="rc, blur",
        page=_page('<div id="a" class="content blur">x</div>'),
        probe="document.getElementById('a').className",
        expect="content",
        control="content blur",
    ),
    Case(
        id="rc-stay-later-element",
        call="rc, locked|blur, , stay",
        page=_page(_later('<div id="late" class="locked text blur">x</div>')),
        probe="document.getElementById('late').className",
        expect="text",
        control="locked text blur",
    ),
    Case(
        id="set-attr-copy",
        call="set-attr, img.lazy, src, [data-src]",
        page=_page('<img id="a" class="lazy" data-src="/pic.png">' + _later('<img id="b" class="lazy" data-src="/pic2.png">')),
        probe="[document.getElementById('a').getAttribute('src'), document.getElementById('b').getAttribute('src')]",
        expect=["/pic.png", "/pic2.png"],
        control=[None, None],
    ),
    Case(
        id="set-attr-value",
        call="set-attr, input#age, value, 18",
        page=_page('<input id="age" value="0">'),
        probe="document.getElementById('age').getAttribute('value')",
        expect="18",
        control="0",
    ),
    Case(
        id="href-sanitizer-param",
        call="href-sanitizer, a%5Bhref%5E%3D%22%2Ffile.php%3Flink%3Dhttp%22%5D, %3Flink",
        page=_page('<a id="a" href="/file.php?link=https%3A%2F%2Fexample.org%2Ffile">f</a>'
                   + _later('<a id="b" href="/file.php?link=https%3A%2F%2Fexample.org%2Fb">b</a>')),
        probe="[document.getElementById('a').getAttribute('href'), document.getElementById('b').getAttribute('href')]",
        expect=["https://example.org/file", "https://example.org/b"],
        control=["/file.php?link=https%3A%2F%2Fexample.org%2Ffile", "/file.php?link=https%3A%2F%2Fexample.org%2Fb"],
    ),
    Case(
        id="href-sanitizer-text",
        call="href-sanitizer, a.out",
        page=_page('<a id="a" class="out" href="/redirect?id=1"> https://example.org/real </a>'),
        probe="document.getElementById('a').getAttribute('href')",
        expect="https://example.org/real",
        control="/redirect?id=1",
    ),
    Case(
        id="disable-newtab-links",
        call="disable-newtab-links",
        page=_page('<iframe name="tab"></iframe><a id="a" href="/opened.html" target="tab">x</a>'
                   "<script>window.addEventListener('load', function () { document.getElementById('a').click(); });</script>"),
        probe="frames['tab'].location.pathname",
        expect="blank",
        control="/opened.html",
        files={"/opened.html": ("text/html", b"<p>opened</p>")},
    ),
]
