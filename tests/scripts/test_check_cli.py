"""scripts/check.py end to end: one URL in plain words, and JSON Lines in bulk."""

from __future__ import annotations

import importlib.util
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


def test_a_page_shows_what_goes_into_it(tmp_path):
    rules = tmp_path / "page.txt"
    rules.write_text("news.example##+js(set, adsOff, true)\nnews.example##.x:style(color: red)\nother.example##+js(noeval)\n")
    shown = run("--list", str(rules), "https://www.news.example/story")
    assert shown.returncode == 0
    assert "adds:     1 scriptlet call(s), 1 CSS rule(s), from:" in shown.stdout
    assert "news.example##+js(set, adsOff, true)" in shown.stdout and "noeval" not in shown.stdout
    script = run("--list", str(rules), "--type", "script", "https://www.news.example/app.js")
    assert "adds:" not in script.stdout  # only pages get anything


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


# --- the type and source check.py gives a URL are the proxy's --------------------------------------

PROXY_RULES = (
    "||ads.example^$script,image,stylesheet,font\n"
    "||ads.example/banner$document\n"
    "||ads.example^$other,third-party\n"
    "@@||ads.example/data.json$other\n"
    "||news.example/story$~third-party\n"
)
PAGE = "https://news.example/"
# What curl sends (nothing that names a type), and what a browser sends to open a page.
CURL = {"Accept": "*/*", "User-Agent": "curl/8.5.0"}
NAVIGATION = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
}

# (URL, --source, the real request check.py stands for): a URL alone whose extension names a type
# is fetched as curl would; one whose extension says nothing is a page the browser opens; with a
# source page, a request from that page without telling headers.
PROXY_CASES = [
    ("https://ads.example/", None, NAVIGATION),
    ("https://ads.example/banner", None, NAVIGATION),
    ("https://ads.example/data.json", None, NAVIGATION),
    ("https://ads.example/page.html", None, CURL),
    ("https://ads.example/page.html", None, NAVIGATION),
    ("https://ads.example/a.js", None, CURL),
    ("https://ads.example/a.js?v=2#x", None, CURL),
    ("https://ads.example/pixel.GIF", None, CURL),
    ("https://ads.example/site.css", None, CURL),
    ("https://ads.example/f.woff2", None, CURL),
    ("https://ads.example/banner", PAGE, CURL),
    ("https://ads.example/a.js", PAGE, CURL),
    ("https://ads.example/pixel.gif", PAGE, CURL),
    ("https://ads.example/frame.html", PAGE, CURL),
    ("https://ads.example/data.json", PAGE, CURL),
    ("https://news.example/story", PAGE, CURL),
    ("https://news.example/story", None, NAVIGATION),
]


def load_check():
    spec = importlib.util.spec_from_file_location("check_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def proxy_request(url: str, source: str | None, headers: dict[str, str]):
    """The request the proxy builds for a real request to `url` with these headers (and Referer)."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    from filters.proxy.flows import request_from_flow

    flow = tflow.tflow()
    sent = {"Host": url.split("/")[2], **headers, **({"Referer": source} if source else {})}
    flow.request = http.Request.make("GET", url, b"", sent)
    return request_from_flow(flow)


@pytest.mark.parametrize("url,source,headers", PROXY_CASES)
def test_check_decides_as_the_proxy_does(url, source, headers, tmp_path, capsys):
    from filters.engine import Engine

    rules = tmp_path / "proxy-rules.txt"
    rules.write_text(PROXY_RULES)
    engine = Engine.from_lists([str(rules)])
    expected = proxy_request(url, source, headers)
    decision = engine.check_request(expected)

    check = load_check()
    request, answer = check.decide(engine, url, source)
    assert (request.type, request.source_url, request.third_party) == (
        expected.type, expected.source_url, expected.third_party
    )
    assert answer == decision

    args = ["--list", str(rules), url] + (["--source", source] if source else [])
    assert check.main(args) == 0
    printed = capsys.readouterr().out
    assert f"decision: {decision.describe()}" in printed
    assert f"type:     {expected.type} (" in printed
    assert ("third-party" if expected.third_party else "first-party") in printed


def test_the_cases_cover_each_kind_of_answer(tmp_path):
    """The table above must exercise blocked and allowed, several types, first and third party."""
    from filters.engine import Engine

    rules = tmp_path / "proxy-rules.txt"
    rules.write_text(PROXY_RULES)
    engine = Engine.from_lists([str(rules)])
    requests = [proxy_request(url, source, headers) for url, source, headers in PROXY_CASES]
    decisions = [engine.check_request(r) for r in requests]
    assert {r.type for r in requests} >= {"document", "script", "image", "stylesheet", "font", "other"}
    assert {d.blocked for d in decisions} == {True, False}
    assert any(d.exception for d in decisions)
    assert {r.third_party for r in requests} == {True, False}


def test_a_document_is_its_own_source_page(rules):
    result = run("--list", str(rules), "--source", "https://news.example/", "https://ads.example/frame.html")
    assert "type:     document (from the URL's extension), first-party, its own source page" in result.stdout


def test_explicit_type_and_aliases(rules):
    alias = run("--list", str(rules), "--type", "JS", "https://ads.example/ok/thing")
    assert "type:     script, third-party" in alias.stdout  # no "(inferred ...)": --type said it
    assert "overridden by @@||ads.example/ok/$script" in alias.stdout


def test_unknown_type_is_a_usage_error_naming_the_valid_ones():
    from filters.request import RESOURCE_TYPES

    result = run("--type", "scirpt", "https://a.example/x")
    assert result.returncode == 2 and result.stdout == ""
    assert "argument --type: unknown type 'scirpt'" in result.stderr
    listed = result.stderr.split("valid types:", 1)[1]
    assert all(name in listed for name in RESOURCE_TYPES)
    assert "Traceback" not in result.stderr


def test_bulk_infers_a_missing_type(rules):
    lines = [
        json.dumps({"url": "https://ads.example/ok/a.js", "source_url": "https://news.example/"}),
        json.dumps({"url": "https://ads.example/ok/x", "source_url": "https://news.example/"}),
        json.dumps({"url": "https://ads.example/ok/x", "type": "js", "source_url": "https://news.example/"}),
    ]
    result = run("--list", str(rules), "--requests", "-", stdin="\n".join(lines) + "\n")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["type"] for row in rows] == ["script", "other", "script"]
    # Inferred `script` and the alias `js` meet the `$script` exception; the inferred `other` does not.
    assert [row["blocked"] for row in rows] == [False, True, False]
    assert [row["exception"] for row in rows] == ["@@||ads.example/ok/$script", None, "@@||ads.example/ok/$script"]


def test_control_characters_from_lists_and_urls_reach_the_terminal_as_escapes(tmp_path):
    hostile = tmp_path / "hostile.txt"
    hostile.write_text("||ads.example^$script\n##.x\x1b[2Jy\n", encoding="utf-8")
    result = run("--list", str(hostile), "--type", "script", "https://ads.example/a.js?\x1b]0;title\x07")
    assert result.returncode == 0, result.stderr
    assert "\\x1b]0;title\\x07" in result.stdout
    assert "\\x1b[2J" in result.stderr  # the bad line, quoted
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
