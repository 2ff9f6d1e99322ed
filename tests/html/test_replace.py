"""`$replace` on response bodies: read in their encoding, replaced, written back byte for byte elsewhere."""

from __future__ import annotations

import time

import pytest

from filters.html.replace import replace_body, replaceable
from filters.html.rewrite import PageTimeout

ENABLED = ('/"enabled":true/"enabled":false/', "||welt.de/homadConfigEnabled.json$xhr,replace=... (u.txt:1)")


def test_json_in_utf8():
    done = replace_body(b'{"enabled":true,"name":"\xc3\xa9t\xc3\xa9"}', "application/json", [ENABLED])
    assert done.body == b'{"enabled":false,"name":"\xc3\xa9t\xc3\xa9"}' and done.applied == (ENABLED[1],)


def test_nothing_matched_keeps_the_very_bytes():
    body = b'{"enabled":false}'
    done = replace_body(body, "application/json", [ENABLED])
    assert done.body is body and done.applied == () and done.reason is None


def test_undecodable_bytes_come_back_unchanged():
    body = b'var a="\xff\xfe";var conf={"enabled":true};'
    done = replace_body(body, "application/javascript", [ENABLED])
    assert done.body == b'var a="\xff\xfe";var conf={"enabled":false};'


def test_the_charset_of_the_header_and_of_the_page():
    latin = 'x="caf\u00e9";{"enabled":true}'.encode("cp1252")
    assert replace_body(latin, "text/javascript; charset=iso-8859-1", [("/caf\u00e9/tea/", "r")]).body == \
        b'x="tea";{"enabled":true}'
    page = '<html><head><meta charset="windows-1251"></head><body>\u0440\u0435\u043a\u043b\u0430\u043c\u0430</body>'
    done = replace_body(page.encode("cp1251"), "text/html", [("/\u0440\u0435\u043a\u043b\u0430\u043c\u0430/-/", "r")])
    assert done.body == page.replace("\u0440\u0435\u043a\u043b\u0430\u043c\u0430", "-").encode("cp1251")


def test_a_byte_order_mark_stays():
    body = "\ufeff{\"enabled\":true}".encode("utf-16-le")
    done = replace_body(b"\xff\xfe" + body[2:], "application/json", [ENABLED])
    assert done.body == b"\xff\xfe" + '{"enabled":false}'.encode("utf-16-le")


def test_a_replacement_the_encoding_cannot_hold_leaves_the_body_alone():
    body = b'x="ad"'
    done = replace_body(body, "text/javascript; charset=windows-1252", [("/ad/\u4e00/", "r")])
    assert done.body is body and "windows-1252" in done.reason


def test_replacements_run_in_order_and_each_is_named_when_it_matched():
    done = replace_body(b"aaa", "text/plain", [("/a/b/", "first"), ("/c/d/", "second"), ("/b/c/g", "third")])
    assert done.body == b"caa" and done.applied == ("first", "third")


def test_the_deadline_is_kept_between_replacements():
    with pytest.raises(PageTimeout):
        replace_body(b"aaa", "text/plain", [("/a/b/", "r")], deadline=time.monotonic() - 1)


@pytest.mark.parametrize("content_type, request_type, expected", [
    ("application/json; charset=utf-8", "xmlhttprequest", True),
    ("text/html", "document", True),
    ("application/javascript", "script", True),
    ("application/vnd.apple.mpegurl", "xmlhttprequest", True),
    ("application/ld+json", "other", True),
    ("", "script", True),
    ("", "xmlhttprequest", False),
    ("image/svg+xml", "image", False),
    ("application/octet-stream", "other", False),
    ("text/plain", "media", False),
])
def test_replaceable(content_type, request_type, expected):
    assert replaceable(content_type, request_type) is expected
