"""Every real cause of a failed upstream TLS handshake gets a page that says what went wrong.

A real mitmdump with dejunk verifies upstream certificates against a test CA made here
(`ssl_verify_upstream_trusted_ca`), so each loopback server below breaks exactly one thing; curl
fetches through it. The message mitmproxy gives for each server must be one recorded in
`OBSERVED_TLS_FAILURES` (the unit tests' data), so that data stays what mitmproxy really says.
"""

from __future__ import annotations

import datetime
import html
import os
import re
import socket
import ssl
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from mitmproxy.version import VERSION as MITMPROXY_VERSION

from tests.proxy.test_pages import OBSERVED_TLS_FAILURES

from .harness import Proxy, fetch
from .origin import PlainHttpOnly, Silent, start_origin

# Which recorded messages apply: mitmproxy 11 ships with OpenSSL 3.4, mitmproxy 12 with OpenSSL 4.
MITMPROXY_LINE = "v11" if MITMPROXY_VERSION.startswith("11.") else "v12"
CONNECT_TIMEOUT = 3
_DETAIL = re.compile(r"<dt>Detail</dt><dd class=\"url\">(.*?)</dd>", re.S)


# --- certificates ---------------------------------------------------------------------------------


@dataclass
class Issued:
    """A certificate with its key, and the chain a server sends for it (itself first, no root)."""

    cert: object
    key: object
    chain: list
    self_signed: bool


