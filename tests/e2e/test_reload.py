"""mitmproxy's hot reload: editing dejunk's code takes effect without restarting the proxy."""

from __future__ import annotations

import shutil
import time

from .harness import Proxy, fetch


def test_script_reload_picks_up_changed_filters_modules(tmp_path, origin, test_list):
    # Run from a copy of the code, so the test can edit it.
    copy = tmp_path / "dejunk"
    shutil.copytree(Proxy.REPO / "addons", copy / "addons")
    shutil.copytree(Proxy.REPO / "filters", copy / "filters")
    proxy = Proxy(tmp_path, addon=copy / "addons" / "dejunk.py", options={"dejunk_lists": [test_list]})
    try:
        url = f"http://ads.test:{origin.port}/x"
        assert "<title>Blocked</title>" in fetch(proxy, url, headers={"Sec-Fetch-Dest": "document"}).text()
        responses = copy / "filters" / "proxy" / "pages.py"
        responses.write_text(responses.read_text().replace('"Blocked",\n        "dejunk blocked', '"Blocked (edited)",\n        "dejunk blocked'))
        script = copy / "addons" / "dejunk.py"
        script.write_text(script.read_text() + "\n# edited\n")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proxy.log().count("Loading script " + str(script)) < 2:
            time.sleep(0.2)
        assert proxy.log().count("Loading script " + str(script)) == 2, proxy.log()
        time.sleep(0.5)
        assert "<title>Blocked (edited)</title>" in fetch(proxy, url, headers={"Sec-Fetch-Dest": "document"}).text()
        # The reloaded addon still delivers its error pages.
        failed = fetch(proxy, "http://nowhere.invalid/")
        assert failed.status == 502 and "nowhere.invalid:80" in failed.text()
    finally:
        proxy.stop()


def test_without_error_pages_mitmproxy_answers_but_the_failure_is_recorded(tmp_path, test_list):
    proxy = Proxy(tmp_path, name="plain", options={"dejunk_lists": [test_list], "dejunk_error_pages": False})
    try:
        result = fetch(proxy, "http://nowhere.invalid/")
        assert result.status == 502 and "x-dejunk" not in result.headers
        tunnel = fetch(proxy, "https://nowhere.invalid/")
        assert tunnel.exit_code != 0  # eager connections: the CONNECT itself fails, as without dejunk
        kinds = [e["kind"] for e in proxy.events() if e["event"] == "upstream_error"]
        assert kinds == ["dns", "dns"]
    finally:
        proxy.stop()
