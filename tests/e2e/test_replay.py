"""Replaying recordings through a real mitmdump with dejunk: flows and HAR files, offline browsing, reports on the result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import io

from filters.reports.recordings import Subresource, SavedPage, make_page_flows, write_flows
from filters.proxy.pages import TRANSPARENT_GIF

from .harness import ADDON, MITMDUMP, REPO, Proxy, fetch

REPORT = REPO / "scripts" / "report.py"
PAGE = b"<!DOCTYPE html><html><head><title>News</title></head><body><p>Story</p></body></html>"
# (url, type) of what the page requests; the e2e test list blocks ads.test and tracker.test but
# excepts allowed.ads.test.
SUBRESOURCES = [
    ("http://cdn.test/app.js", "script"),
    ("http://ads.test/ad.js", "script"),
    ("http://ads.test/banner.png", "image"),
    ("http://ads.test/frame.html", "subdocument"),
    ("http://tracker.test/t.js", "script"),
    ("http://allowed.ads.test/ok.js", "script"),
    ("http://news.test/style.css", "stylesheet"),
]
BLOCKED = {"http://ads.test/ad.js", "http://ads.test/banner.png", "http://ads.test/frame.html", "http://tracker.test/t.js"}


def read(path: Path) -> list:
    with open(path, "rb") as fo:
        return list(io.FlowReader(fo).stream())


def mitmdump(*args, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([MITMDUMP, "--set", f"confdir={cwd / 'mitmproxy-conf'}", *map(str, args)],
                          capture_output=True, text=True, timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def report(*args) -> dict:
    done = subprocess.run([sys.executable, str(REPORT), *map(str, args), "--json", "/dev/stdout", "--quiet"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def capture(workdir) -> Path:
    pages = workdir / "saved"
    pages.mkdir(exist_ok=True)
    (pages / "news.html").write_bytes(PAGE)
    path = workdir / "capture.flows"
    subresources = [Subresource(url, kind, "http://news.test/") for url, kind in SUBRESOURCES]
    write_flows(make_page_flows([SavedPage("http://news.test/", str(pages / "news.html"))], subresources), str(path))
    return path


@pytest.fixture(scope="module")
def replayed(workdir, capture, test_list) -> tuple[Path, Path]:
    out, events = workdir / "replayed.flows", workdir / "replay-events.jsonl"
    mitmdump("-nr", capture, "-s", ADDON, "-w", out, "--set", f"dejunk_lists={test_list}",
             "--set", f"dejunk_events={events}", cwd=workdir)
    return out, events


def test_replay_blocks_recorded_flows_as_live(capture, replayed):
    originals = {f.id: f for f in read(capture)}
    flows = read(replayed[0])
    assert [f.id for f in flows] == list(originals), "a replay keeps every flow, in order, with its id"
    for flow in flows:
        url = flow.request.pretty_url
        if url in BLOCKED:
            assert flow.response.headers["x-dejunk"].startswith("blocked; rule=||"), url
            assert flow.marked == ":no_entry_sign:" and flow.comment.startswith("blocked by ||")
            assert flow.metadata["dejunk"]["action"] == "blocked" and flow.metadata["dejunk"]["list"] == "test-list.txt"
        else:
            assert "x-dejunk" not in flow.response.headers, url
            assert flow.response.raw_content == originals[flow.id].response.raw_content
    by_url = {f.request.pretty_url: f for f in flows}
    assert by_url["http://ads.test/banner.png"].response.content == TRANSPARENT_GIF
    assert by_url["http://ads.test/ad.js"].response.status_code == 403
    assert by_url["http://allowed.ads.test/ok.js"].response.status_code == 200


def test_report_on_the_replay_matches_an_independent_count(capture, replayed):
    out, events = replayed
    flows = read(out)
    original_size = {f.id: len(f.response.raw_content) for f in read(capture)}
    blocked = [f for f in flows if "x-dejunk" in f.response.headers]
    document = report(out, "--recorded", capture)
    totals = document["totals"]
    assert totals["requests"] == len(flows) == len(SUBRESOURCES) + 1
    assert totals["blocked"] == len(blocked) == len(BLOCKED)
    assert totals["blocked_bytes"] == sum(original_size[f.id] for f in blocked)
    assert totals["bytes"] == sum(original_size.values())
    assert totals["exceptions"] == 1  # allowed.ads.test
    per_list = {row["list"]: row["blocked"] for row in document["per_list"]}
    assert per_list == {"test-list.txt": len(blocked)}
    hits = {row["rule"]: row["hits"] for row in document["rules"] if row["kind"] == "block"}
    assert hits == {"||ads.test^": 3, "||tracker.test^": 1}

    from_events = report(events)["totals"]
    assert from_events["blocked"] == len(blocked) and from_events["requests"] == 0


def test_har_recordings_replay_and_report_the_same(workdir, capture, replayed, test_list):
    har = workdir / "capture.har"
    mitmdump("-nr", capture, "--set", f"hardump={har}", cwd=workdir)
    out = workdir / "replayed-from-har.flows"
    mitmdump("-nr", har, "-s", ADDON, "-w", out, "--set", f"dejunk_lists={test_list}", cwd=workdir)
    blocked_from_har = {f.request.pretty_url for f in read(out) if "x-dejunk" in f.response.headers}
    assert blocked_from_har == BLOCKED
    totals = report(har, "--list", test_list)["totals"]
    assert totals["blocked"] == len(BLOCKED) and totals["requests"] == len(SUBRESOURCES) + 1


def test_offline_browsing_keeps_blocks_under_server_replay(workdir, capture, test_list):
    proxy = Proxy(workdir, name="offline", options={
        "server_replay": str(capture),
        "server_replay_extra": "404",
        "connection_strategy": "lazy",
        "dejunk_lists": [test_list],
    })
    try:
        page = fetch(proxy, "http://news.test/", headers={"Sec-Fetch-Dest": "document"}, max_time=10)
        assert page.status == 200 and page.body == PAGE
        allowed = fetch(proxy, "http://cdn.test/app.js", headers={"Sec-Fetch-Dest": "script"}, max_time=10)
        assert allowed.status == 200 and allowed.body.startswith(b"/* recorded script */")
        # The recording has this script's real response; dejunk's block still wins.
        blocked = fetch(proxy, "http://ads.test/ad.js", headers={"Sec-Fetch-Dest": "script"}, max_time=10)
        assert blocked.status == 403 and blocked.body == b""
        assert blocked.headers["x-dejunk"] == "blocked; rule=||ads.test^"
        image = fetch(proxy, "http://ads.test/banner.png", headers={"Sec-Fetch-Dest": "image"}, max_time=10)
        assert image.body == TRANSPARENT_GIF
        missing = fetch(proxy, "http://news.test/not-recorded", max_time=10)
        assert missing.status == 404, "nothing outside the recording may reach the network"
        proxy.wait_for_event(lambda e: e["event"] == "blocked" and e["url"] == "http://ads.test/ad.js")
        assert not any(e["event"] == "upstream_error" for e in proxy.events())
    finally:
        proxy.stop()


def test_replay_keeps_the_recorded_size_of_what_it_blocks(capture, replayed):
    original_size = {f.id: len(f.response.raw_content) for f in read(capture)}
    blocked = [f for f in read(replayed[0]) if "x-dejunk" in f.response.headers]
    kept = [f.metadata["dejunk"].get("recorded_bytes") for f in blocked]
    if all(size is None for size in kept):
        pytest.skip("addons/dejunk.py does not keep `recorded_bytes` when it replaces a recorded response yet; "
                    "reports take the sizes from --recorded meanwhile")
    assert kept == [original_size[f.id] for f in blocked]
    totals = report(replayed[0])["totals"]
    assert totals["blocked_bytes"] == sum(kept) and totals["blocked_bytes_unknown"] == 0


def test_report_on_a_live_recording(workdir, origin, test_list):
    recording = workdir / "live.flows"
    proxy = Proxy(workdir, name="recording", options={"dejunk_lists": [test_list], "save_stream_file": str(recording)})
    try:
        page = fetch(proxy, f"http://site.test:{origin.port}/page.html", max_time=10)
        download = fetch(proxy, f"http://site.test:{origin.port}/bytes?size=5000", max_time=10)
        blocked = fetch(proxy, f"http://ads.test:{origin.port}/ad.js", headers={"Sec-Fetch-Dest": "script"}, max_time=10)
        assert (page.status, download.status, blocked.status) == (200, 200, 403)
    finally:
        proxy.stop()
    flows = read(recording)
    download_flow = next(f for f in flows if "/bytes" in f.request.path)
    # Saving flows (-w) keeps their bodies, as mitmproxy keeps them without dejunk.
    assert download_flow.response.raw_content == download.body and len(download.body) == 5000
    totals = report(recording)["totals"]
    assert (totals["requests"], totals["blocked"], totals["blocked_bytes_unknown"]) == (3, 1, 1)
    assert totals["allowed_bytes"] == len(page.body) + 5000
