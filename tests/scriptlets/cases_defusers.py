"""Cases for noeval, noeval-if, nowebrtc and the anti-adblock / popunder stand-ins."""

from .cases import JS, LOG, OUT, Case, logging_page

page = logging_page


# A stand-in for the FuckAdBlock library as pages ship it, detecting an ad blocker every time, as it
# would on a page dejunk cleaned. `top` declares it at the top level instead of in a function.
def fake_fab(top: bool) -> bytes:
    body = """
var FuckAdBlock = function () { this._detected = []; this._notDetected = []; };
FuckAdBlock.prototype.onDetected = function (fn) { this._detected.push(fn); return this; };
FuckAdBlock.prototype.onNotDetected = function (fn) { this._notDetected.push(fn); return this; };
FuckAdBlock.prototype.check = function () { this._detected.forEach(function (fn) { fn(); }); return true; };
window.FuckAdBlock = FuckAdBlock;
window.fuckAdBlock = new FuckAdBlock();
"""
    return (body if top else "(function (window) {" + body + "})(window);").encode()


FAB_PAGE = """<script src="/nofab/%s.js"></script><script>
fuckAdBlock.onDetected(function () { log('adblock wall'); }).onNotDetected(function () { log('welcome'); });
fuckAdBlock.check();
</script>"""

CASES = [
    Case(
        id="noeval-all",
        call="noeval",
        page=page("""<script>log(String(eval("log('evaluated'); 42")));</script>"""),
        probe=LOG,
        expect="undefined",
        control="evaluated,42",
    ),
    Case(
        # `noeval-if, ExoLoader`: only code with the needle is kept from running.
        id="noeval-if-needle",
        call="noeval-if, ExoLoader",
        page=page("""<script>eval("log('ExoLoader popunder')"); eval("log('player')");</script>"""),
        probe=LOG,
        expect="player",
        control="ExoLoader popunder,player",
    ),
    Case(
        # The page's offer holds a data channel only when a real RTCPeerConnection made it.
        id="nowebrtc-no-offer",
        call="nowebrtc",
        page=page("""<script>
var pc = new RTCPeerConnection({iceServers: []});
pc.createDataChannel('leak');
pc.createOffer().then(function (offer) {
  document.getElementById('out').textContent = offer && /m=application/.test(offer.sdp) ? 'offer' : 'no offer';
}, function () { document.getElementById('out').textContent = 'failed'; });
</script>"""),
        probe=OUT,
        expect="no offer",
        control="offer",
        settle=1.0,
    ),
    Case(
        # BlockAdBlock runs its detector through eval (marked `babasbm`) and a string setTimeout.
        id="nobab-eval-and-timer",
        call="nobab",
        page=page("""<script>
eval("var babasbmsgx = 1; log('bab wall');");
setTimeout("log('bab timer'); document.bab_elementid", 10);
eval("log('page code')");
</script>"""),
        probe=LOG,
        expect="page code",
        control="bab wall,page code,bab timer",
    ),
    Case(
        # The page ships FuckAdBlock, which would find the ad blocker; the stand-in never does.
        id="nofab-never-detects",
        call="nofab",
        page=page(FAB_PAGE % "fuckadblock"),
        probe=LOG,
        expect="welcome",
        control="adblock wall",
        files={"/nofab/fuckadblock.js": (JS, fake_fab(False))},
    ),
    Case(
        # A copy declared at the top level assigns its methods to the stand-in's constructor.
        id="nofab-top-level-copy",
        call="nofab",
        page=page(FAB_PAGE % "fab-top"),
        probe=LOG,
        expect="welcome",
        control="adblock wall",
        files={"/nofab/fab-top.js": (JS, fake_fab(True))},
    ),
    Case(
        # PopAds' loader steps aside when PopAds is already there.
        id="popads-dummy-already-there",
        call="popads-dummy",
        page=page("""<script>
if (!window.PopAds) { window.PopAds = {armed: true}; log('popunder armed'); }
window.PopAds = {armed: true};
log(String(window.PopAds.armed));
</script>"""),
        probe=LOG,
        expect="undefined",
        control="popunder armed,true",
    ),
    Case(
        # `popads.net`: the PopAds script ends when it sets up `popns`.
        id="popads-net-aborts",
        call="popads.net",
        page=page("""<script>window.popns = 'pop'; log('popunder armed');</script><script>log('page');</script>"""),
        probe=LOG,
        expect="page",
        control="popunder armed,page",
    ),
]
