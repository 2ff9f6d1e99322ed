"""The response hook with compressed pages: over the cap once decoded, unknown codings, re-encoding levels."""

from __future__ import annotations

import gzip

import brotli

from mitmproxy.test import tutils

from filters.html import compression
from tests.addons import test_dejunk
from tests.addons.test_dejunk import PAGE, events, make_flow, run_response, serve_page

page_ctx = test_dejunk.page_ctx  # the fixture: the addon with a cosmetic list, pages rewritten in a thread

REWRITTEN = PAGE.replace(b'<div class="ad">buy</div>', b"")


def test_a_page_over_the_limit_once_decoded_passes_as_it_came(page_ctx):
    addon, tctx, tmp = page_ctx
    tctx.configure(addon, dejunk_max_rewrite_bytes=100_000)
    bomb = gzip.compress(PAGE + b"\0" * 1_000_000)  # about 1 KB that inflates past the limit
    f = make_flow("http://news.test/a", dest="document")
    addon.request(f)
    f.response = tutils.tresp(content=b"")
    f.response.headers["content-type"] = "text/html"
    f.response.headers["content-encoding"] = "gzip"
    f.response.raw_content = bomb
    f.response.headers["content-length"] = str(len(bomb))
    addon.responseheaders(f)
    run_response(addon, f)
    assert f.response.raw_content == bomb and f.response.headers["content-encoding"] == "gzip"
    event = events(tmp)[-1]
    assert event["event"] == "rewrite_error" and "100000 bytes) once decoded" in event["message"]


def test_an_unknown_content_encoding_passes_unchanged_and_is_recorded(page_ctx):
    addon, _, tmp = page_ctx
    f = make_flow("http://news.test/a", dest="document")
    addon.request(f)
    f.response = tutils.tresp(content=b"")
    f.response.headers["content-type"] = "text/html"
    f.response.headers["content-encoding"] = "gzip, br"
    f.response.raw_content = b"\x1f\x8bwhatever"
    addon.responseheaders(f)
    run_response(addon, f)
    assert f.response.raw_content == b"\x1f\x8bwhatever"
    event = events(tmp)[-1]
    assert event["event"] == "rewrite_error" and "'gzip, br' is not decoded" in event["message"]


def test_a_rewritten_page_is_encoded_at_a_proxy_level(page_ctx):
    addon, _, _ = page_ctx
    f = serve_page(addon, encoding="br")
    # Quality 11 (mitmproxy 11's default) took over a second for a 1 MB page; dejunk uses 5.
    assert f.response.raw_content == brotli.compress(REWRITTEN, quality=compression.BROTLI_QUALITY)
    assert compression.BROTLI_QUALITY <= 6
    assert f.response.headers["content-length"] == str(len(f.response.raw_content))


def test_a_chunked_page_keeps_no_content_length(page_ctx):
    addon, _, _ = page_ctx
    f = make_flow("http://news.test/a", dest="document")
    addon.request(f)
    f.response = tutils.tresp(content=b"")
    f.response.headers["content-type"] = "text/html"
    f.response.headers["transfer-encoding"] = "chunked"
    f.response.headers.pop("content-length", None)
    f.response.raw_content = PAGE
    addon.responseheaders(f)
    run_response(addon, f)
    assert f.response.raw_content == REWRITTEN and "content-length" not in f.response.headers
