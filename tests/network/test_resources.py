"""Redirect resources: every name and alias resolves, and each body is a valid file of its type."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib

import pytest

from filters.network.rules import ABP_RESOURCES
from filters.network.resources import RESOURCES, Resource, canonical_name, get_resource, names


@pytest.mark.parametrize(
    "alias, name",
    [
        ("noopjs", "noop.js"),
        ("noop.js", "noop.js"),
        ("noopcss", "noop.css"),
        ("noopframe", "noop.html"),
        ("nooptext", "noop.txt"),
        ("noopjson", "noop.json"),
        ("1x1-transparent.gif", "1x1.gif"),
        ("2x2-transparent.png", "2x2.png"),
        ("noopmp3-0.1s", "noop-0.1s.mp3"),
        ("noopmp4-1s", "noop-1s.mp4"),
        ("noopvast-2.0", "noop-vast2.xml"),
        ("abp-resource:blank-js", "noop.js"),
        ("googletagmanager.com/gtm.js", "googletagmanager_gtm.js"),
        ("fuckadblock.js-3.2.0", "nofab.js"),
        ("amazon-adsystem.com/aax2/amzn_ads.js", "amazon_ads.js"),
        ("popads.net.js", "popads.js"),
        ("popads.js", "popads.js"),
        ("google-ima.js", "google-ima.js"),
        ("hd-main.js", "hd-main.js"),
    ],
)
def test_aliases(alias, name):
    resource = get_resource(alias)
    assert isinstance(resource, Resource) and resource.name == name
    assert canonical_name(alias) == name


def test_unknown_names():
    assert get_resource("no-such-resource.js") is None
    assert canonical_name("") is None


def test_abp_rewrite_names_all_resolve():
    for resource in ABP_RESOURCES.values():
        assert get_resource(resource) is not None


def test_names_lists_every_alias():
    listed = names()
    assert "noopjs" in listed and "1x1.gif" in listed and listed == sorted(listed)


def test_content_types():
    for resource in RESOURCES.values():
        assert resource.content_type.split("/")[0] in ("image", "text", "application", "audio", "video")
        assert isinstance(resource.body, bytes)


def test_gif_is_a_1x1_transparent_gif():
    body = get_resource("1x1.gif").body
    assert body[:6] == b"GIF89a" and struct.unpack("<HH", body[6:10]) == (1, 1)
    assert b"\x21\xf9\x04\x01" in body  # graphic control extension with the transparency flag
    assert body.endswith(b"\x3b")


@pytest.mark.parametrize("name, size", [("2x2.png", (2, 2)), ("3x2.png", (3, 2)), ("32x32.png", (32, 32))])
def test_pngs_are_valid_and_transparent(name, size):
    body = get_resource(name).body
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    position = 8
    chunks = {}
    while position < len(body):
        (length,) = struct.unpack(">I", body[position : position + 4])
        kind = body[position + 4 : position + 8]
        data = body[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", body[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF
        chunks[kind] = data
        position += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, color) == (*size, 8, 6)
    pixels = zlib.decompress(chunks[b"IDAT"])
    assert len(pixels) == height * (1 + 4 * width)
    assert all(pixels[row * (1 + 4 * width) + 1 + 4 * x + 3] == 0 for row in range(height) for x in range(width))
    assert b"IEND" in chunks


def test_mp3_is_whole_frames():
    body = get_resource("noopmp3-0.1s").body
    assert len(body) % 417 == 0 and len(body) // 417 == 4
    assert all(body[i : i + 2] == b"\xff\xfb" for i in range(0, len(body), 417))


def test_mp4_boxes():
    body = get_resource("noopmp4-1s").body
    kinds = []
    position = 0
    while position < len(body):
        (size,) = struct.unpack(">I", body[position : position + 4])
        kinds.append(body[position + 4 : position + 8])
        position += size
    assert position == len(body) and kinds == [b"ftyp", b"moov"]
    timescale, duration = struct.unpack(">II", body[body.index(b"mvhd") + 16 : body.index(b"mvhd") + 24])
    assert duration / timescale == 1.0


def test_text_resources_are_utf8():
    for resource in RESOURCES.values():
        if resource.content_type.startswith(("text/", "application/javascript", "application/json", "application/xml")):
            resource.body.decode("utf-8")
    assert get_resource("noopjson").body == b"{}"


_JS_HARNESS = """
globalThis.window = globalThis;
window.dataLayer = [{event: 'x', eventCallback: function() { window.called = (window.called || 0) + 1; }}];
window.adsbygoogle = [{}];
var source = require('fs').readFileSync(0, 'utf8');
(0, eval)(source);
if (typeof window.ga === 'function') { window.ga('send', 'pageview', {hitCallback: function() {}}); }
if (window.fuckAdBlock) { window.fuckAdBlock.onNotDetected(function() {}).onDetected(function() {}); }
if (window.amznads) { window.amznads.getAds(); }
if (window.Fingerprint2) { window.Fingerprint2.get(function() {}); }
"""


@pytest.mark.parametrize("name", sorted(n for n, r in RESOURCES.items() if r.content_type == "application/javascript"))
def test_scripts_run(name):
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("no node binary to run the script surrogates")
    result = subprocess.run(
        [node, "-e", _JS_HARNESS], input=RESOURCES[name].body, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr.decode()


# `redirect=` / `redirect-rule=` values in list lines (not in comments), with uBO's `:priority` suffix.
_REDIRECT_VALUE = re.compile(r"[$,](?:redirect|redirect-rule)=([^,\s]+)")


def test_every_redirect_resource_the_corpus_lists_name_exists(corpus):
    named = set()
    for name in ("ublock-filters.txt", "easylist.txt", "easyprivacy.txt", "hosts.txt"):
        for line in (corpus / "lists" / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("!") or "redirect" not in line:
                continue
            for value in _REDIRECT_VALUE.findall(line):
                head, _, priority = value.rpartition(":")
                named.add(head if head and priority.lstrip("-").isdigit() else value)
    assert {"google-ima.js", "popads.net.js", "hd-main.js", "noopjs"} <= named
    assert sorted(n for n in named if get_resource(n) is None) == []


def run_node(script: str, resource: str) -> str:
    """Run `script` in Node.js after the resource (a window-less page: `window` is the global object)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node binary to run the script surrogates")
    program = "globalThis.window = globalThis;\n(0, eval)(require('fs').readFileSync(0, 'utf8'));\n" + script
    done = subprocess.run([node, "-e", program], input=RESOURCES[resource].body, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


# What a video player does with the IMA SDK before its content plays (the calls of Google's own samples).
_PLAYER = """
var log = [];
var ima = google.ima;
var container = new ima.AdDisplayContainer({}, {}, null);
container.initialize();
var loader = new ima.AdsLoader(container);
loader.getSettings().setVpaidMode(ima.ImaSdkSettings.VpaidMode.ENABLED);
ima.settings.setLocale('de');
loader.addEventListener(ima.AdErrorEvent.Type.AD_ERROR, function(e) { log.push('error ' + e.getError()); }, false);
loader.addEventListener(ima.AdsManagerLoadedEvent.Type.ADS_MANAGER_LOADED, function(e) {
  var settings = new ima.AdsRenderingSettings();
  settings.restoreCustomPlaybackStateOnAdBreakComplete = true;
  var manager = e.getAdsManager({currentTime: 0}, settings);
  log.push('loaded ' + e.getUserRequestContext().id);
  manager.addEventListener(ima.AdEvent.Type.CONTENT_PAUSE_REQUESTED, function() { log.push('pause'); });
  manager.addEventListener([ima.AdEvent.Type.CONTENT_RESUME_REQUESTED, ima.AdEvent.Type.ALL_ADS_COMPLETED],
                           function(event) { log.push(event.type + ' ' + this.name); }, false, {name: 'player'});
  manager.init(640, 360, ima.ViewMode.NORMAL);
  manager.start();
  log.push('started ' + manager.getCuePoints().length + ' ' + manager.getRemainingTime());
}, false);
var request = new ima.AdsRequest();
request.adTagUrl = 'https://ads.example/vast.xml';
request.linearAdSlotWidth = 640;
request.setAdWillAutoPlay(true);
request.setAdWillPlayMuted(false);
loader.requestAds(request, {id: 7});
setTimeout(function() { console.log(JSON.stringify(log)); }, 50);
"""


def test_google_ima_lets_a_player_go_on_to_its_content():
    import json

    log = json.loads(run_node(_PLAYER, "google-ima.js"))
    assert log == ["loaded 7", "started 0 -1", "contentResumeRequested player", "allAdsCompleted player"]


def test_popads_stops_the_loader_where_it_sets_its_globals():
    out = run_node("""
try { window.PopAds = {}; console.log('set'); } catch (e) { console.log(String(e.message).indexOf('popads') >= 0); }
console.log(typeof window.PopAds, typeof window.popns);
""", "popads.js")
    assert out.split() == ["true", "undefined", "undefined"]


def test_hd_main_answers_every_method():
    out = run_node("console.log(window.L.Ad(1), window.J.anything(), window.L === window.J, window.L.then);",
                   "hd-main.js")
    assert out.split() == ["undefined", "undefined", "true", "undefined"]
