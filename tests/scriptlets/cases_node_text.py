"""Cases for remove-node-text (rmnt) and replace-node-text (rpnt, trusted): script text changed before it runs."""

from .cases import Case

_FILLER = "/* " + "x" * 70000 + " */"  # a script long enough to reach the parser in several pieces


def _page(body: str) -> str:
    return f"""<!doctype html><html><head><title>t</title>
<script>window.ran = [];</script></head><body>{body}</body></html>"""


CASES = [
    Case(
        id="rmnt-inline-script",
        call="rmnt, script, adblock",
        page=_page("""<script>window.ran.push('adblock wall');</script>
<script>window.ran.push('content');</script>"""),
        probe="window.ran",
        expect=["content"],
        control=["adblock wall", "content"],
    ),
    Case(
        id="rmnt-regex",
        call="rmnt, script, /\\badblock\\b/",
        page=_page("""<script>window.ran.push('adblock');</script><script>window.ran.push('adblocker');</script>"""),
        probe="window.ran",
        expect=["adblocker"],
        control=["adblock", "adblocker"],
    ),
    Case(
        id="rmnt-script-in-head-and-late-body",
        call="rmnt, script, popUnderUrl",
        page="""<!doctype html><html><head><title>t</title><script>window.ran = []; var popUnderUrl = 1; window.ran.push('head');</script></head>
<body><p>text</p><script>""" + _FILLER + """
window.ran.push('late'); var popUnderUrl2 = 'popUnderUrl';</script><script>window.ran = window.ran || []; window.ran.push('end');</script></body></html>""",
        probe="window.ran",
        expect=["end"],
        control=["head", "late", "end"],
    ),
    Case(
        id="rmnt-text-node",
        call="rmnt, #text, Anzeige",
        page=_page('<p id="label">Anzeige</p><p id="other">Artikel</p>'),
        probe="[document.getElementById('label').textContent, document.getElementById('other').textContent]",
        expect=["", "Artikel"],
        control=["Anzeige", "Artikel"],
    ),
    Case(
        id="rpnt-replace",
        call="rpnt, script, useAdBlockDefend: true, useAdBlockDefend: false",
        page=_page("<script>var cfg = {useAdBlockDefend: true}; window.ran.push(String(cfg.useAdBlockDefend));</script>"),
        probe="window.ran",
        expect=["false"],
        control=["true"],
        trusted_only=True,
    ),
    Case(
        id="rpnt-regex-condition",
        call="rpnt, script, %2F%22%5Ba-z0-9%5D%7B8%7D%22%3Atrue%2C%2Fg, , condition, compat_iframe_token",
        page=_page("""<script>var o = {"abcd1234":true,"x":1}; var compat_iframe_token = 1; window.ran.push(JSON.stringify(o));</script>
<script>var p = {"efgh5678":true,"y":1}; window.ran.push(JSON.stringify(p));</script>"""),
        probe="window.ran",
        expect=['{"x":1}', '{"efgh5678":true,"y":1}'],
        control=['{"abcd1234":true,"x":1}', '{"efgh5678":true,"y":1}'],
        trusted_only=True,
    ),
    Case(
        id="rpnt-percent-encoded",
        call="rpnt, script, art.on('video%3Aplay'%2C%20setUpAds)%3B, art.on('video%3Aplay')%3B",
        page=_page("""<script>var art = {on: function (e, f) { window.ran.push(e + ':' + (f ? 'ads' : 'none')); }};
var setUpAds = 1; art.on('video:play', setUpAds);</script>"""),
        probe="window.ran",
        expect=["video:play:none"],
        control=["video:play:ads"],
        trusted_only=True,
    ),
]