class Pki:
    """A test CA the proxy trusts, an unknown CA, and leaves made on demand."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._count = 0
        self.ca = self.issue("dejunk test CA", None, ca=True, valid_days=30)
        self.unknown_ca = self.issue("unknown test CA", None, ca=True, valid_days=30)
        self.intermediate = self.issue("dejunk test intermediate", self.ca, ca=True, valid_days=30)
        self.ca_path = directory / "tls-test-ca.pem"
        self.ca_path.write_bytes(self._pem(self.ca.cert))

    def issue(self, name: str, issuer: Issued | None, *, ca: bool = False, dns: tuple[str, ...] = (),
              valid_from_days: int = -1, valid_days: int = 3, rsa_bits: int | None = None) -> Issued:
        """A certificate for `name` signed by `issuer` (self-signed without one)."""
        if rsa_bits:
            key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=valid_from_days)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.cert.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                              key_encipherment=False, data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
        if dns:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
        cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
        above = issuer.chain if issuer is not None and not issuer.self_signed else []
        return Issued(cert, key, [cert, *above], self_signed=issuer is None)

    def leaf(self, *, issuer: Issued | None = None, dns: tuple[str, ...] = ("site.test",), **kwargs) -> Issued:
        return self.issue(dns[0], self.ca if issuer is None else issuer, dns=dns, **kwargs)

    def server_context(self, issued: Issued, *, send_chain: bool = True, legacy: bool = False) -> ssl.SSLContext:
        """A server context presenting `issued` (with its intermediates unless told not to).

        `legacy` drops OpenSSL's security level to 0, which weak keys and TLS 1.0 need.
        """
        self._count += 1
        cert_path = self.directory / f"tls-server-{self._count}.pem"
        key_path = self.directory / f"tls-server-{self._count}-key.pem"
        chain = issued.chain if send_chain else issued.chain[:1]
        cert_path.write_bytes(b"".join(self._pem(c) for c in chain))
        key_path.write_bytes(issued.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if legacy:
            context.set_ciphers("ALL:@SECLEVEL=0")
        context.load_cert_chain(cert_path, key_path)
        return context

    @staticmethod
    def _pem(cert) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)


# --- servers that break the handshake by hand -----------------------------------------------------


class AfterClientHello(Silent):
    """Reads the ClientHello, sends `reply` (maybe nothing), then closes, or resets with `reset`."""

    def __init__(self, reply: bytes = b"", reset: bool = False):
        self.reply = reply
        self.reset = reset
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(2)
            conn.recv(4096)
            if self.reply:
                conn.sendall(self.reply)
                conn.recv(4096)  # the client's alert, or its close
            if self.reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            conn.close()


def server_hello(version: bytes, trailing: bytes = b"") -> bytes:
    """A bare ServerHello record (no session id, ECDHE-RSA-AES128-SHA, no compression) + `trailing`."""
    body = version + os.urandom(32) + b"\x00" + b"\xc0\x13" + b"\x00" + trailing
    message = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message


def tls10_only(pki: Pki) -> ssl.SSLContext:
    context = pki.server_context(pki.leaf(), legacy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point here
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1
    return context


def no_common_cipher(pki: Pki) -> ssl.SSLContext:
    # ARIA is in OpenSSL but not in the cipher list mitmproxy offers servers; TLS 1.3 would not use it.
    context = pki.server_context(pki.leaf())
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-ARIA128-GCM-SHA256")
    return context


def client_certificate_required(pki: Pki) -> ssl.SSLContext:
    # TLS 1.2: the server rejects the missing client certificate inside the handshake.
    context = pki.server_context(pki.leaf())
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki.ca_path)
    return context


def sni_alert(pki: Pki, alert) -> ssl.SSLContext:
    context = pki.server_context(pki.leaf())
    context.sni_callback = lambda sock, name, ctx: alert
    return context


@dataclass
class Case:
    """One broken server: its entry in OBSERVED_TLS_FAILURES, the page title and words the page must show."""

    observed: str
    start: object  # Pki -> a running server with .port (see stop())
    title: str
    words: str
    host: str = "site.test"


def tls_server(make_context):
    return lambda pki: start_origin(make_context(pki))


CASES = {
    "self-signed": Case("self-signed leaf",
                        tls_server(lambda p: p.server_context(p.issue("site.test", None, dns=("site.test",)))),
                        "Untrusted certificate", "self-signed certificate"),
    "unknown-ca": Case("leaf from an unknown CA", tls_server(lambda p: p.server_context(p.leaf(issuer=p.unknown_ca))),
                       "Untrusted certificate", "unable to get local issuer certificate"),
    "no-intermediate": Case("leaf without its intermediate",
                            tls_server(lambda p: p.server_context(p.leaf(issuer=p.intermediate), send_chain=False)),
                            "Untrusted certificate", "intermediate certificates"),
    "wrong-name": Case("leaf for other.test", tls_server(lambda p: p.server_context(p.leaf(dns=("other.test",)))),
                       "Certificate for another name", "issued for a different name"),
    "ip-address": Case("leaf for a name, fetched by IP", tls_server(lambda p: p.server_context(p.leaf())),
                       "Certificate for another name", "issued for a different name", host="127.0.0.1"),
    "expired": Case("expired leaf", tls_server(lambda p: p.server_context(p.leaf(valid_from_days=-30, valid_days=28))),
                    "Certificate expired", "has expired"),
    "not-yet-valid": Case("leaf valid from tomorrow", tls_server(lambda p: p.server_context(p.leaf(valid_from_days=1))),
                          "Certificate not yet valid", "start date is in the future"),
    "weak-key": Case("RSA-1024 leaf", tls_server(lambda p: p.server_context(p.leaf(rsa_bits=1024), legacy=True)),
                     "Certificate rejected", "EE certificate key too weak"),
    "tls10-server": Case("server limited to TLS 1.0", tls_server(tls10_only), "No common TLS version",
                         "outdated TLS versions"),
    "tls10-hello": Case("TLS 1.0 ServerHello", lambda p: AfterClientHello(server_hello(b"\x03\x01")),
                        "No common TLS version", "tls_version_server_min"),
    "no-common-cipher": Case("no common cipher; client certificate required (TLS 1.2)", tls_server(no_common_cipher),
                             "TLS handshake refused", "shares no cipher"),
    "client-cert": Case("no common cipher; client certificate required (TLS 1.2)",
                        tls_server(client_certificate_required), "TLS handshake refused", "client_certs"),
    "plain-http": Case("plain HTTP server", lambda p: PlainHttpOnly(), "Server does not speak TLS", "plain HTTP"),
    # Not a TLS record, and not ASCII either (mitmproxy words an ASCII answer itself, as for plain-http).
    "binary-junk": Case("binary junk", lambda p: AfterClientHello(bytes(range(255, 0, -1)) * 4),
                        "Server does not speak TLS", "http://"),
    "closed": Case("close or reset after the ClientHello", lambda p: AfterClientHello(),
                   "Connection closed during the TLS handshake", "without saying why"),
    "reset": Case("close or reset after the ClientHello", lambda p: AfterClientHello(reset=True),
                  "Connection closed during the TLS handshake", "without saying why"),
    "unrecognized-name": Case("SNI callback: unrecognized name",
                              tls_server(lambda p: sni_alert(p, ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME)),
                              "Secure connection failed", "failed: tlsv1 unrecognized name."),
    "access-denied": Case("SNI callback: access denied",
                          tls_server(lambda p: sni_alert(p, ssl.ALERT_DESCRIPTION_ACCESS_DENIED)),
                          "Secure connection failed", "failed: tlsv1 alert access denied."),
    # A TLS 1.2 ServerHello whose extensions block claims 5 bytes and holds 1.
    "malformed-hello": Case("malformed ServerHello",
                            lambda p: AfterClientHello(server_hello(b"\x03\x03", b"\x00\x05\xff")),
                            "Secure connection failed", "failed: bad length."),
}


# --- fixtures and tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(workdir):
    return Pki(workdir)


@pytest.fixture(scope="module")
def verifying_proxy(workdir, pki):
    """dejunk verifying upstream certificates against the test CA only."""
    instance = Proxy(workdir, name="tls-verifying", options={
        "dejunk_connect_timeout": CONNECT_TIMEOUT,
        "ssl_verify_upstream_trusted_ca": pki.ca_path,
    })
    yield instance
    instance.stop()


def stop(server) -> None:
    """Origins stop, the raw servers close."""
    if hasattr(server, "stop"):
        server.stop()
    else:
        server.close()


def recorded(observed: str) -> set[str]:
    """The messages recorded for a server on this mitmproxy line."""
    return {reason for name, versions, reason, _ in OBSERVED_TLS_FAILURES
            if name == observed and versions in ("both", MITMPROXY_LINE)}


@pytest.mark.parametrize("issuer", ["ca", "intermediate"])
def test_a_properly_issued_certificate_loads(verifying_proxy, pki, issuer):
    # Without this the failures below could have another cause: the setup itself must work.
    context = pki.server_context(pki.leaf(issuer=getattr(pki, issuer)))
    origin = start_origin(context)
    try:
        result = fetch(verifying_proxy, f"https://site.test:{origin.port}/page.html", max_time=10)
    finally:
        origin.stop()
    assert result.status == 200, result.text()[:500]
    assert "The article text that must survive." in result.text()


@pytest.mark.parametrize("case_id", list(CASES))
@pytest.mark.parametrize("http2", [False, True], ids=["https-http1", "https-http2"])
def test_tls_failure_page_says_the_cause(verifying_proxy, pki, case_id, http2):
    case = CASES[case_id]
    server = case.start(pki)
    try:
        result = fetch(verifying_proxy, f"https://{case.host}:{server.port}/page.html", http2=http2, max_time=10)
    finally:
        stop(server)
    page = result.text()
    assert result.status == 502, (result.status, page[:500])
    assert f"<title>502 {html.escape(case.title)}</title>" in page, page
    assert html.escape(case.words) in page, page
    lead = page.split("<p>", 1)[1].split("</p>", 1)[0]
    assert case.host in lead, lead
    assert f"{case.host}:{server.port}" in page
    assert '<dd class="url">tls</dd>' in page
    assert result.headers["x-dejunk"] == "upstream tls"
    detail = _DETAIL.search(page)
    assert detail, page
    message = html.unescape(detail.group(1)).removeprefix("TLS handshake failed: ")
    assert message in recorded(case.observed), (
        f"mitmproxy {MITMPROXY_VERSION} said {message!r} for {case.observed!r}: record it in OBSERVED_TLS_FAILURES"
    )
    verifying_proxy.wait_for_event(
        lambda e: e["event"] == "upstream_error" and e["host"] == case.host and e["port"] == server.port
        and e["kind"] == "tls"
    )
