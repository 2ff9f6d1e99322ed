"""Encoding detection (BOM, header, <meta>) and mapping decoded offsets back to bytes."""

from __future__ import annotations

import pytest

from filters.html import charset


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("utf-8", "UTF-8"),
        ("UTF8", "UTF-8"),
        ("  latin1 ", "windows-1252"),
        ("ISO-8859-1", "windows-1252"),
        ("us-ascii", "windows-1252"),
        ("windows-1251", "windows-1251"),
        ("cp1251", "windows-1251"),
        ("Shift_JIS", "Shift_JIS"),
        ("sjis", "Shift_JIS"),
        ("gb2312", "GBK"),
        ("euc-kr", "EUC-KR"),
        ("koi8-r", "KOI8-R"),
        ("iso-2022-jp", "ISO-2022-JP"),
        ("utf-16", "UTF-16LE"),
        ("no-such-charset", None),
        ("rot13", None),
        ("", None),
        (None, None),
    ],
)
def test_labels_follow_the_encoding_standard(label, name):
    assert charset.lookup(label) == name


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("text/html; charset=utf-8", "utf-8"),
        ('text/html; charset="windows-1251"', "windows-1251"),
        ("text/html;charset='Shift_JIS' ; foo=bar", "Shift_JIS"),
        ("text/html; Charset = ISO-8859-1", "ISO-8859-1"),
        ("text/html", None),
        ("text/html; charset=", None),
        (None, None),
    ],
)
def test_charset_parameter_of_content_type(header, value):
    assert charset.charset_from_content_type(header) == value


def test_bom_wins_over_header_and_meta():
    body = b"\xef\xbb\xbf<meta charset=windows-1251>x"
    found = charset.detect(body, "text/html; charset=iso-8859-1")
    assert (found.name, found.source, found.bom_length) == ("UTF-8", "bom", 3)
    assert charset.detect(b"\xff\xfe<\x00p\x00>\x00", None).name == "UTF-16LE"
    assert charset.detect(b"\xfe\xff\x00<\x00p\x00>", None).name == "UTF-16BE"


def test_header_wins_over_meta():
    found = charset.detect(b"<meta charset=windows-1251>", "text/html; charset=koi8-r")
    assert (found.name, found.source) == ("KOI8-R", "header")


def test_unknown_header_label_falls_back_to_meta():
    found = charset.detect(b"<meta charset=windows-1251>", "text/html; charset=bogus")
    assert (found.name, found.source) == ("windows-1251", "meta")


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b'<meta charset="windows-1251">', "windows-1251"),
        (b"<META CHARSET=Shift_JIS>", "Shift_JIS"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">', "EUC-JP"),
        (b"<meta content='text/html;charset=gbk' http-equiv='content-type'>", "GBK"),
        (b'<meta name="x" content="charset=koi8-r">', None),  # no http-equiv
        (b"<!-- <meta charset=koi8-r> --><meta charset=iso-8859-2>", "ISO-8859-2"),
        (b'<div title="<meta charset=koi8-r>"><meta charset=iso-8859-5>', "ISO-8859-5"),
        (b"<meta charset=utf-16>", "UTF-8"),  # a page readable as ASCII is not UTF-16
        (b"<meta charset=x-user-defined>", "windows-1252"),
        (b"<meta charset=nonsense><meta charset=koi8-u>", "KOI8-U"),
        (b"<metadata charset=koi8-r>", None),
    ],
)
def test_meta_prescan(head, name):
    assert charset.prescan_meta(b"<!DOCTYPE html><html><head>" + head + b"</head>") == name


def test_meta_after_the_first_1024_bytes_is_not_seen():
    body = b"<html><head><!--" + b"x" * 1100 + b"--><meta charset=windows-1251>"
    assert charset.prescan_meta(body) is None


def test_default_is_utf8_when_valid_else_windows_1252():
    assert charset.detect("<p>café</p>".encode()).name == "UTF-8"
    found = charset.detect("<p>café</p>".encode("cp1252"))
    assert (found.name, found.source) == ("windows-1252", "default")


@pytest.mark.parametrize(
    ("encoding_name", "text"),
    [
        ("UTF-8", "<p>Ünïcödé — 日本語 😀</p><div>x</div>"),
        ("windows-1251", "<p>Привет, мир</p><div>x</div>"),
        ("Shift_JIS", "<p>日本語のページ</p><div>x</div>"),
        ("GBK", "<p>中文网页</p><div>x</div>"),
        ("EUC-KR", "<p>한국어</p><div>x</div>"),
        ("UTF-16LE", "<p>Ünïcödé</p><div>x</div>"),
    ],
)
def test_byte_offsets_match_the_original_bytes(encoding_name, text):
    encoding = charset.PageEncoding(encoding_name, charset.codec_for(encoding_name), "header")
    body = text.encode(encoding.codec)
    decoded = charset.decode(body, encoding)
    assert decoded == text
    offsets = charset.ByteOffsets(decoded, encoding)
    div = decoded.index("<div>")
    start = offsets(div)
    end = offsets(div + len("<div>x</div>"))
    assert body[start:end] == "<div>x</div>".encode(encoding.codec)
    assert offsets(len(decoded)) == len(body)


def test_undecodable_bytes_keep_their_place():
    body = b"<p>caf\xe9 \xff\xfe</p><div>x</div>"  # Latin-1 bytes in a page declared UTF-8
    encoding = charset.detect(body, "text/html; charset=utf-8")
    decoded = charset.decode(body, encoding)
    offsets = charset.ByteOffsets(decoded, encoding)
    start = offsets(decoded.index("<div>"))
    assert body[start:] == b"<div>x</div>"
    assert decoded.encode("utf-8", "surrogateescape") == body


def test_bom_is_counted_in_byte_offsets():
    body = b"\xef\xbb\xbf<p>a</p>"
    encoding = charset.detect(body)
    decoded = charset.decode(body, encoding)
    assert decoded == "<p>a</p>"
    assert charset.ByteOffsets(decoded, encoding)(3) == 6


def test_offsets_must_ascend():
    encoding = charset.detect(b"abc")
    offsets = charset.ByteOffsets("abc", encoding)
    offsets(2)
    with pytest.raises(ValueError):
        offsets(1)


def test_stateful_encodings_are_flagged():
    assert charset.PageEncoding("ISO-2022-JP", "iso2022_jp", "meta").stateful
    assert not charset.PageEncoding("Shift_JIS", "cp932", "meta").stateful


def test_xhtml_uses_the_xml_declaration_not_meta():
    body = b'<?xml version="1.0" encoding="windows-1251"?><html><head><meta charset="koi8-r"/></head></html>'
    found = charset.detect(body, "application/xhtml+xml")
    assert (found.name, found.source) == ("windows-1251", "xml")
    found = charset.detect(b'<html><head><meta charset="koi8-r"/></head></html>', "application/xhtml+xml")
    assert (found.name, found.source) == ("UTF-8", "xml")
    assert charset.detect(body, "text/html").name == "KOI8-R"  # as HTML, the XML declaration means nothing
