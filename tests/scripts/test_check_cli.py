"""scripts/check.py end to end: one URL in plain words, and JSON Lines in bulk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check.py"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def rules(tmp_path) -> Path:
    path = tmp_path / "rules.txt"
    path.write_text(
        "[Adblock Plus 2.0]\n||ads.example^\n@@||ads.example/ok/$script\n||ads.example/r.js$script,redirect=noopjs\n"
        "||ads.example^$frobnicate\n"
    )
    return path


def test_one_url_blocked(rules):
    result = run("--list", str(rules), "--source", "https://news.example/", "--type", "script", "https://ads.example/a.js")
    assert result.returncode == 0
    assert "blocked by ||ads.example^ (rules.txt:2)" in result.stdout
    assert "script, third-party, from https://news.example/" in result.stdout
    assert "rules.txt:5" in result.stderr  # the bad list line is reported with its position


def test_one_url_excepted_and_redirected(rules):
    excepted = run("--list", str(rules), "--type", "script", "https://ads.example/ok/a.js")
    assert "overridden by @@||ads.example/ok/$script (rules.txt:3)" in excepted.stdout
    redirected = run("--list", str(rules), "--type", "script", "https://ads.example/r.js")
    assert "redirected to noop.js" in redirected.stdout and "application/javascript" in redirected.stdout


def test_builtin_by_default():
    result = run("https://www.google-analytics.com/analytics.js")
    assert result.returncode == 0 and "builtin.txt" in result.stdout


def test_bulk(rules, tmp_path):
    requests = tmp_path / "requests.jsonl"
    lines = [
        json.dumps({"url": "https://ads.example/a.js", "type": "script", "source_url": "https://news.example/"}),
        "not json",
        json.dumps({"type": "script"}),
        "",
        json.dumps({"url": "https://cdn.example/a.js", "type": "script", "source_url": "https://news.example/"}),
    ]
    requests.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    result = run("--list", str(rules), "--requests", str(requests), "-o", str(out))
    assert result.returncode == 0
    assert f"{requests}:2:" in result.stderr and f"{requests}:3:" in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["blocked"] for row in rows] == [True, False]
    assert set(rows[0]) == {"url", "type", "source_url", "blocked", "filter", "exception", "redirect"}
    assert rows[0]["filter"] == "||ads.example^"


def test_bulk_from_stdin(rules):
    line = json.dumps({"url": "https://ads.example/r.js", "type": "script", "source_url": None})
    result = run("--list", str(rules), "--requests", "-", stdin=line + "\n")
    assert json.loads(result.stdout)["redirect"] == "noop.js"


def test_usage_errors(tmp_path):
    assert run().returncode == 2
    assert run("--requests", "x.jsonl", "https://a.example/").returncode == 2
    missing = run("--list", str(tmp_path / "missing.txt"), "https://a.example/")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
