"""Ad elements removed from pages by a real mitmdump, in worker processes, encodings kept."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from .harness import fetch
from .origin import PAGE

AD_SLOT = b'<div class="ad-slot">'


def expected_page(port: int) -> bytes:
    page = PAGE.replace(b"{port}", str(port).encode())
    start = page.index(AD_SLOT)
    end = page.index(b"</div>", start) + len(b"</div>")
    return page[:start] + page[end:]


def test_page_loses_its_ad_slot_and_nothing_else(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/page.html", headers={"Sec-Fetch-Dest": "document"})
    assert result.status == 200
    assert result.body == expected_page(origin.port)
    event = proxy.wait_for_event(lambda e: e["event"] == "rewritten" and e["url"].endswith("/page.html"))
    assert event["removed"] == 1 and event["selectors"] == ["##.ad-slot"]


def test_gzip_page_stays_gzip(proxy, origin):
    result = fetch(proxy, f"http://site.test:{origin.port}/page.gz.html", headers={"Accept-Encoding": "gzip"})
    assert result.headers["content-encoding"] == "gzip"
    assert int(result.headers["content-length"]) == len(result.body)
    assert gzip.decompress(result.body) == expected_page(origin.port)


@pytest.mark.parametrize("http2", [False, True], ids=["https-http1", "https-http2"])
def test_https_pages_are_rewritten(proxy, tls_origin, http2):
    result = fetch(proxy, f"https://site.test:{tls_origin.port}/page.html", http2=http2)
    assert result.body == expected_page(tls_origin.port)


def test_rewriting_runs_in_worker_processes(proxy, origin):
    fetch(proxy, f"http://site.test:{origin.port}/page.html")
    children = Path(f"/proc/{proxy.process.pid}/task/{proxy.process.pid}/children").read_text().split()
    assert children, "pages are parsed in worker processes, not on mitmproxy's event loop"
    commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
    assert any(b"multiprocessing" in c for c in commands), commands
