"""A page's Content-Encoding: decoded in steps with a cap on the output, encoded again at a proxy's levels.

A compressed body can inflate a thousandfold and more (1.6 KB of brotli makes 1 GiB of zeros), so
nothing here decodes a body in one call: each decoder is fed or drained in steps and stops once the
output passes the cap, returning None (the caller then delivers the page as it came). Encoding
uses levels fit for a proxy, where every page waits for it: brotli quality 5 (about 50 times
faster than quality 11 and a tenth larger), gzip and deflate level 6, zstd level 3.

Encodings: gzip (x-gzip), deflate (zlib or raw), br, zstd, identity. Anything else, and chains
("gzip, br"), is `Unsupported`: the page passes unchanged.
"""

from __future__ import annotations

import zlib

import brotli

try:  # what mitmproxy 12 uses (Python 3.14's compression.zstd, or its backport)
    from compression import zstd as _zstd_std  # type: ignore[import-not-found]
except ImportError:
    try:
        from backports import zstd as _zstd_std  # type: ignore[import-not-found,no-redef]
    except ImportError:
        _zstd_std = None
try:  # what mitmproxy 11 uses
    import zstandard as _zstandard  # type: ignore[import-not-found]
except ImportError:
    _zstandard = None
_ZSTD_ERRORS = tuple(module.ZstdError for module in (_zstd_std, _zstandard) if module is not None)

IDENTITY = frozenset({"", "identity", "none"})
SUPPORTED = frozenset({"gzip", "x-gzip", "deflate", "deflateraw", "br", "zstd"}) | IDENTITY
BROTLI_QUALITY = 5
ZLIB_LEVEL = 6
ZSTD_LEVEL = 3
ZSTD_WINDOW_LOG_MAX = 23  # 8 MiB: the most a browser accepts for HTTP (RFC 9659)
_STEP = 64 * 1024  # output asked for per step where a decoder can be bounded
# brotli before 1.2 has no output limit: it is fed this many bytes at a time. One step then makes
# at most some 16 MB (one copy command's length), measured on a 1 GiB quality-11 bomb.
_BROTLI_FEED = 16
_ZSTD_FEED = 256  # zstandard (mitmproxy 11's zstd module) likewise: at most some 8 MB a step


class Unsupported(ValueError):
    """A Content-Encoding dejunk does not decode (the page passes unchanged)."""


def normalize(content_encoding: str | None) -> str:
    """The coding named by a Content-Encoding header value, lowercased; '' for none."""
    return (content_encoding or "").strip().lower()


def check(content_encoding: str | None) -> str:
    """The coding, or Unsupported for one dejunk cannot decode (chains included)."""
    coding = normalize(content_encoding)
    if coding not in SUPPORTED:
        raise Unsupported(f"Content-Encoding {content_encoding!r} is not decoded")
    return coding


def decode(raw: bytes, content_encoding: str | None, limit: int) -> bytes | None:
    """`raw` decoded, or None when the result would be longer than `limit` bytes.

    ValueError when the body does not decode; Unsupported for an unknown coding.
    """
    coding = check(content_encoding)
    if coding in IDENTITY:
        return raw if len(raw) <= limit else None
    if not raw:
        return b""
    try:
        if coding in ("gzip", "x-gzip"):
            return _zlib(raw, zlib.MAX_WBITS | 32, limit)  # gzip or zlib header, detected
        if coding in ("deflate", "deflateraw"):
            try:
                return _zlib(raw, zlib.MAX_WBITS, limit)
            except zlib.error:
                return _zlib(raw, -zlib.MAX_WBITS, limit)  # servers that send deflate without its header
        if coding == "br":
            return _brotli(raw, limit)
        return _zstd(raw, limit)
    except (zlib.error, brotli.error, EOFError, MemoryError, *_ZSTD_ERRORS) as e:
        raise ValueError(f"{coding} body does not decode: {type(e).__name__}: {e}") from None


