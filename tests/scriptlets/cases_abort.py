"""Cases for abort-on-property-read/-write, abort-current-script and abort-on-stack-trace."""

import base64

from .cases import JS, OUT, Case, plain_page

SLOTS = "Array.prototype.map.call(document.querySelectorAll('.slot'), function (e) { return e.textContent; }).join('|')"


def page(head: str, body: str, slots: int = 0) -> str:
    """A case page: `<p id="out">` and `slots` numbered `<span class="slot" id="sN">`, then `body`."""
    return plain_page("".join(f'<span class="slot" id="s{n}"></span>' for n in range(slots)) + body, head)


def put(slot: int, text: str) -> str:
    return f"document.getElementById('s{slot}').textContent = '{text}';"


CASES = [
    Case(
        # `aopr, ExoLoader.serve`: the object comes from a file; the inline call to it is stopped.
        id="aopr-chain-from-file",
        call="aopr, ExoLoader.serve",
        page=page('<script src="/aopr/exo.js"></script>',
                  "<script>ExoLoader.serve({zone: 1});</script><script>document.getElementById('s1').textContent = 'page';</script>",
                  slots=2),
        probe=SLOTS,
        expect="|page",
        control="ad|page",
        files={"/aopr/exo.js": (JS, b"window.ExoLoader = {serve: function () { document.getElementById('s0').textContent = 'ad'; }};")},
    ),
    Case(
        # `aopr, app_vars.force_disable_adblock`: the page's detector reads it and is stopped.
        id="aopr-detector-flag",
        call="aopr, app_vars.force_disable_adblock",
        page=page('<script>var app_vars = {"force_disable_adblock": "0", "base_url": "/"};</script>',
                  "<script>if (app_vars.force_disable_adblock !== '1') { document.getElementById('out').textContent = 'adblock wall'; }</script>"),
        probe=OUT,
        expect="none",
        control="adblock wall",
    ),
    Case(
        # `aopw, Fingerprint2`: the library file ends when it defines itself.
        id="aopw-library-definition",
        call="aopw, Fingerprint2",
        page=page("", '<script src="/aopw/fp.js"></script><script>' + put(1, "page") + "</script>", slots=2),
        probe=SLOTS,
        expect="|page",
        control="fingerprinted|page",
        files={"/aopw/fp.js": (JS, b"window.Fingerprint2 = function () {}; document.getElementById('s0').textContent = 'fingerprinted';")},
    ),
    Case(
        # `aopw, adBlockRunning`: a `var` with a value is a write too.
        id="aopw-var-declaration",
        call="aopw, adBlockRunning",
        page=page("", "<script>var adBlockRunning = true; document.getElementById('out').textContent = 'wall';</script>"),
        probe=OUT,
        expect="none",
        control="wall",
    ),
    Case(
        # `acs, $, show`-like: only the inline script whose text has the needle is stopped.
        id="acs-needle-picks-the-script",
        call="acs, $, adblock",
        page=page('<script src="/acs/dollar.js"></script>',
                  "<script>/* adblock notice */ $('s0', 'wall');</script><script>$('s1', 'menu');</script>", slots=2),
        probe=SLOTS,
        expect="|menu",
        control="wall|menu",
        files={"/acs/dollar.js": (JS, b"window.$ = function (id, text) { document.getElementById(id).textContent = text; };")},
    ),
    Case(
        # `acs, atob, decodeURIComponent`.
        id="acs-builtin-function",
        call="acs, atob, decodeURIComponent",
        page=page("", "<script>document.getElementById('s0').textContent = decodeURIComponent(atob('cG9wJTIwdW5kZXI='));</script>"
                      "<script>" + put(1, "x") + " document.getElementById('s1').textContent = atob('b2s=');</script>", slots=2),
        probe=SLOTS,
        expect="|ok",
        control="pop under|ok",
    ),
    Case(
        # Without a needle every script touching the property is stopped, files included.
        id="acs-no-needle-file",
        call="acs, showAds",
        page=page("<script>window.showAds = function (t) { document.getElementById('out').textContent = t; };</script>",
                  '<script src="/acs/show.js"></script>'),
        probe=OUT,
        expect="none",
        control="ads",
        files={"/acs/show.js": (JS, b"showAds('ads');")},
    ),
    Case(
        # The third argument matches the script's `src`: only the file from there is stopped.
        id="acs-context-src",
        call="acs, document.createElement, , /\\/acs\\/pop\\.js/",
        page=page("", '<script src="/acs/pop.js"></script>'
                  "<script>document.getElementById('s1').textContent = document.createElement('b').tagName;</script>", slots=2),
        probe=SLOTS,
        expect="|B",
        control="IFRAME|B",
        files={"/acs/pop.js": (JS, b"document.getElementById('s0').textContent = document.createElement('iframe').tagName;")},
    ),
    Case(
        # A script whose code is in a `data:` URL is matched by what the URL holds.
        id="acs-data-url-script",
        call="acs, document.title, popunder",
        page=page("", '<script src="data:text/javascript;base64,'
                  + base64.b64encode(b"/* popunder */ document.getElementById('out').textContent = document.title + ' pop';").decode()
                  + '"></script>'),
        probe=OUT,
        expect="none",
        control="t pop",
    ),
    Case(
        # A chain whose first link the page creates later: `acs, app.checkAdblock, wall`.
        id="acs-chain-created-later",
        call="acs, app.checkAdblock, wall",
        page=page("<script>var app = {checkAdblock: function () { return true; }};</script>",
                  "<script>if (app.checkAdblock()) { document.getElementById('s0').textContent = 'wall'; }</script>"
                  "<script>document.getElementById('s1').textContent = String(app.checkAdblock());</script>", slots=2),
        probe=SLOTS,
        expect="|true",
        control="wall|true",
    ),
    Case(
        # `aost, String.prototype.charCodeAt, ai_`: only calls from code named ai_* (a file here) stop.
        id="aost-function-in-stack",
        call="aost, String.prototype.charCodeAt, ai_",
        page=page("", '<script src="/aost/ai_detect.js"></script>'
                  "<script>document.getElementById('s1').textContent = String('A'.charCodeAt(0));</script>", slots=2),
        probe=SLOTS,
        expect="|65",
        control="detected 98|65",
        files={"/aost/ai_detect.js": (JS, b"function ai_check() { return 'b'.charCodeAt(0); }"
                                          b" document.getElementById('s0').textContent = 'detected ' + ai_check();")},
    ),
    Case(
        # `aost, encodeURIComponent, inlineScript`: the page's inline scripts are stopped, files are not.
        id="aost-inline-script",
        call="aost, encodeURIComponent, inlineScript",
        page=page("", '<script src="/aost/file.js"></script>'
                  "<script>document.getElementById('s1').textContent = encodeURIComponent('a b');</script>", slots=2),
        probe=SLOTS,
        expect="file a%20b|",
        control="file a%20b|a%20b",
        files={"/aost/file.js": (JS, b"document.getElementById('s0').textContent = 'file ' + encodeURIComponent('a b');")},
    ),
    Case(
        # The page's own error handlers do not see the abort (a detector could count them there).
        id="aopr-abort-hidden-from-page-handlers",
        call="aopr, detector.run",
        page=page("<script>window.onerror = function () { document.getElementById('s1').textContent = 'onerror'; };"
                  "window.addEventListener('error', function () { document.getElementById('s2').textContent = 'listener'; });"
                  "var detector = {run: function () { document.getElementById('s0').textContent = 'detector ran'; }};</script>",
                  "<script>detector.run();</script>", slots=3),
        probe=SLOTS,
        expect="||",
        control="detector ran||",
    ),
]
