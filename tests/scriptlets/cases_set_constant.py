"""Cases for set-constant, modelled on its uses in uBlock filters (`set, CHAIN, VALUE`)."""

from .cases import JS, OUT, Case, plain_page

def page(head: str, body: str) -> str:
    """A case page: `head` after the script's place, `body` after `<p id="out">`."""
    return plain_page(body, head)


def write(expression: str) -> str:
    return f"<script>document.getElementById('out').textContent = {expression};</script>"


CASES = [
    Case(
        id="set-constant-flag",
        call="set, adBlockDetected, false",
        page=page("<script>window.adBlockDetected = true;</script>", write("String(window.adBlockDetected)")),
        probe=OUT,
        expect="false",
        control="true",
    ),
    Case(
        # youtube: `set, ytInitialPlayerResponse.adPlacements, undefined`, the object made by a later `var`.
        id="set-constant-chain-created-later",
        call="set, ytInitialPlayerResponse.adPlacements, undefined",
        page=page(
            '<script>var ytInitialPlayerResponse = {"adPlacements": [{"ad": 1}], "videoDetails": {"title": "clip"}};</script>',
            write("String(ytInitialPlayerResponse.adPlacements) + '/' + ytInitialPlayerResponse.videoDetails.title"),
        ),
        probe=OUT,
        expect="undefined/clip",
        control="[object Object]/clip",
    ),
    Case(
        # `set, flashvars.adv_pre_vast, ` (an empty value is the empty string), the object from a file.
        id="set-constant-empty-string-in-file-object",
        call="set, flashvars.adv_pre_vast, ",
        page=page('<script src="/set-constant/flashvars.js"></script>',
                  write("flashvars.adv_pre_vast === '' ? 'no preroll ' + flashvars.video_url : 'preroll'")),
        probe=OUT,
        expect="no preroll /v.mp4",
        control="preroll",
        files={"/set-constant/flashvars.js": (JS, b"var flashvars = {adv_pre_vast: 'https://ads.invalid/vast.xml', video_url: '/v.mp4'};")},
    ),
    Case(
        # n-tv.de: `set-constant, Object.prototype.adReinsertion.homad.enabled, false`.
        id="set-constant-object-prototype-chain",
        call="set-constant, Object.prototype.adReinsertion.homad.enabled, false",
        page=page("", "<script>var config = {}; config.adReinsertion = {homad: {enabled: true, url: 'x'}};"
                      "document.getElementById('out').textContent = "
                      "String(config.adReinsertion.homad.enabled) + '/' + config.adReinsertion.homad.url;</script>"),
        probe=OUT,
        expect="false/x",
        control="true/x",
    ),
    Case(
        # A page that looks for what its (blocked) ads.js would have set: `set, canRunAds, true`.
        id="set-constant-bait-variable",
        call="set, canRunAds, true",
        page=page("", write("window.canRunAds === true ? 'ads ok' : 'adblock wall'")),
        probe=OUT,
        expect="ads ok",
        control="adblock wall",
    ),
    Case(
        # `set, showPopunder, noopFunc`: the page's own function, defined after, stays a no-op.
        id="set-constant-noop-function",
        call="set, showPopunder, noopFunc",
        page=page("<script>function showPopunder() { document.getElementById('out').textContent = 'popunder'; }</script>",
                  "<script>showPopunder();</script>"),
        probe=OUT,
        expect="none",
        control="popunder",
    ),
    Case(
        # A value of another type than the constant (neither undefined nor null): the page's value
        # stands (uBO's rule); the constant was in place until then.
        id="set-constant-other-type-gives-way",
        call="set, adConfig, false",
        page=page("", "<script>var before = String(window.adConfig); window.adConfig = {slots: 2};"
                      "document.getElementById('out').textContent = before + '/' + typeof window.adConfig;</script>"),
        probe=OUT,
        expect="false/object",
        control="undefined/object",
    ),
    Case(
        # `set, document.body.oncontextmenu, null` once the body exists (runAt interactive): right-click works.
        id="set-constant-run-at-interactive",
        call="set, document.body.oncontextmenu, null, runAt, interactive",
        page="""<!doctype html><html><head><title>t</title></head>
<body oncontextmenu="return false"><p id="out">none</p></body></html>""",
        probe="(function () { var e = new MouseEvent('contextmenu', {cancelable: true, bubbles: true});"
              " document.body.dispatchEvent(e); return e.defaultPrevented; })()",
        expect=False,
        control=True,
    ),
    Case(
        # `as, function`: the constant comes back from a call (`set, isAdBlockActive, false, as, function`).
        id="set-constant-as-function",
        call="set, adsBlocked, true, as, function",
        page=page("<script>window.adsBlocked = function () { return false; };</script>",
                  write("String(window.adsBlocked())")),
        probe=OUT,
        expect="true",
        control="false",
    ),
]