def _zlib(raw: bytes, wbits: int, limit: int) -> bytes | None:
    out = bytearray()
    data = raw
    while data:
        decoder = zlib.decompressobj(wbits)
        while data:
            out += decoder.decompress(data, _STEP)
            if len(out) > limit:
                return None
            data = decoder.unconsumed_tail
        while not decoder.eof:
            chunk = decoder.decompress(b"", _STEP)
            if not chunk:
                break
            out += chunk
            if len(out) > limit:
                return None
        if not decoder.eof:
            raise zlib.error("the compressed body is cut short")
        # Several gzip members one after the other are one body; anything else after the end is ignored.
        data = decoder.unused_data if wbits & 32 and decoder.unused_data.startswith(b"\x1f\x8b") else b""
    return bytes(out)


def _brotli(raw: bytes, limit: int) -> bytes | None:
    decoder = brotli.Decompressor()
    out = bytearray()
    if hasattr(decoder, "can_accept_more_data"):  # brotli >= 1.2: the output can be bounded
        position = 0
        idle = 0
        while not decoder.is_finished() and idle < 2:
            if position < len(raw) and decoder.can_accept_more_data():
                chunk = decoder.process(raw[position:position + _STEP], output_buffer_limit=_STEP)
                position += _STEP
                idle = 0
            else:  # output held back by the limit, or input it keeps: drained with empty input
                chunk = decoder.process(b"", output_buffer_limit=_STEP)
                idle = 0 if chunk else idle + 1
            out += chunk
            if len(out) > limit:
                return None
    else:
        for position in range(0, len(raw), _BROTLI_FEED):
            out += decoder.process(raw[position:position + _BROTLI_FEED])
            if len(out) > limit:
                return None
    if not decoder.is_finished():
        raise brotli.error("the compressed body is cut short")
    return bytes(out)


def _zstd(raw: bytes, limit: int) -> bytes | None:
    out = bytearray()
    if _zstd_std is not None:
        data = raw
        while data:  # one decompressor per frame
            decoder = _zstd_std.ZstdDecompressor(
                options={_zstd_std.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG_MAX})
            out += decoder.decompress(data, _STEP)
            while not decoder.eof:
                if len(out) > limit:
                    return None
                if not decoder.needs_input:
                    out += decoder.decompress(b"", _STEP)
                else:
                    raise EOFError("the compressed body is cut short")
            if len(out) > limit:
                return None
            data = decoder.unused_data
        return bytes(out)
    if _zstandard is None:
        raise Unsupported("no zstd module is installed")
    # zstandard's decompressobj has no output limit: it is fed a little at a time (a zstd block
    # makes at most 128 KiB, from a few bytes), and a new one starts at each frame.
    data = raw
    while data:
        decoder = _zstandard.ZstdDecompressor(max_window_size=1 << ZSTD_WINDOW_LOG_MAX).decompressobj()
        position = 0
        while position < len(data) and not decoder.eof:
            out += decoder.decompress(data[position:position + _ZSTD_FEED])
            position += _ZSTD_FEED
            if len(out) > limit:
                return None
        if not decoder.eof:
            raise EOFError("the compressed body is cut short")
        data = decoder.unused_data + data[position:]
    return bytes(out)


def encode(body: bytes, content_encoding: str | None) -> bytes:
    """`body` encoded with the coding named (at this module's levels); Unsupported for an unknown one."""
    coding = check(content_encoding)
    if coding in IDENTITY:
        return body
    if coding in ("gzip", "x-gzip"):
        encoder = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)  # gzip, mtime 0
        return encoder.compress(body) + encoder.flush()
    if coding in ("deflate", "deflateraw"):
        return zlib.compress(body, ZLIB_LEVEL)
    if coding == "br":
        return brotli.compress(body, quality=BROTLI_QUALITY)
    if _zstd_std is not None:
        return _zstd_std.compress(body, level=ZSTD_LEVEL)
    if _zstandard is None:
        raise Unsupported("no zstd module is installed")
    return _zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body)
