"""Cases for prevent-fetch (no-fetch-if), trusted-prevent-fetch and prevent-xhr (no-xhr-if)."""

from .cases import Case

_REAL = ("text/plain", b"real")
_FILES = {
    "/pagead/adsbygoogle.js": _REAL,
    "/doubleclick/ad": _REAL,
    "/content/article": _REAL,
    "/aud.springserve.com/vast": ("text/xml", b"<VAST version=\"4.0\"><Ad/></VAST>"),
    "/googlesyndication/ad.js": _REAL,
}


def _page(script: str) -> str:
    return f"""<!doctype html><html><head><title>t</title></head><body>
<script>window.result = null; {script}</script></body></html>"""


# fetch() the URL, then record [status, body, content-type] (or the error) as window.result.
_FETCH = """
function record(promise) {
  return promise.then(function (r) {
    return r.text().then(function (t) { return [r.status, t, r.headers.get('content-type'), r.type]; });
  }, function (e) { return ['error', String(e)]; });
}
"""

# An XMLHttpRequest to the URL; its load event records [status, responseText, readyState].
_XHR = """
function xhr(url, type, done) {
  var x = new XMLHttpRequest();
  x.open('GET', url);
  if (type) { x.responseType = type; }
  x.onload = function () {
    done([x.status, type === 'json' ? JSON.stringify(x.response) : x.responseText, x.readyState,
          x.getResponseHeader('content-type')]);
  };
  x.onerror = function () { done(['error']); };
  x.send();
}
"""

CASES = [
    Case(
        id="no-fetch-if-url",
        call="no-fetch-if, adsbygoogle",
        page=_page(_FETCH + """
Promise.all([record(fetch('/pagead/adsbygoogle.js')), record(fetch('/content/article'))])
  .then(function (both) { window.result = both; });"""),
        probe="window.result",
        expect=[[200, "", "text/plain;charset=UTF-8", "default"], [200, "real", "text/plain", "basic"]],
        control=[[200, "real", "text/plain", "basic"], [200, "real", "text/plain", "basic"]],
    ),
    Case(
        id="no-fetch-if-response-body",
        call='no-fetch-if, doubleclick, length:10, {"type":"cors"}',
        page=_page(_FETCH + """
record(fetch(new Request('/doubleclick/ad'))).then(function (r) { window.result = [r[1].length, r[3]]; });"""),
        probe="window.result",
        expect=[10, "cors"],
        control=[4, "basic"],
    ),
    Case(
        id="no-fetch-if-method",
        call="no-fetch-if, method:HEAD",
        page=_page(_FETCH + """
Promise.all([record(fetch('/content/article', {method: 'HEAD'})), record(fetch('/content/article'))])
  .then(function (both) { window.result = [both[0][3], both[1][3]]; });"""),
        probe="window.result",
        expect=["default", "basic"],  # the HEAD request was answered without the network
        control=["basic", "basic"],
    ),
    Case(
        id="no-fetch-if-war-resource",
        call="no-fetch-if, aud.springserve.com, war:noop-vast3.xml",
        page=_page(_FETCH + "record(fetch('/aud.springserve.com/vast')).then(function (r) { window.result = r[1]; });"),
        probe="window.result",
        expect='<VAST version="3.0"></VAST>',
        control='<VAST version="4.0"><Ad/></VAST>',
    ),
    Case(
        id="no-fetch-if-untrusted-body-refused",
        call="no-fetch-if, adsbygoogle, hello",
        page=_page(_FETCH + "record(fetch('/pagead/adsbygoogle.js')).then(function (r) { window.result = r[1]; });"),
        probe="window.result",
        expect="",  # an untrusted list cannot make up a body: it is empty
        control="real",
    ),
    Case(
        id="trusted-prevent-fetch-body",
        call="trusted-prevent-fetch, aud.springserve.com, %3CVAST%20version%3D%223.0%22%3E%3C%2FVAST%3E",
        page=_page(_FETCH + "record(fetch('/aud.springserve.com/vast')).then(function (r) { window.result = r[1]; });"),
        probe="window.result",
        expect='<VAST version="3.0"></VAST>',
        control='<VAST version="4.0"><Ad/></VAST>',
        trusted_only=True,
    ),
    Case(
        id="no-xhr-if-url",
        call="no-xhr-if, googlesyndication",
        page=_page(_XHR + """
xhr('/googlesyndication/ad.js', '', function (a) {
  xhr('/content/article', '', function (b) { window.result = [a, b]; });
});"""),
        probe="window.result",
        expect=[[200, "", 4, None], [200, "real", 4, "text/plain"]],
        control=[[200, "real", 4, "text/plain"], [200, "real", 4, "text/plain"]],
    ),
    Case(
        id="no-xhr-if-length",
        call="no-xhr-if, doubleclick, length:10",
        page=_page(_XHR + "xhr('/doubleclick/ad', '', function (a) { window.result = [a[1].length, a[3]]; });"),
        probe="window.result",
        expect=[10, "text/plain"],
        control=[4, "text/plain"],
    ),
    Case(
        id="no-xhr-if-every-request",
        call="no-xhr-if, , emptyObj",
        page=_page(_XHR + "xhr('/content/article', '', function (a) { window.result = a[1]; });"),
        probe="window.result",
        expect="{}",
        control="real",
    ),
    Case(
        id="no-xhr-if-json-type",
        call="no-xhr-if, /doubleclick|googlesyndication/",
        page=_page(_XHR + "xhr('/doubleclick/ad', 'json', function (a) { window.result = a[1]; });"),
        probe="window.result",
        expect="{}",
        control="null",  # "real" is not JSON
    ),
]

for _case in CASES:
    _case.files.update(_FILES)
