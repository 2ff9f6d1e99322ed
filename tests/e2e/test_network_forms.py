"""uBO's `$replace` and `##^responseheader()` through a real mitmdump with dejunk, fetched with curl."""

from __future__ import annotations

import pytest

from .harness import Proxy, fetch

pytestmark = pytest.mark.timeout(120)

LIST = """[Adblock Plus 2.0]
! Title: network forms, end to end
||replace.test^$script,replace=/adLoaded = true/adLoaded = false/
||replace.test^$doc,replace=/The article text/The changed text/g
headers.test##^responseheader(set-cookie)
replace.test##.ad-slot
"""


@pytest.fixture(scope="module")
def forms_proxy(workdir):
    path = workdir / "network-forms.txt"
    path.write_text(LIST)
    instance = Proxy(workdir, name="network-forms", options={"dejunk_lists": [path]})
    yield instance
    instance.stop()


def test_a_script_is_changed_by_replace(forms_proxy, origin):
    got = fetch(forms_proxy, f"http://replace.test:{origin.port}/player.js", headers={"Sec-Fetch-Dest": "script"})
    assert got.status == 200 and got.body == b"window.adLoaded = false;"
    assert got.headers["content-length"] == str(len(got.body))
    event = forms_proxy.wait_for_event(lambda e: e["event"] == "replaced" and e["url"].endswith("/player.js"))
    assert event["rules"] == ["||replace.test^$script,replace=/adLoaded = true/adLoaded = false/ (network-forms.txt:3)"]
    # Another site's script is not held and not changed.
    other = fetch(forms_proxy, f"http://other.test:{origin.port}/player.js", headers={"Sec-Fetch-Dest": "script"})
    assert other.body == b"window.adLoaded = true;"


def test_a_compressed_page_is_changed_and_stays_compressed(forms_proxy, origin):
    url = f"http://replace.test:{origin.port}/story.gz.html"
    got = fetch(forms_proxy, url, headers={"Sec-Fetch-Dest": "document"}, extra=["--compressed"])
    assert got.status == 200 and got.headers.get("content-encoding") == "gzip"
    text = got.text()
    assert "The changed text that must survive." in text and "The article text" not in text
    # The page's cosmetic rule ran too, on the changed text, in the same worker job.
    assert "<h1>Headline</h1>" in text and "ad-slot" not in text
    forms_proxy.wait_for_event(lambda e: e["event"] == "rewritten" and e["url"] == url)
    assert [e["event"] for e in forms_proxy.events() if e.get("url") == url] == ["replaced", "rewritten"]


def test_a_response_header_is_removed_from_the_sites_documents(forms_proxy, origin):
    page = fetch(forms_proxy, f"http://headers.test:{origin.port}/", headers={"Sec-Fetch-Dest": "document"})
    assert page.status == 200 and "set-cookie" not in page.headers and b"Headline" in page.body
    event = forms_proxy.wait_for_event(lambda e: e["event"] == "header_removed")
    assert event["header"] == "set-cookie" and event["rule"] == "headers.test##^responseheader(set-cookie)"
    assert event["line"] == 5
    # Another site's page, and a request that is not a document, keep theirs.
    other = fetch(forms_proxy, f"http://other.test:{origin.port}/", headers={"Sec-Fetch-Dest": "document"})
    assert other.headers["set-cookie"] == "session=abc; Path=/"
    api = fetch(forms_proxy, f"http://headers.test:{origin.port}/echo", headers={"Sec-Fetch-Dest": "empty"})
    assert api.headers["set-cookie"] == "echo=1; Path=/"
