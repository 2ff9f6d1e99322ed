"""The corpus pages and their subresource requests, replayed through mitmdump with EasyList and EasyPrivacy.

The report's totals are checked against counts made directly from the replayed flows and the
capture. The numbers depend on the engine, so the tests assert consistency, not fixed values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from mitmproxy import io

pytestmark = [pytest.mark.corpus, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
MITMDUMP = str(Path(sys.executable).with_name("mitmdump"))


def read(path: Path) -> list:
    with open(path, "rb") as fo:
        return list(io.FlowReader(fo).stream())


def run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=180, cwd=cwd,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def report(*args, cwd: Path) -> dict:
    done = run([sys.executable, REPO / "scripts" / "report.py", *args, "--json", "/dev/stdout", "--quiet"], cwd)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def lists(corpus) -> list[Path]:
    return [corpus / "lists" / "easylist.txt", corpus / "lists" / "easyprivacy.txt"]


@pytest.fixture(scope="module")
def capture(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("replay-corpus") / "corpus.flows"
    run([sys.executable, REPO / "scripts" / "make_flows.py", "--corpus", corpus, "-o", out], out.parent)
    return out


@pytest.fixture(scope="module")
def replayed(capture, lists) -> Path:
    out = capture.with_name("replayed.flows")
    args = [MITMDUMP, "-q", "-nr", capture, "-s", REPO / "addons" / "dejunk.py", "-w", out,
            "--set", f"confdir={capture.parent / 'conf'}"]
    for path in lists:
        args += ["--set", f"dejunk_lists={path}"]
    run(args, capture.parent)
    return out


def test_capture_holds_every_page_and_subresource(corpus, capture):
    pages = json.loads((corpus / "pages" / "pages.json").read_text())
    requests = [line for line in (corpus / "requests" / "page-subresources.jsonl").read_text().splitlines() if line.strip()]
    flows = read(capture)
    assert len(flows) == len(pages) + len(requests)
    documents = [f.request.pretty_url for f in flows if f.request.headers.get("sec-fetch-dest") == "document"]
    assert documents == [p["url"] for p in pages]


def test_report_totals_match_the_replayed_flows(capture, replayed):
    flows = read(replayed)
    original_size = {f.id: len(f.response.raw_content) for f in read(capture)}
    blocked = [f for f in flows if "x-dejunk" in f.response.headers]
    assert blocked, "EasyList and EasyPrivacy block some of the corpus's ad and tracker requests"
    assert all(f.metadata["dejunk"]["action"] in ("blocked", "redirected") and f.marked == ":no_entry_sign:"
               for f in blocked)
    per_list = Counter(f.metadata["dejunk"]["list"] for f in blocked)
    per_host = Counter(f.request.pretty_host for f in blocked)

    document = report(replayed, "--recorded", capture, cwd=capture.parent)
    totals = document["totals"]
    assert totals["requests"] == len(flows) == len(original_size)
    assert totals["blocked"] == len(blocked)
    assert totals["blocked_bytes"] == sum(original_size[f.id] for f in blocked)
    # Blocked requests count what they would have cost; the rest what was delivered (pages rewritten smaller).
    delivered = {f.id: len(f.response.raw_content) for f in flows}
    assert totals["bytes"] == sum(original_size[i] if i in {f.id for f in blocked} else delivered[i] for i in delivered)
    assert totals["bytes_unknown"] == 0
    rewritten = [f for f in flows if f.metadata.get("dejunk", {}).get("action") == "rewritten"]
    assert rewritten, "EasyList's element rules remove ad containers from the corpus pages"
    assert totals["pages_rewritten"] == len(rewritten)
    assert totals["rewrite_bytes_saved"] == sum(original_size[f.id] - delivered[f.id] for f in rewritten)
    assert totals["allowed"] + totals["blocked"] == totals["requests"]
    assert {row["list"]: row["blocked"] for row in document["per_list"]} == dict(per_list)
    assert sum(row["bytes"] for row in document["per_list"]) == totals["blocked_bytes"]
    top = document["top_blocked_hosts"][0]
    assert top["blocked"] == per_host.most_common(1)[0][1]
    assert sum(row["hits"] for row in document["rules"] if row["kind"] == "block") == len(blocked)
    assert sum(row["blocked"] for row in document["types"]) == len(blocked)


def test_report_deciding_the_capture_agrees_with_the_addon(capture, replayed, lists):
    blocked_by_addon = {f.id for f in read(replayed) if "x-dejunk" in f.response.headers}
    args = [capture]
    for path in lists:
        args += ["--list", path]
    totals = report(*args, cwd=capture.parent)["totals"]
    assert totals["blocked"] == len(blocked_by_addon)


def test_canary_from_easylist_alone_to_easylist_and_easyprivacy(capture, lists):
    document = report(capture, "--list", lists[0], "--compare", *lists, cwd=capture.parent)
    comparison = document["compare"]
    assert comparison["requests"] == document["totals"]["requests"]
    assert comparison["blocked_before"] == document["totals"]["blocked"]
    assert comparison["newly_blocked_count"] > 0, "EasyPrivacy blocks trackers EasyList leaves alone"
    assert (comparison["blocked_after"] - comparison["blocked_before"]
            == comparison["newly_blocked_count"] - comparison["newly_allowed_count"])
    assert all(c["after"]["list"] == "easyprivacy.txt" for c in comparison["newly_blocked"])
    assert sum(r["requests"] for r in comparison["rules_newly_blocking"]) == comparison["newly_blocked_count"]
