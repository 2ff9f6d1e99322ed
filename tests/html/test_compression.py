"""Content-Encoding in steps: bodies decode as mitmproxy decodes them, bombs stop at the cap, levels fit a proxy."""

from __future__ import annotations

import functools
import gzip
import time
import tracemalloc
import zlib

import brotli
import pytest
from mitmproxy.net import encoding as mitmproxy_encoding

from filters.html import compression

PAGE = b"<!DOCTYPE html><html><body>" + b"<p class='story'>Text of the story.</p>" * 2000 + b"</body></html>"
CODINGS = ["gzip", "x-gzip", "deflate", "br", "zstd", "identity", ""]


def mitmproxy_encode(body: bytes, coding: str) -> bytes:
    return mitmproxy_encoding.encode(body, {"x-gzip": "gzip", "": "identity"}.get(coding, coding))


@pytest.mark.parametrize("coding", CODINGS)
def test_decodes_what_mitmproxy_encodes(coding):
    assert compression.decode(mitmproxy_encode(PAGE, coding), coding, len(PAGE)) == PAGE


@pytest.mark.parametrize("coding", CODINGS)
def test_mitmproxy_decodes_what_is_encoded(coding):
    encoded = compression.encode(PAGE, coding)
    assert mitmproxy_encoding.decode(encoded, {"x-gzip": "gzip", "": "identity"}.get(coding, coding)) == PAGE


@pytest.mark.parametrize("coding", CODINGS)
def test_one_byte_over_the_cap_is_refused(coding):
    assert compression.decode(mitmproxy_encode(PAGE, coding), coding, len(PAGE) - 1) is None


@functools.cache
def many_steps_page() -> bytes:
    """2.7 MB of random words (the same bytes every time: made once, for every coding)."""
    import random

    words = random.Random(1)
    return b" ".join(bytes(words.choice(b"abcdefghij <>") for _ in range(8)) for _ in range(300_000))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_page_of_many_steps(coding):
    page = many_steps_page()
    # mitmproxy 11 encodes brotli at quality 11 (mitmproxy 12 at 0), which takes tens of seconds
    # for 2.7 MB on a busy machine; any quality makes a body of many steps.
    encoded = mitmproxy_encode(page, coding) if coding != "br" else brotli.compress(page, quality=5)
    assert len(encoded) > 4 * compression._STEP
    assert compression.decode(encoded, coding, len(page)) == page


def test_raw_deflate_and_several_gzip_members():
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert compression.decode(raw.compress(PAGE) + raw.flush(), "deflate", 1 << 20) == PAGE
    assert compression.decode(gzip.compress(b"one ") + gzip.compress(b"two"), "gzip", 100) == b"one two"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_body_that_does_not_decode_raises_value_error(coding):
    with pytest.raises(ValueError):
        compression.decode(b"this is not compressed at all", coding, 1 << 20)
    with pytest.raises(ValueError):  # cut short
        compression.decode(mitmproxy_encode(PAGE, coding)[:-20], coding, 1 << 20)


@pytest.mark.parametrize("header", ["compress", "gzip, br", "exi"])
def test_unknown_codings_are_unsupported(header):
    with pytest.raises(compression.Unsupported):
        compression.check(header)
    with pytest.raises(compression.Unsupported):
        compression.decode(b"x", header, 10)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_decompression_bomb_stops_at_the_cap_without_inflating(coding):
    zeros = b"\0" * (256 << 20)
    # Brotli at quality 5 packs the 256 MiB into 405 bytes (quality 11: 421), in a second instead of twenty.
    bomb = mitmproxy_encode(zeros, coding) if coding != "br" else brotli.compress(zeros, quality=5)
    del zeros
    tracemalloc.start()
    try:
        started = time.perf_counter()
        assert compression.decode(bomb, coding, 5 << 20) is None
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 5
    # Nothing near the 256 MiB the bomb makes: the cap and a step or two past it.
    assert peak < 48 << 20, peak
