"""`scripts/report.py`: inputs of each format, bad input, --list, --compare, --recorded, JSON, HTML, the progress bar."""

from __future__ import annotations

import importlib.util
import io as stdio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from mitmproxy import connection, http, io

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "report.py"

LIST_OLD = "! old\n||ads.example^\n||retired.example^\n"
LIST_NEW = "! new\n||ads.example^\n||tracker.example^\n##.sponsor\n"
PAGE = b'<html><body><p>The story.</p><div class="sponsor">Buy now</div><!--'


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def load_script():
    spec = importlib.util.spec_from_file_location("report_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flow(url: str, dest: str, size: int, referer: str = "https://news.example/") -> http.HTTPFlow:
    client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=1.0)
    f = http.HTTPFlow(client, connection.Server(address=("upstream", 443)))
    f.request = http.Request.make("GET", url, b"", {"Sec-Fetch-Dest": dest, "Referer": referer})
    content_type = "text/html" if dest == "document" else "application/javascript"
    # A page is real markup (a sponsor box LIST_NEW hides), padded to its size with a comment.
    body = PAGE + b"b" * (size - len(PAGE) - len(b"--></body></html>")) + b"--></body></html>" if dest == "document" else b"b" * size
    f.response = http.Response.make(200, body, {"Content-Type": content_type})
    return f


def as_blocked(original: http.HTTPFlow, rule: str, list_name: str, line: int) -> http.HTTPFlow:
    """The flow as a replay through dejunk leaves it: same id, dejunk's answer, metadata."""
    f = original.copy()
    f.id = original.id
    f.response = http.Response.make(403, b"", {"X-Dejunk": f"blocked; rule={rule}"})
    f.marked = ":no_entry_sign:"
    f.comment = f"blocked by {rule} ({list_name}:{line})"
    f.metadata["dejunk"] = {"action": "blocked", "rule": rule, "list": list_name, "line": line, "type": "script"}
    return f


def write(path: Path, flows) -> list[int]:
    ends = []
    with open(path, "wb") as fo:
        writer = io.FlowWriter(fo)
        for f in flows:
            writer.add(f)
            ends.append(fo.tell())
    return ends


@pytest.fixture
def capture(tmp_path):
    """A capture without dejunk, and the same traffic as a replay through dejunk with LIST_OLD left it."""
    flows = [
        flow("https://news.example/", "document", 30_000),
        flow("https://news.example/app.js", "script", 5_000),
        flow("https://ads.example/ad.js", "script", 7_000),
        flow("https://ads.example/ad2.js", "script", 3_000),
        flow("https://retired.example/r.js", "script", 2_000),
        flow("https://tracker.example/t.js", "script", 1_000),
    ]
    (tmp_path / "old.txt").write_text(LIST_OLD)
    (tmp_path / "new.txt").write_text(LIST_NEW)
    write(tmp_path / "capture.flows", flows)
    replayed = flows[:2] + [
        as_blocked(flows[2], "||ads.example^", "old.txt", 2),
        as_blocked(flows[3], "||ads.example^", "old.txt", 2),
        as_blocked(flows[4], "||retired.example^", "old.txt", 3),
    ] + flows[5:]
    write(tmp_path / "replayed.flows", replayed)
    return tmp_path


