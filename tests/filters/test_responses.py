"""What clients get instead of the real thing: answers by request type, and escaped pages."""

from __future__ import annotations

import html

import pytest

from filters.responses import (
    EMPTY_HTML,
    TRANSPARENT_GIF,
    blocked_answer,
    dejunk_header,
    error_answer,
    failure_status,
    policy_page,
)

HOSTILE = '"><script>alert(1)</script>&amp;'


def test_the_gif_is_a_valid_1x1_gif():
    assert TRANSPARENT_GIF.startswith(b"GIF89a")
    assert int.from_bytes(TRANSPARENT_GIF[6:8], "little") == 1
    assert int.from_bytes(TRANSPARENT_GIF[8:10], "little") == 1
    assert TRANSPARENT_GIF.endswith(b";")


@pytest.mark.parametrize(
    "request_type,status,content_type,body",
    [
        ("image", 200, "image/gif", TRANSPARENT_GIF),
        ("subdocument", 200, "text/html; charset=utf-8", EMPTY_HTML),
        ("script", 403, "text/plain", b""),
        ("xmlhttprequest", 403, "text/plain", b""),
        ("other", 403, "text/plain", b""),
    ],
)
def test_blocked_answer_by_type(request_type, status, content_type, body):
    answer = blocked_answer(request_type, "http://ads.test/x", "||ads.test^", "list.txt:3")
    assert (answer.status, answer.headers["Content-Type"], answer.body) == (status, content_type, body)
    assert answer.headers["X-Dejunk"] == "blocked; rule=||ads.test^"


def test_blocked_document_page_names_url_rule_and_location_escaped():
    answer = blocked_answer("document", "http://ads.test/?q=" + HOSTILE, "||ads.test^" + HOSTILE, "my<list>.txt:7")
    page = answer.body.decode()
    assert answer.status == 403
    assert "<script>alert" not in page
    assert html.escape("http://ads.test/?q=" + HOSTILE) in page
    assert html.escape("||ads.test^" + HOSTILE) in page
    assert "my&lt;list&gt;.txt:7" in page


def test_policy_page_escapes():
    page = policy_page("http://x.test/" + HOSTILE, "x.test", HOSTILE).decode()
    assert "<script>alert" not in page and html.escape(HOSTILE) in page


@pytest.mark.parametrize("kind", ["dns", "refused", "connect_timeout", "response_timeout", "tls", "reset", "protocol"])
def test_error_page_names_host_port_and_failure(kind):
    answer = error_answer(kind, "https://shop.test/" + HOSTILE, "shop.test", 8443, "detail " + HOSTILE, 20)
    page = answer.body.decode()
    assert answer.status == failure_status(kind)
    assert "shop.test:8443" in page and f">{kind}<" in page
    assert "<script>alert" not in page
    assert html.escape("detail " + HOSTILE) in page
    assert answer.headers["X-Dejunk"] == f"upstream {kind}"


def test_timeouts_are_504_and_the_rest_502():
    assert failure_status("connect_timeout") == failure_status("response_timeout") == 504
    assert {failure_status(k) for k in ("dns", "refused", "tls", "reset", "protocol")} == {502}


def test_error_page_states_the_timeout():
    page = error_answer("response_timeout", "http://slow.test/", "slow.test", 80, "x", 60).body.decode()
    assert "within 60 seconds" in page


def test_header_value_is_single_line_latin1():
    value = dejunk_header("blocked", "||x^\r\nSet-Cookie: a=b ✓")
    assert "\r" not in value and "\n" not in value
    value.encode("latin-1")


def test_blocked_page_hides_itself_when_framed():
    # A frame over plain HTTP cannot be told from a page by its headers; the page can tell.
    page = blocked_answer("document", "http://ads.test/f", "||ads.test^", "l.txt:1").body.decode()
    head = page.split("</head>")[0]
    assert "window.self !== window.top" in head and "display = 'none'" in head
    assert "window.top" not in error_answer("dns", "http://x.test/", "x.test", 80, "m").body.decode()
