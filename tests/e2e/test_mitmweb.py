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
import sys
from pathlib import Path

import pytest

from .harness import Proxy, fetch

MITMWEB = str(Path(sys.executable).with_name("mitmweb"))
_WEB_LISTENING = re.compile(r"Web server listening at http://[^:]+:(\d+)/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mitmweb(Proxy):
    """A mitmweb with dejunk on free loopback ports, no browser."""

    program = MITMWEB

    def __init__(self, workdir: Path, test_list: Path):
        self.web_port = free_port()
        super().__init__(workdir, name="mitmweb", options={
            "dejunk_lists": [test_list], "web_open_browser": False, "web_host": "127.0.0.1", "web_port": self.web_port,
        })
        self.wait_for_log(_WEB_LISTENING)
        self.cookie = ""
        self.xsrf = ""

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
    assert f"{allowed_url}\n  recorded: removed 1 ad element\n  now (document): allowed: no rule matched" in text

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
    docs = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = re.split(r"\n##+ ", docs.split("### dejunk's flows in mitmweb", 1)[1], maxsplit=1)[0]
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
        "rewritten": flow(":scissors:", "removed 3 ad elements", {"action": "rewritten", "removed": 3}),
        "modified": flow(":pencil2:", "parameters removed by $removeparam=utm_source (easyprivacy.txt:7)",
                         {"removeparam_url": "https://shop.example/?id=1"}),
        "allowed_site": flow(metadata={"action": "allowed_site", "pattern": "news.example"}),
        "exception": flow(metadata={"exception": "@@||cdn.example^"}),
        "untouched": flow(),
    }
    # A streamed response's byte count is not something dejunk did to the flow.
    flows["untouched"].metadata["dejunk_streamed_bytes"] = 512
    dejunk_marked = {"blocked", "policy", "upstream", "rewritten", "modified"}
    expected = {
        "~marker :no_entry_sign:": {"blocked"},
        "~marker :shield:": {"policy"},
        "~marker :warning:": {"upstream"},
        "~marker :pencil2:": {"modified"},
        "~marker :scissors:": {"rewritten"},
        "~marked": dejunk_marked,
        "~comment .": dejunk_marked,
        '~comment "blocked by"': {"blocked"},
        "~comment easyprivacy": {"blocked", "modified"},
        '~meta "^dejunk:"': set(flows) - {"untouched"},
        "~hs X-Dejunk": dejunk_marked - {"modified", "rewritten"},
    }
    assert set(documented_filters()) <= set(expected), "every documented expression is checked here"
    for expression, names in expected.items():
        matcher = flowfilter.parse(expression)
        assert {name for name, f in flows.items() if matcher(f)} == names, expression
