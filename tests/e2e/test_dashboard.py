"""The dashboard through a real mitmdump: every endpoint over http:// and https://, its guards, its off switch.

The dashboard's name resolves nowhere: a test script records every name mitmproxy looks up, and
no lookup of it may happen while the dashboard is on (with lazy and with eager connections).
"""

from __future__ import annotations

import base64
import json
import re
import time

import pytest

from tests.list_server import ListServer

from .harness import Proxy, fetch

NAME = "dejunk.home.arpa"
LOOKUPS_SCRIPT = '''
import os, socket
_looked_up = socket.getaddrinfo
def _recording(host, *args, **kwargs):
    with open(os.environ["DEJUNK_TEST_LOOKUPS"], "a") as f:
        f.write(f"{host}\\n")
    return _looked_up(host, *args, **kwargs)
socket.getaddrinfo = _recording
'''


def start(workdir, name: str, options: dict) -> Proxy:
    """A mitmdump with dejunk whose name lookups are written to `<name>-lookups.txt`."""
    script = workdir / "record_lookups.py"
    script.write_text(LOOKUPS_SCRIPT)
    lookups = workdir / f"{name}-lookups.txt"
    proxy = Proxy(workdir, name=name, scripts=[script], options=options,
                  environ={"DEJUNK_TEST_LOOKUPS": str(lookups)})
    proxy.lookups = lambda: lookups.read_text().split() if lookups.exists() else []
    return proxy


@pytest.fixture(scope="module")
def dash(workdir, test_list, test_config):
    """dejunk with the dashboard on (lazy connections, as dejunk's error pages make them)."""
    proxy = start(workdir, "dash", {"dejunk_lists": [test_list], "dejunk_config": test_config,
                                    "dejunk_state": workdir / "state", "dejunk_connect_timeout": 2})
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def eager(workdir, test_list):
    """Eager connections (mitmproxy's default without dejunk's error pages) and a password."""
    proxy = start(workdir, "eager", {"dejunk_lists": [test_list], "dejunk_state": workdir / "state-eager",
                                     "dejunk_error_pages": False, "connection_strategy": "eager",
                                     "dejunk_dashboard_password": "pa:ss"})
    yield proxy
    proxy.stop()


def token_of(page: str) -> str:
    return re.search(r'<meta name="dejunk-token" content="([^"]*)">', page).group(1)


class Client:
    """Requests to the dashboard through a proxy, http:// or https://."""

    def __init__(self, proxy: Proxy, scheme: str = "http", auth: str | None = None):
        self.proxy, self.base, self.auth = proxy, f"{scheme}://{NAME}", auth
        self.token = token_of(self.get_page("/").text())

    def headers(self, extra=None):
        found = dict(extra or {})
        if self.auth:
            found["Authorization"] = "Basic " + base64.b64encode(self.auth.encode()).decode()
        return found

    def get_page(self, path: str, headers=None):
        return fetch(self.proxy, self.base + path, headers=self.headers(headers))

    def get(self, path: str):
        result = self.get_page(path)
        assert result.status == 200, (path, result.status, result.text())
        return json.loads(result.body)

    def send(self, method: str, path: str, data, headers=None, token=True):
        extra = {"Content-Type": "application/json", **(headers or {})}
        if token:
            extra["X-Dejunk-Token"] = self.token
        return fetch(self.proxy, self.base + path, headers=self.headers(extra),
                     extra=["-X", method, "--data-binary", json.dumps(data)])

    def post(self, path: str, data):
        result = self.send("POST", path, data)
        assert result.status == 200, (path, result.status, result.text())
        return json.loads(result.body)


