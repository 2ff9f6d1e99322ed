"""dejunk in a real mitmweb: a request through its proxy, then dejunk commands through mitmweb's own command API.

The web page runs a command with `POST /commands/<name>`, body `{"arguments": [...]}`, sending
the XSRF cookie it got with the page (`_xsrf` in mitmweb 11, `_mitmproxy_xsrf` in 12) back in an
`X-XSRFToken` header; this test does the same. mitmweb 12 also wants the token it prints in its
"Web server listening at ...?token=..." line, on the page's address and on API calls.
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
        token = re.search(r"Web server listening at \S+\?token=(\w+)", self.log())
        self.token = token.group(1) if token else ""  # mitmweb 11 has none
        self.cookie = ""
        self.xsrf = ""

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
        if self.token:
            path += ("&" if "?" in path else "?") + f"token={self.token}"
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
        if "_xsrf" in cookie:  # mitmweb 11 sets it with the page
            self.xsrf = cookie["_xsrf"].value
            self.cookie = f"_xsrf={self.xsrf}"
        else:
            # mitmweb 12 sets it on its websocket, with an auth cookie on the page; tornado, which
            # checks it, takes a plain hex token as well, in the cookie and the header alike.
            auth = "; ".join(f"{name}={morsel.coded_value}" for name, morsel in cookie.items())
            self.xsrf = "00112233445566778899aabbccddeeff"
            self.cookie = f"_mitmproxy_xsrf={self.xsrf}; {auth}"

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

    # A documented filter expression selects dejunk's blocked flows only.
    status, answer = mitmweb.command("dejunk.explain", '~comment "blocked by"')
    assert status == 200 and blocked_url in answer["value"] and allowed_url not in answer["value"]

    status, answer = mitmweb.command("dejunk.status")
    assert status == 200 and answer["value"].startswith("dejunk: filtering\n  running on mitmproxy ")

    status, answer = mitmweb.command("dejunk.allow", "site.test")
    assert status == 200 and answer["value"].startswith("dejunk: stepping aside on site.test")

    status, answer = mitmweb.command("dejunk.explain", "https://ad.ads.test/x.js", "https://news.test/", "script")
    assert answer["value"].endswith("blocked by ||ads.test^ (test-list.txt:3)")


def test_bodies_dejunk_did_not_rewrite_can_be_viewed_in_mitmweb(mitmweb, origin):
    url = f"http://site.test:{origin.port}/bytes?size=3000"
    fetched = fetch(mitmweb, url, max_time=10)
    assert fetched.status == 200 and len(fetched.body) == 3000
    mitmweb.open_page()
    status, _, body = mitmweb._request("GET", "/flows", headers={"Cookie": mitmweb.cookie})
    assert status == 200
    [flow] = [f for f in json.loads(body) if f["request"]["path"] == "/bytes?size=3000"]
    status, _, content = mitmweb._request("GET", f"/flows/{flow['id']}/response/content.data",
                                          headers={"Cookie": mitmweb.cookie})
    assert (status, content) == (200, fetched.body)


def test_a_bad_value_in_mitmwebs_option_editor_is_refused_and_filtering_goes_on(mitmweb, origin):
    mitmweb.open_page()
    headers = {"Content-Type": "application/json", "Cookie": mitmweb.cookie, "X-XSRFToken": mitmweb.xsrf}
    status, _, body = mitmweb._request("PUT", "/options", json.dumps({"dejunk_lists": ["nope.txt"]}).encode(), headers)
    assert status == 400 and b"dejunk_lists: cannot read nope.txt: No such file or directory" in body
    status, _, body = mitmweb._request("PUT", "/options", json.dumps({"dejunk_connect_timeout": 0}).encode(), headers)
    assert status == 400 and b"dejunk_connect_timeout: 0 is not a whole number of seconds, 1 or more" in body
    blocked = fetch(mitmweb, f"http://ads.test:{origin.port}/ad.js", headers={"Sec-Fetch-Dest": "script"}, max_time=10)
    assert blocked.status == 403  # the configuration in force stays
    status, answer = mitmweb.command("dejunk.status")
    assert answer["value"].startswith("dejunk: filtering") and "test-list.txt" in answer["value"]


def test_the_command_api_refuses_a_request_without_the_xsrf_header(mitmweb):
    mitmweb.open_page()
    status, _ = mitmweb.command("dejunk.stats", xsrf=False)
    assert status == 403
