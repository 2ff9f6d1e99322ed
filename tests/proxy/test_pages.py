"""What clients get instead of the real thing: answers by request type, and escaped pages."""

from __future__ import annotations

import html

import pytest

from filters.proxy.pages import (
    EMPTY_HTML,
    TLS_CAUSE_PATTERNS,
    TLS_CAUSE_WORDS,
    TRANSPARENT_GIF,
    blocked_answer,
    dejunk_header,
    error_answer,
    failure_status,
    policy_page,
    tls_cause,
    tls_reason,
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


# Upstream TLS failures as mitmproxy reported them, each produced for real by tests/e2e/test_tls_failures.py
# (a real mitmdump, curl, loopback servers). The strings are the reasons mitmproxy sets on the server
# connection; dejunk's page receives them as "TLS handshake failed: <reason>".
# v11: mitmproxy 11.0.2, pyOpenSSL 24.3.0, OpenSSL 3.4.1 (cryptography 44.0.3);
# v12: mitmproxy 12.3.1, pyOpenSSL 26.4.0, OpenSSL 4.0.3 (cryptography 50.0.2). "both" when equal.
OBSERVED_TLS_FAILURES = [
    # (server, versions, mitmproxy's reason, cause)
    ("self-signed leaf", "both", "Certificate verify failed: self-signed certificate", "untrusted"),
    ("leaf from an unknown CA", "both",
     "Certificate verify failed: unable to get local issuer certificate", "untrusted"),
    ("leaf without its intermediate", "both",
     "Certificate verify failed: unable to get local issuer certificate", "untrusted"),
    ("leaf for other.test", "both", "Certificate verify failed: hostname mismatch", "name_mismatch"),
    ("leaf for a name, fetched by IP", "both", "Certificate verify failed: IP address mismatch", "name_mismatch"),
    ("expired leaf", "both", "Certificate verify failed: certificate has expired", "expired"),
    ("leaf valid from tomorrow", "v11", "Certificate verify failed: certificate is not yet valid", "not_yet_valid"),
    ("leaf valid from tomorrow", "v12",
     "Certificate verify failed: certificate is not yet valid or the system clock is incorrect", "not_yet_valid"),
    ("RSA-1024 leaf", "both", "Certificate verify failed: EE certificate key too weak", "certificate_rejected"),
    ("server limited to TLS 1.0", "both",
     ("The remote server and mitmproxy cannot agree on a TLS version to use. "
      "You may need to adjust mitmproxy's tls_version_server_min option."), "version"),
    ("TLS 1.0 ServerHello", "both", "OpenSSL Error([('SSL routines', '', 'unsupported protocol')])", "version"),
    ("no common cipher; client certificate required (TLS 1.2)", "v11",
     "OpenSSL Error([('SSL routines', '', 'ssl/tls alert handshake failure')])", "handshake_refused"),
    ("no common cipher; client certificate required (TLS 1.2)", "v12",
     "OpenSSL Error([('SSL routines', '', 'tls alert handshake failure')])", "handshake_refused"),
    ("plain HTTP server", "both", "The remote server does not speak TLS.", "not_tls"),
    ("binary junk", "v11",
     "OpenSSL Error([('SSL routines', '', 'packet length too long'), ('SSL routines', '', 'record layer failure')])",
     "not_tls"),
    ("binary junk", "v12", "OpenSSL Error([('SSL routines', '', 'wrong version number')])", "not_tls"),
    ("close or reset after the ClientHello", "both", "connection closed", "closed"),
    ("SNI callback: unrecognized name", "both",
     "OpenSSL Error([('SSL routines', '', 'tlsv1 unrecognized name')])", "other"),
    ("SNI callback: access denied", "both",
     "OpenSSL Error([('SSL routines', '', 'tlsv1 alert access denied')])", "other"),
    ("malformed ServerHello", "both", "OpenSSL Error([('SSL routines', '', 'bad length')])", "other"),
]


@pytest.mark.parametrize("server,versions,reason,cause", OBSERVED_TLS_FAILURES,
                         ids=[f"{c[0]}-{c[1]}" for c in OBSERVED_TLS_FAILURES])
def test_tls_cause_of_observed_messages(server, versions, reason, cause):
    # As the page gets it (recorded by the TLS hook) and as the flow's own error says it.
    assert tls_cause(f"TLS handshake failed: {reason}") == cause
    assert tls_cause(reason) == cause


def test_every_tls_cause_has_words_and_a_real_message():
    assert {cause for cause, _ in TLS_CAUSE_PATTERNS} | {"other"} == set(TLS_CAUSE_WORDS)
    assert {cause for *_, cause in OBSERVED_TLS_FAILURES} == set(TLS_CAUSE_WORDS)


def test_tls_cause_words_are_not_case_sensitive():
    assert tls_cause("Hostname mismatch") == "name_mismatch"
    assert tls_cause("CERTIFICATE HAS EXPIRED") == "expired"


@pytest.mark.parametrize(
    "message,reason",
    [
        ("TLS handshake failed: Certificate verify failed: hostname mismatch", "hostname mismatch"),
        ("TLS handshake failed: The remote server does not speak TLS.", "The remote server does not speak TLS"),
        ("TLS handshake failed: OpenSSL Error([('SSL routines', '', 'tlsv1 unrecognized name')])",
         "tlsv1 unrecognized name"),
        (("OpenSSL Error([('SSL routines', '', 'packet length too long'), "
          "('SSL routines', '', 'record layer failure')])"),
         "packet length too long; record layer failure"),
        ("TLS handshake failed: ", "unknown error"),
    ],
)
def test_tls_reason_strips_the_wrapping(message, reason):
    assert tls_reason(message) == reason


@pytest.mark.parametrize(
    "reason,title,words",
    [
        ("Certificate verify failed: self-signed certificate", "Untrusted certificate", "self-signed certificate"),
        ("Certificate verify failed: hostname mismatch", "Certificate for another name", "different name"),
        ("Certificate verify failed: certificate has expired", "Certificate expired", "has expired"),
        ("Certificate verify failed: certificate is not yet valid", "Certificate not yet valid", "date and time"),
        ("Certificate verify failed: EE certificate key too weak", "Certificate rejected",
         "EE certificate key too weak"),
        ("OpenSSL Error([('SSL routines', '', 'unsupported protocol')])", "No common TLS version",
         "tls_version_server_min"),
        ("OpenSSL Error([('SSL routines', '', 'tls alert handshake failure')])", "TLS handshake refused",
         "ciphers_server"),
        ("The remote server does not speak TLS.", "Server does not speak TLS", "http://"),
        ("connection closed", "Connection closed during the TLS handshake", "without saying why"),
        ("OpenSSL Error([('SSL routines', '', 'bad length')])", "Secure connection failed", "failed: bad length."),
    ],
)
def test_tls_page_says_the_cause_and_names_the_host(reason, title, words):
    answer = error_answer("tls", "https://shop.test:8443/", "shop.test", 8443, f"TLS handshake failed: {reason}", 20)
    page = answer.body.decode()
    assert answer.status == 502
    assert f"<title>502 {title}</title>" in page and f"<h1>502 {title}</h1>" in page
    assert html.escape(words) in page
    lead = page.split("<p>", 1)[1].split("</p>", 1)[0]
    assert "shop.test" in lead


def test_certificate_pages_warn_against_bypassing():
    for reason in ("self-signed certificate", "hostname mismatch", "certificate has expired"):
        message = f"TLS handshake failed: Certificate verify failed: {reason}"
        page = error_answer("tls", "https://a.test/", "a.test", 443, message).body.decode()
        assert "intercepting" in page and "ssl_insecure" in page and "testing only" in page
        assert "Try again later" not in page  # waiting does not fix a certificate


def test_tls_page_escapes_a_hostile_reason_and_host():
    hostile_reason = "OpenSSL Error([('SSL routines', '', '<script>alert(1)</script>')])"
    page = error_answer("tls", "https://x.test/", "<b>x.test", 443, hostile_reason).body.decode()
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;x.test" in page


def test_tls_reason_with_braces_is_shown_as_is():
    # Host and reason are values, never part of the template.
    page = error_answer("tls", "https://x.test/", "x.test", 443, "weird {host} {0} failure").body.decode()
    assert "weird {host} {0} failure." in page


@pytest.mark.parametrize("make", [
    lambda text: blocked_answer("document", "http://ads.test/" + text, "||ads.test^" + text, "list.txt:1").body,
    lambda text: policy_page("http://x.test/" + text, "x.test", text),
    lambda text: error_answer("reset", "https://shop.test/", "shop.test", 443, "closed " + text, 20).body,
    lambda text: error_answer("tls", "https://shop.test/", "shop.test", 443, "certificate for " + text).body,
])
def test_pages_show_control_characters_as_escapes(make):
    page = make("\x1b[2J\u202eevil\r\n").decode()
    assert "\\x1b[2J\\u202eevil\\x0d\\x0a" in page
    assert not any(c in page for c in "\x1b\u202e\r")