def test_replayed_flows_with_the_capture_for_sizes(capture):
    done = run(capture / "replayed.flows", "--recorded", capture / "capture.flows", "--json", capture / "r.json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    report = json.loads((capture / "r.json").read_text())
    totals = report["totals"]
    assert (totals["requests"], totals["blocked"], totals["blocked_bytes"], totals["blocked_bytes_unknown"]) == (6, 3, 12_000, 0)
    assert totals["bytes"] == 48_000 and report["decided_by"] == "recorded"
    assert report["per_list"] == [{"list": "old.txt", "blocked": 3, "bytes": 12_000, "bytes_unknown": 0, "rules": 2}]
    assert [i["role"] for i in report["inputs"]] == ["input", "recorded"]
    assert "blocked: 3 requests, 12.0 kB saved (25.0% of the known bytes)" in done.stdout


def test_without_the_capture_blocked_sizes_are_unknown(capture):
    done = run(capture / "replayed.flows", "--json", capture / "r.json", "--quiet")
    assert done.returncode == 0 and done.stdout == ""
    totals = json.loads((capture / "r.json").read_text())["totals"]
    assert (totals["blocked"], totals["blocked_bytes"], totals["blocked_bytes_unknown"]) == (3, 0, 3)


def test_list_decides_a_capture_anew(capture):
    done = run(capture / "capture.flows", "--list", capture / "new.txt", "--json", capture / "r.json", "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((capture / "r.json").read_text())
    assert report["decided_by"] == "lists" and report["lists"] == [str(capture / "new.txt")]
    assert (report["totals"]["blocked"], report["totals"]["blocked_bytes"]) == (3, 11_000)
    assert {r["rule"]: r["hits"] for r in report["rules"]} == {"||ads.example^": 2, "||tracker.example^": 1}


def test_compare_two_list_sets(capture):
    done = run(capture / "capture.flows", "--list", capture / "old.txt", "--compare", capture / "new.txt",
               "--json", capture / "r.json", "--html", capture / "r.html")
    assert done.returncode == 0, done.stderr
    comparison = json.loads((capture / "r.json").read_text())["compare"]
    assert (comparison["blocked_before"], comparison["blocked_after"]) == (3, 3)
    assert [c["url"] for c in comparison["newly_blocked"]] == ["https://tracker.example/t.js"]
    assert [c["url"] for c in comparison["newly_allowed"]] == ["https://retired.example/r.js"]
    newly_allowed = comparison["newly_allowed"][0]
    assert (newly_allowed["before"]["rule"], newly_allowed["before"]["line"]) == ("||retired.example^", 3)
    assert newly_allowed["after"]["blocked"] is False
    assert comparison["newly_blocked"][0]["after"]["list"] == "new.txt"
    assert comparison["rule_changed"] == 2  # ads.example: same rule text, another list
    assert "newly blocked: https://tracker.example/t.js (script)" in done.stdout
    pages = comparison["pages"]
    assert pages["available"] and pages["pages"] == 1
    (changed,) = pages["changed"]
    assert changed["url"] == "https://news.example/" and (changed["removed_before"], changed["removed_after"]) == (0, 1)
    assert changed["selectors_added"] == ["##.sponsor"]
    soup = BeautifulSoup((capture / "r.html").read_text(), "html.parser")
    assert soup.find("table", id="newly-blocked") and soup.find("table", id="newly-allowed")


def test_list_takes_several_files_and_repeats(capture):
    (capture / "extra.txt").write_text("||news.example^\n")
    done = run(capture / "capture.flows", "--list", capture / "old.txt", capture / "new.txt", "--list", capture / "extra.txt",
               "--json", capture / "r.json", "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((capture / "r.json").read_text())
    assert len(report["lists"]) == 3 and report["totals"]["blocked"] == 6
    assert [i["path"] for i in report["inputs"]] == [str(capture / "capture.flows")]


def test_compare_needs_the_current_lists(capture):
    done = run(capture / "capture.flows", "--compare", capture / "new.txt")
    assert done.returncode == 2 and "--compare needs" in done.stderr


def test_unreadable_list_is_a_usage_error(capture):
    done = run(capture / "capture.flows", "--list", capture / "missing.txt")
    assert done.returncode == 2 and "missing.txt" in done.stderr


def test_truncated_input_is_named_and_what_was_read_is_reported(capture):
    path = capture / "cut.flows"
    ends = write(path, [flow(f"https://cdn.example/{i}.js", "script", 1_000) for i in range(4)])
    with open(path, "r+b") as fo:
        fo.truncate(ends[2] + 10)
    done = run(path, "--json", capture / "r.json", "--html", capture / "r.html", "--quiet")
    assert done.returncode == 1
    assert f"report.py: {path}: byte {ends[2]} of {ends[2] + 10} (flow 4): truncated flow data" in done.stderr
    report = json.loads((capture / "r.json").read_text())
    assert report["totals"]["requests"] == 3
    assert report["problems"][0]["position"] == f"byte {ends[2]} of {ends[2] + 10} (flow 4)"
    soup = BeautifulSoup((capture / "r.html").read_text(), "html.parser")
    assert "truncated flow data" in soup.find("li", class_="problem").get_text()


def test_event_log_and_har_inputs(capture):
    events = capture / "events.jsonl"
    events.write_text(
        '{"event":"blocked","time":"2026-01-01T00:00:00Z","url":"https://ads.example/a","host":"ads.example",'
        '"type":"script","rule":"||ads.example^","list":"easylist.txt","line":4}\n'
        '{"event":"upstream_error","time":"2026-01-01T00:00:01Z","host":"down.example","port":443,"kind":"dns",'
        '"message":"x","url":"https://down.example/"}\n'
        '{"event":"upstream_error","time":"2026-01-01T00:02:01Z","host":"down.example","port":443,"kind":"refused",'
        '"message":"x","url":"https://down.example/"}\n'
        "{oops\n"
    )
    done = run(events, "--json", capture / "e.json", "--html", capture / "e.html", "--quiet")
    assert done.returncode == 1 and f"{events}: line 4 column 2: invalid JSON" in done.stderr
    report = json.loads((capture / "e.json").read_text())
    assert (report["totals"]["blocked"], report["totals"]["upstream_failures"], report["totals"]["requests"]) == (1, 2, 0)
    assert report["failures"]["by_host"] == [{"host": "down.example", "count": 2, "kinds": {"dns": 1, "refused": 1}}]
    soup = BeautifulSoup((capture / "e.html").read_text(), "html.parser")
    assert len(soup.find("svg", id="plot-failures-over-time").find_all("rect", class_="failures")) == 2

    har = capture / "x.har"
    har.write_text(json.dumps({"log": {"entries": [{
        "startedDateTime": "2026-01-01T00:00:00Z", "time": 1,
        "request": {"method": "GET", "url": "https://ads.example/x.js", "headers": [{"name": "Sec-Fetch-Dest", "value": "script"}]},
        "response": {"status": 200, "headers": [], "bodySize": 2_500, "content": {"size": 2_500}},
    }]}}))
    done = run(har, "--list", capture / "old.txt", "--json", capture / "h.json", "--quiet")
    assert done.returncode == 0, done.stderr
    totals = json.loads((capture / "h.json").read_text())["totals"]
    assert (totals["requests"], totals["blocked"], totals["blocked_bytes"]) == (1, 1, 2_500)


def test_not_a_recording(capture):
    path = capture / "page.html"
    path.write_text("<html></html>")
    done = run(path, "--quiet")
    assert done.returncode == 1 and "not a mitmproxy flows file" in done.stderr


class FakeTerminal(stdio.StringIO):
    def isatty(self) -> bool:
        return True


class TestProgress:
    def test_draws_on_a_terminal_only_after_the_delay(self):
        now = [0.0]
        stream = FakeTerminal()
        progress = load_script().Progress(1000, stream=stream, delay=1.0, clock=lambda: now[0])
        progress.update(100)
        assert stream.getvalue() == ""
        now[0] = 1.5
        progress.update(500)
        assert "[###############---------------]  50%" in stream.getvalue()
        progress.finish()
        assert stream.getvalue().endswith("\r")

    def test_silent_when_not_a_terminal(self):
        now = [10.0]
        stream = stdio.StringIO()
        progress = load_script().Progress(1000, stream=stream, delay=0.0, clock=lambda: now[0])
        progress.update(500)
        progress.finish()
        assert stream.getvalue() == ""

    def test_cli_draws_on_a_terminal_and_stays_silent_otherwise(self, capture, monkeypatch, capsys):
        script = load_script()
        monkeypatch.setattr(script, "PROGRESS_DELAY", 0.0)  # even work that takes no time would show a bar
        assert script.main([str(capture / "capture.flows"), "--quiet"]) == 0
        assert capsys.readouterr().err == ""
        terminal = FakeTerminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert script.main([str(capture / "capture.flows"), "--quiet"]) == 0
        assert re.search(r"\r\[#+-*\] +\d+% .*capture\.flows", terminal.getvalue())
