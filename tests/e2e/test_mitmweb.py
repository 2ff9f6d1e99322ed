"""dejunk in a real mitmweb: a request through its proxy, then dejunk commands through mitmweb's own command API.

The web page runs a command with `POST /commands/<name>`, body `{"arguments": [...]}`, sending
the `_xsrf` cookie it got with the page back in an `X-XSRFToken` header; this test does the same.
"""

from __future__ import annotations

import http.client
import http.cookies
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .harness import ADDON, RESOLVER, fetch

MITMWEB = str(Path(sys.executable).with_name("mitmweb"))
_PROXY_LISTENING = re.compile(r"proxy listening at [^:]+:(\d+)")
_WEB_LISTENING = re.compile(r"Web server listening at http://[^:]+:(\d+)/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mitmweb:
    """A mitmweb with dejunk on free loopback ports, no browser."""

    def __init__(self, workdir: Path, test_list: Path):
        self.workdir = workdir
        self.confdir = workdir / "mitmweb-conf"
        self.log_path = workdir / "mitmweb.log"
        self.events_path = workdir / "mitmweb-events.jsonl"
        self.web_port = free_port()
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [MITMWEB, "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={self.confdir}",
             "--set", "web_open_browser=false", "--set", "web_host=127.0.0.1", "--set", f"web_port={self.web_port}",
             "-s", str(RESOLVER), "-s", str(ADDON), "--set", f"dejunk_lists={test_list}",
             "--set", f"dejunk_events={self.events_path}"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
        )
        self.port = self._wait(_PROXY_LISTENING)
        self._wait(_WEB_LISTENING)
        self.cookie = ""
        self.xsrf = ""

    # `fetch` from the harness needs these
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait(self, pattern: re.Pattern, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.log())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"mitmweb exited ({self.process.returncode}):\n{self.log()}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mitmweb did not start within {timeout} s:\n{self.log()}")

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Set-Cookie") or "", response.read()
        finally:
            connection.close()

    def open_page(self) -> None:
        """Load the web page, as a browser does, and keep its XSRF cookie."""
        status, set_cookie, _ = self._request("GET", "/")
        assert status == 200
        cookie = http.cookies.SimpleCookie()
        cookie.load(set_cookie)
        self.xsrf = cookie["_xsrf"].value
        self.cookie = f"_xsrf={self.xsrf}"

    def command(self, name: str, *arguments: str, xsrf: bool = True) -> tuple[int, dict | str]:
        headers = {"Content-Type": "application/json", "Cookie": self.cookie}
        if xsrf:
            headers["X-XSRFToken"] = self.xsrf
        status, _, body = self._request("POST", f"/commands/{name}", json.dumps({"arguments": list(arguments)}).encode(), headers)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


@pytest.fixture(scope="module")
def mitmweb(workdir, test_list):
    instance = Mitmweb(workdir, test_list)
    yield instance
    instance.stop()


def test_dejunk_commands_through_mitmwebs_command_api(mitmweb, origin):
    blocked_url = f"http://ads.test:{origin.port}/ad.js"
    allowed_url = f"http://site.test:{origin.port}/page.html"
    assert fetch(mitmweb, blocked_url, headers={"Sec-Fetch-Dest": "script"}, max_time=10).status == 403
    assert fetch(mitmweb, allowed_url, max_time=10).status == 200
    mitmweb.open_page()

    status, answer = mitmweb.command("dejunk.stats")
    assert status == 200, answer
    assert "blocked: 1" in answer["value"] and "requests: 2" in answer["value"]

    status, answer = mitmweb.command("dejunk.explain", "@all")
    assert status == 200, answer
    text = answer["value"]
    assert (f"{blocked_url}\n  recorded: blocked by ||ads.test^ (test-list.txt:3)\n"
            "  now (script): blocked by ||ads.test^ (test-list.txt:3)") in text
    assert f"{allowed_url}\n  now (document): allowed: no rule matched" in text

    # The documented filter expression selects dejunk's blocked flows only.
    status, answer = mitmweb.command("dejunk.explain", "~marker :no_entry_sign:")
    assert status == 200 and blocked_url in answer["value"] and allowed_url not in answer["value"]

    status, answer = mitmweb.command("dejunk.explain", "https://ad.ads.test/x.js", "https://news.test/", "script")
    assert answer["value"].endswith("blocked by ||ads.test^ (test-list.txt:3)")


def test_the_command_api_refuses_a_request_without_the_xsrf_header(mitmweb):
    mitmweb.open_page()
    status, _ = mitmweb.command("dejunk.stats", xsrf=False)
    assert status == 403


def documented_filters() -> list[str]:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text()
    section = docs.split("### dejunk's flows in mitmweb", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, re.M)


def test_documented_filter_expressions_select_dejunks_flows():
    from mitmproxy import flowfilter
    from mitmproxy.test import tflow

    def flow(marker="", comment="", metadata=None, header=None):
        f = tflow.tflow(resp=True)
        f.marked, f.comment = marker, comment
        if metadata is not None:
            f.metadata["dejunk"] = metadata
        if header:
            f.response.headers["X-Dejunk"] = header
        return f

    flows = {
        "blocked": flow(":no_entry_sign:", "blocked by ||ads.example^ (easyprivacy.txt:12)",
                        {"action": "blocked"}, "blocked; rule=||ads.example^"),
        "policy": flow(":shield:", "image policy rejects img.example (@bad)", {"action": "policy_image"},
                       "policy image; rule=@bad"),
        "upstream": flow(":warning:", "upstream failed (dns): Name or service not known",
                         {"action": "upstream_error", "kind": "dns"}, "upstream dns"),
        "allowed_site": flow(metadata={"action": "allowed_site", "pattern": "news.example"}),
        "exception": flow(metadata={"exception": "@@||cdn.example^"}),
        "untouched": flow(),
    }
    dejunk_marked = {"blocked", "policy", "upstream"}
    expected = {
        "~marker :no_entry_sign:": {"blocked"},
        "~marker :shield:": {"policy"},
        "~marker :warning:": {"upstream"},
        "~marked": dejunk_marked,
        "~comment .": dejunk_marked,
        '~comment "blocked by"': {"blocked"},
        "~comment easyprivacy": {"blocked"},
        "~meta dejunk": set(flows) - {"untouched"},
        "~hs X-Dejunk": dejunk_marked,
    }
    assert set(documented_filters()) <= set(expected), "every documented expression is checked here"
    for expression, names in expected.items():
        matcher = flowfilter.parse(expression)
        assert {name for name, f in flows.items() if matcher(f)} == names, expression
