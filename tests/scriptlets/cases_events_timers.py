"""Cases for addEventListener-defuser, the timer scriptlets and the timer boosters."""

from .cases import LOG, OUT, Case, logging_page

page = logging_page


CLICK = "(function () { document.body.click(); return window.logged.join(','); })()"

CASES = [
    Case(
        # `aeld, load, adblock`: the type is matched whole (DOMContentLoaded is not `load`).
        id="aeld-type-and-handler",
        call="aeld, load, adblock",
        page=page("""<script>
window.addEventListener('load', function () { log('adblock wall'); });
window.addEventListener('load', function () { log('gallery'); });
document.addEventListener('DOMContentLoaded', function () { log('adblock check'); });
</script>"""),
        probe=LOG,
        expect="adblock check,gallery",
        control="adblock check,adblock wall,gallery",
    ),
    Case(
        # `aeld, , _0x`: any event type, an obfuscated handler; also as a handleEvent object.
        id="aeld-any-type-obfuscated",
        call="aeld, , _0x",
        page=page("""<script>
document.body.addEventListener('click', function () { var _0x1a2b = 'pop'; log(_0x1a2b); });
document.body.addEventListener('click', {handleEvent: function () { var _0x3c = 'under'; log(_0x3c); }});
document.body.addEventListener('click', function () { log('menu'); });
</script>"""),
        probe=CLICK,
        expect="menu",
        control="pop,under,menu",
    ),
    Case(
        # slate.com: `aeld, error, , elements, [src]`: only listeners on matching elements.
        id="aeld-elements",
        call="aeld, error, , elements, %5Bsrc%5D",
        page=page("""<script>
document.addEventListener('error', function () { log('document'); }, true);
var img = new Image();
img.setAttribute('src', '/aeld/missing.png');
img.addEventListener('error', function () { log('image'); });
document.body.appendChild(img);
</script>"""),
        probe=LOG,
        expect="document",
        control="document,image",
    ),
    Case(
        # `nostif, adblock_popup, 500`: callback text and exact delay.
        id="nostif-needle-and-delay",
        call="nostif, adblock_popup, 500",
        page=page("""<script>
function adblock_popup(tag) { log(tag); }
setTimeout(function () { adblock_popup('a500'); }, 500);
setTimeout(function () { adblock_popup('b700'); }, 700);
setTimeout(function () { log('c500'); }, 500);
</script>"""),
        probe=LOG,
        expect="c500,b700",
        control="a500,c500,b700",
        settle=1.0,
    ),
    Case(
        # bild.de: `nostif, , 101-250`: any callback whose delay is in the range.
        id="nostif-delay-range",
        call="nostif, , 101-250",
        page=page("""<script>
setTimeout(function () { log('100'); }, 100);
setTimeout(function () { log('200'); }, 200);
setTimeout(function () { log('300'); }, 300);
</script>"""),
        probe=LOG,
        expect="100,300",
        control="100,200,300",
        settle=1.0,
    ),
    Case(
        # `!` inverts the needle; a string callback is matched by its code.
        id="nostif-negated-and-string",
        call="nostif, !player",
        page=page("""<script>
setTimeout("log('adb')", 10);
setTimeout(function () { log('player'); }, 20);
</script>"""),
        probe=LOG,
        expect="player",
        control="adb,player",
    ),
    Case(
        # `nosiif, adb`: the interval exists (clearInterval works) but its callback does nothing.
        id="nosiif-needle",
        call="nosiif, adb",
        page=page("""<script>
var checks = 0, ticks = 0;
var t1 = setInterval(function () { checks += 1; /* adb */ }, 30);
var t2 = setInterval(function () { ticks += 1; }, 30);
setTimeout(function () { clearInterval(t1); clearInterval(t2);
  document.getElementById('out').textContent = (checks > 0) + '/' + (ticks > 0); }, 300);
</script>"""),
        probe=OUT,
        expect="false/true",
        control="true/true",
        settle=1.0,
    ),
    Case(
        # pussyspace: `norafif, exoframe`.
        id="norafif-needle",
        call="norafif, exoframe",
        page=page("""<script>
requestAnimationFrame(function () { /* exoframe */ log('ad frame'); });
requestAnimationFrame(function () { log('animation'); });
</script>"""),
        probe=LOG,
        expect="animation",
        control="ad frame,animation",
        alone=True,
    ),
    Case(
        # `nano-sib, seconds`: a countdown of 1000 ms ticks runs 20 times faster.
        id="nano-sib-countdown",
        call="nano-sib, seconds",
        page=page("""<script>
var seconds = 10;
var timer = setInterval(function () { seconds -= 1;
  if (seconds <= 0) { clearInterval(timer); document.getElementById('out').textContent = 'download ready'; } }, 1000);
</script>"""),
        probe=OUT,
        expect="download ready",
        control="none",
        settle=1.5,
    ),
    Case(
        # spiele.bild.de: `nano-stb, , 10000`: any callback with that delay.
        id="nano-stb-delay",
        call="nano-stb, , 10000",
        page=page("""<script>
setTimeout(function () { document.getElementById('out').textContent = 'skip ad'; }, 10000);
</script>"""),
        probe=OUT,
        expect="skip ad",
        control="none",
        settle=1.5,
    ),
    Case(
        # 1fichier.com: `nano-stb, ctt(), 1000, 0.001`: five 1000 ms steps take a few ms.
        id="nano-stb-needle-and-boost",
        call="nano-stb, ctt(), 1000, 0.001",
        page=page("""<script>
var steps = 0;
function ctt() { steps += 1; if (steps < 5) { setTimeout(function () { ctt(); }, 1000); } }
setTimeout(function () { ctt(); }, 1000);
</script>"""),
        probe="steps >= 5",
        expect=True,
        control=False,
        settle=1.0,
    ),
    Case(
        # A page that replaces Function.prototype.toString to hide its callbacks' text: the scriptlet
        # reads it with the toString saved before the page ran.
        id="nostif-page-hides-callback-text",
        call="nostif, adblock_popup",
        page=page("""<script>
Function.prototype.toString = function () { return 'function () { [native code] }'; };
function adblock_popup() { log('popup'); }
setTimeout(function () { adblock_popup(); }, 10);
setTimeout(function () { log('page'); }, 20);
</script>"""),
        probe=LOG,
        expect="page",
        control="popup,page",
    ),
]