def assert_dashboard_headers(result):
    assert "default-src 'self'" in result.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in result.headers["content-security-policy"]
    assert result.headers["x-content-type-options"] == "nosniff"
    assert result.headers["referrer-policy"] == "no-referrer"
    assert not [name for name in result.headers if name.startswith("access-control")]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_every_endpoint_answers_through_the_proxy(dash, origin, scheme):
    client = Client(dash, scheme)
    page = client.get_page("/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store" and re.fullmatch(r"[A-Za-z0-9_-]{40,}", client.token)
    assert_dashboard_headers(page)
    status = client.get("/api/status")
    assert status["filtering"] is True and status["lists"] >= 1
    site = f"{scheme}-site.test"
    assert client.post("/api/sites/allow", {"site": site})["changed"] is True
    assert site in client.get("/api/sites")["allowed"]
    explained = client.get(f"/api/explain?url=http://ads.test/x.js&source=http://{site}/")
    assert explained["action"] == "allowed_site"
    assert client.post("/api/sites/unallow", {"site": site})["changed"] is True
    explained = client.get(f"/api/explain?url=http://ads.test/x.js&source=http://{site}/&type=script")
    assert explained["action"] == "blocked" and explained["rule"] == "||ads.test^" and explained["line"] == 3
    overrides = client.post("/api/sites/override", {"site": site, "policy": "image", "value": "reject"})["overrides"]
    assert overrides[site] == {"image": "reject"}
    client.post("/api/sites/override", {"site": site, "policy": "image", "value": None})
    lists = client.get("/api/lists")
    assert {"test-list.txt", "my-filters.txt"} <= {row["name"] for row in lists["lists"]}
    assert client.post("/api/lists/update", {}) == {"started": False, "reason": "no list subscriptions to update"}
    mine = client.get("/api/myfilters")
    assert mine["path"].endswith("my-filters.txt")
    rule = f"||mine-{scheme}.test^"
    checked = client.send("PUT", "/api/myfilters", {"text": f"{rule}\n||x.test^$nonsense\n"})
    assert checked.status == 200 and json.loads(checked.body)["errors"][0]["line"] == 2
    assert client.get(f"/api/explain?url=http://mine-{scheme}.test/")["rule"] == rule
    blocked = fetch(dash, f"http://mine-{scheme}.test:{origin.port}/", headers={"Sec-Fetch-Dest": "document"})
    assert "<title>Blocked</title>" in blocked.text()  # the proxy blocks with the new rule at once
    assert NAME not in dash.lookups()


def test_state_changes_without_the_token_or_from_another_site_are_refused_and_change_nothing(dash):
    client = Client(dash)
    before = client.get("/api/sites")
    for headers, token in (({}, False), ({"X-Dejunk-Token": "wrong"}, False),
                           ({"Origin": "http://evil.test"}, True), ({"Origin": "null"}, True)):
        refused = client.send("POST", "/api/sites/allow", {"site": "evil.test"}, headers=headers, token=token)
        assert refused.status == 403, headers
        assert json.loads(refused.body)["error"].startswith("refused")
        assert_dashboard_headers(refused)
    form = fetch(dash, f"http://{NAME}/api/sites/allow", headers={"Origin": "http://evil.test",
                 "Content-Type": "application/x-www-form-urlencoded"}, extra=["--data", "site=evil.test"])
    assert form.status == 403
    mine = client.get("/api/myfilters")["text"]
    assert client.send("PUT", "/api/myfilters", {"text": "||evil.test^"}, token=False).status == 403
    assert client.get("/api/sites") == before and client.get("/api/myfilters")["text"] == mine
    ok = client.send("POST", "/api/sites/allow", {"site": "fine.test"}, headers={"Origin": f"https://{NAME}"})
    assert ok.status == 200


def test_a_body_past_the_cap_is_refused_even_without_a_length(dash, workdir):
    client = Client(dash)
    big = workdir / "big.json"
    big.write_bytes(b'{"text": "' + b"a" * (1024 * 1024 + 10) + b'"}')
    for extra in ([], ["-H", "Transfer-Encoding: chunked"]):
        result = fetch(dash, f"http://{NAME}/api/myfilters", headers={
            "Content-Type": "application/json", "X-Dejunk-Token": client.token},
            extra=["-X", "PUT", "--data-binary", f"@{big}", *extra])
        assert result.status == 413, extra
    assert "a" * 100 not in client.get("/api/myfilters")["text"]


def test_a_list_url_added_here_is_fetched_and_used(dash, origin):
    client = Client(dash, "https")
    with ListServer() as server:
        url = server.serve("/added.txt", "! Title: added\n||added-ads.test^\n")
        assert client.post("/api/lists/add", {"url": url}) == {"added": True}
        deadline = time.monotonic() + 30
        rows = {}
        while time.monotonic() < deadline:
            rows = {row["url"]: row for row in client.get("/api/lists")["lists"]}
            if rows.get(url, {}).get("rules"):
                break
            time.sleep(0.1)
        assert rows[url]["rules"] == 1 and rows[url]["removable"] is True
        assert client.get("/api/explain?url=http://added-ads.test/")["action"] == "blocked"
        assert client.post("/api/lists/remove", {"url": url}) == {"removed": True}
        assert client.get("/api/explain?url=http://added-ads.test/")["action"] == "allowed"


def test_https_with_eager_connections_and_a_password(eager):
    for scheme in ("http", "https"):
        asked = fetch(eager, f"{scheme}://{NAME}/api/status")
        assert asked.status == 401 and asked.headers["www-authenticate"].startswith("Basic")
        client = Client(eager, scheme, auth="anyone:pa:ss")
        assert client.get("/api/status")["filtering"] is True
        assert client.post("/api/sites/allow", {"site": f"eager-{scheme}.test"})["changed"] is True
        wrong = "Basic " + base64.b64encode(b"anyone:nope").decode()
        assert fetch(eager, f"{scheme}://{NAME}/api/status", headers={"Authorization": wrong}).status == 401
    auth = {"Authorization": "Basic " + base64.b64encode(b"u:pa:ss").decode()}
    over_h2 = fetch(eager, f"https://{NAME}/api/status", headers=auth, http2=True)
    assert over_h2.status == 200 and over_h2.http_version == "2"
    assert NAME not in eager.lookups()
    assert "Unable to establish TLS connection with server" not in eager.log()


def test_with_an_empty_name_the_name_goes_upstream_like_any(workdir, test_list):
    proxy = start(workdir, "off", {"dejunk_lists": [test_list], "dejunk_dashboard": "",
                                   "dejunk_state": workdir / "state-off"})
    try:
        result = fetch(proxy, f"http://{NAME}/")
        assert result.status == 502 and b"dejunk-token" not in result.body  # the upstream failure, as for any name
        assert NAME in proxy.lookups()
    finally:
        proxy.stop()


def test_a_bad_dashboard_name_stops_the_start(workdir, test_list):
    with pytest.raises(RuntimeError, match="dejunk_dashboard: 'not a name' is not a host name"):
        Proxy(workdir, name="badname", options={"dejunk_lists": [test_list], "dejunk_dashboard": "not a name",
                                                "dejunk_state": workdir / "state-bad"})


def test_over_http2(dash):
    client = Client(dash, "https")
    result = fetch(dash, f"https://{NAME}/api/sites/allow", http2=True, headers={
        "Content-Type": "application/json", "X-Dejunk-Token": client.token},
        extra=["--data-binary", json.dumps({"site": "h2.test"})])
    assert result.http_version == "2" and result.status == 200, result.text()
    assert "h2.test" in client.get("/api/sites")["allowed"]


def test_dashboard_requests_are_not_counted_nor_logged_and_logged_urls_stay_text(dash, origin):
    client = Client(dash)
    hostile = f"http://news.test:{origin.port}/<script>alert(1)</script>"
    before = client.get("/api/stats")["requests"]
    fetch(dash, hostile, extra=["--path-as-is"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and client.get("/api/stats")["requests"] < before + 1:
        time.sleep(0.1)
    for _ in range(3):
        client.get("/api/status")
    assert client.get("/api/stats")["requests"] == before + 1
    raw = fetch(dash, f"http://{NAME}/api/log?limit=500")
    assert raw.status == 200 and b"<" not in raw.body and b">" not in raw.body
    log = json.loads(raw.body)
    assert [entry["url"] for entry in log if "alert" in entry["url"]] == [hostile]
    assert not [entry for entry in log if NAME in entry["url"]]
    assert NAME not in dash.lookups()
