"""`scripts/make_flows.py`: a flows file from saved pages and their requests, deterministic, with bad input named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import io

from filters.proxy.flows import request_from_flow

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "make_flows.py"


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60)


def read(path: Path) -> list:
    with open(path, "rb") as fo:
        return list(io.FlowReader(fo).stream())


@pytest.fixture
def saved(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.html").write_text("<html><body><p>A</p></body></html>")
    (pages / "pages.json").write_text(json.dumps([{"file": "a.html", "url": "https://news.example/a"}]))
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        json.dumps({"url": "https://ads.example/ad.js", "type": "script", "source_url": "https://news.example/a"}) + "\n"
        + json.dumps({"url": "https://img.example/p.gif", "type": "image", "source_url": "https://news.example/a"}) + "\n"
    )
    return pages, requests


def test_builds_a_readable_deterministic_flows_file(saved, tmp_path):
    pages, requests = saved
    first, second = tmp_path / "one.flows", tmp_path / "two.flows"
    done = run("--pages", pages, "--requests", requests, "-o", first)
    assert done.returncode == 0, done.stderr
    assert "3 flows (1 pages, 2 subresources)" in done.stdout
    run("--pages", pages, "--requests", requests, "-o", second)
    assert first.read_bytes() == second.read_bytes()
    flows = read(first)
    assert [(request_from_flow(f).type, f.request.pretty_url) for f in flows] == [
        ("document", "https://news.example/a"), ("script", "https://ads.example/ad.js"), ("image", "https://img.example/p.gif")
    ]
    assert flows[0].response.text == "<html><body><p>A</p></body></html>"
    assert flows[2].request.headers["referer"] == "https://news.example/a"
    assert flows[2].request.headers["accept"].startswith("image/")


def test_bad_lines_are_named_and_left_out(saved, tmp_path):
    pages, requests = saved
    with open(requests, "a") as fo:
        fo.write("{not json\n")
    done = run("--pages", pages, "--requests", requests, "-o", tmp_path / "x.flows")
    assert done.returncode == 1
    assert f"make_flows.py: {requests}: line 3: invalid JSON" in done.stderr
    assert len(read(tmp_path / "x.flows")) == 3


def test_nothing_to_build_from(tmp_path):
    done = run("--pages", tmp_path / "none", "--requests", tmp_path / "none.jsonl", "-o", tmp_path / "x.flows")
    assert done.returncode == 2
    assert "pages.json: file: cannot read" in done.stderr and "nothing to build from" in done.stderr
    assert not (tmp_path / "x.flows").exists()

