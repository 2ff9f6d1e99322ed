"""Redirect resources: every name and alias resolves, and each body is a valid file of its type."""

from __future__ import annotations

import struct
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
