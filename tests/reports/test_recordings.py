"""Reading recordings (flows, HAR, event logs) into records, bad input, and flows made from saved pages."""

from __future__ import annotations

import json
import os

import pytest
from mitmproxy import connection, http, io

from filters.reports import recordings
from filters.proxy.flows import request_from_flow
from filters.reports.recordings import Problem, detect_format, make_page_flows, read_recording


def make_flow(url: str, *, dest: str = "script", body: bytes = b"x" * 100, status: int = 200,
              content_type: str = "application/javascript", referer: str | None = "https://news.example/") -> http.HTTPFlow:
    client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=1.0)
    flow = http.HTTPFlow(client, connection.Server(address=("upstream", 443)))
    headers = {"Sec-Fetch-Dest": dest}
    if referer:
        headers["Referer"] = referer
    flow.request = http.Request.make("GET", url, b"", headers)
    flow.request.timestamp_start = 1_767_225_600.0
    flow.response = http.Response.make(status, body, {"Content-Type": content_type})
    return flow


def blocked_flow(url: str, rule: str = "||ads.example^", list_name: str = "easylist.txt", line: int = 7,
                 **extra) -> http.HTTPFlow:
    """A flow as the addon leaves a request it blocked: its own 403 answer, metadata, marker, comment."""
    flow = make_flow(url)
    flow.response = http.Response.make(403, b"", {"X-Dejunk": f"blocked; rule={rule}", "Content-Type": "text/plain"})
    flow.marked = ":no_entry_sign:"
    flow.comment = f"blocked by {rule} ({list_name}:{line})"
    flow.metadata["dejunk"] = {"action": "blocked", "rule": rule, "list": list_name, "line": line, "type": "script", **extra}
    return flow


def write(path, flows) -> list[int]:
    """Write flows; returns the byte offset where each flow ends."""
    ends = []
    with open(path, "wb") as fo:
        writer = io.FlowWriter(fo)
        for flow in flows:
            writer.add(flow)
            ends.append(fo.tell())
    return ends


class TestDetectFormat:
    @pytest.mark.parametrize(
        "head, expected",
        [
            (b"1234:abc", "flows"),
            (b'{"event":"blocked","time":"x"}\n{"event":', "events"),
            (b'{"log": {"entries": []}}', "har"),
            (b'{\n  "log": {\n', "har"),
            (b"\xef\xbb\xbf{\n \"log\"", "har"),
            (b"", "empty"),
            (b"   \n", "empty"),
            (b"<html>", "unknown"),
        ],
    )
    def test_formats_are_recognised_by_content(self, head, expected):
        assert detect_format(head) == expected


class TestFlows:
    def test_blocked_allowed_and_failed_flows_become_records(self, tmp_path):
        allowed = make_flow("https://cdn.example/app.js", body=b"a" * 1234)
        blocked = blocked_flow("https://ads.example/ad.js")
        failed = make_flow("https://down.example/x.js")
        failed.response = None
        from mitmproxy import flow as mflow

        failed.error = mflow.Error("[Errno -2] Name or service not known", timestamp=1_767_225_700.0)
        failed.metadata["dejunk"] = {"action": "upstream_error", "kind": "dns"}
        path = tmp_path / "session.flows"
        write(path, [allowed, blocked, failed])

        recording = read_recording(str(path))
        assert recording.format == "flows" and recording.problems == []
        first, second, third = recording.records
        assert (first.url, first.size, first.action, first.type) == ("https://cdn.example/app.js", 1234, None, "script")
        assert first.request.source_url == "https://news.example/" and first.flow_id == allowed.id
        assert second.action == "blocked" and second.rule == "||ads.example^"
        assert (second.list, second.line, second.size) == ("easylist.txt", 7, None), "dejunk's answer is not the upstream size"
        assert third.action == "upstream_error" and third.failure == "dns" and third.size == 0
        assert third.time == 1_767_225_700.0 and "Name or service" in third.message
        assert second.origin == "session.flows:flow 2"

    def test_error_page_is_not_upstream_bytes(self, tmp_path):
        failed = make_flow("https://down.example/", dest="document", body=b"<html>error page</html>", status=502)
        failed.response.headers["X-Dejunk"] = "upstream refused"
        failed.metadata["dejunk"] = {"action": "upstream_error", "kind": "refused"}
        bare = make_flow("https://down2.example/", dest="document", body=b"<html>error page</html>", status=504)
        bare.response.headers["X-Dejunk"] = "upstream response_timeout"
        path = tmp_path / "errors.flows"
        write(path, [failed, bare])
        records = read_recording(str(path)).records
        assert [(r.action, r.failure, r.size) for r in records] == [
            ("upstream_error", "refused", 0), ("upstream_error", "response_timeout", 0)]

    def test_size_of_a_replaced_response_comes_from_the_addon_metadata_when_kept(self, tmp_path):
        path = tmp_path / "replayed.flows"
        write(path, [blocked_flow("https://ads.example/a.js", recorded_bytes=5000)])
        assert read_recording(str(path)).records[0].size == 5000

    def test_streamed_response_size_from_counted_bytes_then_content_length(self, tmp_path):
        counted = make_flow("https://cdn.example/video.mp4", dest="video")
        counted.response.raw_content = None
        counted.metadata["dejunk_streamed_bytes"] = 777
        announced = make_flow("https://cdn.example/big.bin", dest="empty")
        announced.response.raw_content = None
        announced.response.headers["content-length"] = "4096"
        path = tmp_path / "live.flows"
        write(path, [counted, announced])
        assert [r.size for r in read_recording(str(path)).records] == [777, 4096]

    def test_flow_without_metadata_is_understood_from_header_and_comment(self, tmp_path):
        flow = blocked_flow("https://ads.example/a.js", rule="||ads.example^", list_name="mine.txt", line=3)
        flow.metadata.clear()
        path = tmp_path / "x.flows"
        write(path, [flow])
        record = read_recording(str(path)).records[0]
        assert (record.action, record.rule, record.list, record.line) == ("blocked", "||ads.example^", "mine.txt", 3)

    def test_rewritten_page_metadata(self, tmp_path):
        page = make_flow("https://news.example/", dest="document", body=b"<html></html>", content_type="text/html")
        page.metadata["dejunk"] = {"action": "rewritten", "removed": 4, "selectors": ["##.ad"],
                                   "bytes_before": 900, "bytes_after": 700}
        path = tmp_path / "x.flows"
        write(path, [page])
        record = read_recording(str(path), keep_pages=True).records[0]
        assert (record.action, record.removed, record.selectors) == ("rewritten", 4, ("##.ad",))
        assert (record.bytes_before, record.bytes_after, record.page) == (900, 700, b"<html></html>")

    def test_pages_are_kept_only_when_asked_and_only_for_html_documents(self, tmp_path):
        page = make_flow("https://news.example/", dest="document", body=b"<p>hi</p>", content_type="text/html; charset=utf-8")
        script = make_flow("https://news.example/a.js")
        path = tmp_path / "x.flows"
        write(path, [page, script])
        assert [r.page for r in read_recording(str(path)).records] == [None, None]
        assert [r.page for r in read_recording(str(path), keep_pages=True).records] == [b"<p>hi</p>", None]

    def test_truncated_file_names_the_byte_and_flow_and_keeps_what_came_before(self, tmp_path):
        path = tmp_path / "cut.flows"
        ends = write(path, [make_flow(f"https://cdn.example/{i}.js") for i in range(3)])
        with open(path, "r+b") as fo:
            fo.truncate(ends[1] + 50)  # the third flow is cut off
        recording = read_recording(str(path))
        assert len(recording.records) == 2
        (problem,) = recording.problems
        assert problem.file == str(path)
        assert problem.position == f"byte {ends[1]} of {ends[1] + 50} (flow 3)"
        assert "truncated" in problem.message and "read 2 flows" in problem.message

    def test_garbage_after_good_flows_is_invalid_data(self, tmp_path):
        path = tmp_path / "bad.flows"
        ends = write(path, [make_flow("https://cdn.example/a.js")])
        with open(path, "ab") as fo:
            fo.write(b"this is not a flow")
        recording = read_recording(str(path))
        assert len(recording.records) == 1
        assert recording.problems[0].position.startswith(f"byte {ends[0]} ")
        assert "invalid flow data" in recording.problems[0].message

    def test_flows_other_than_http_are_counted_not_read(self, tmp_path):
        from mitmproxy import tcp

        client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=1.0)
        path = tmp_path / "mixed.flows"
        write(path, [tcp.TCPFlow(client, connection.Server(address=("db", 5432))), make_flow("https://a.example/x.js")])
        recording = read_recording(str(path))
        assert len(recording.records) == 1 and recording.skipped == {"tcp flow": 1}

    def test_progress_reports_positions(self, tmp_path):
        path = tmp_path / "x.flows"
        ends = write(path, [make_flow(f"https://cdn.example/{i}.js") for i in range(3)])
        seen = []
        read_recording(str(path), progress=seen.append)
        assert seen == ends


def har_entry(url: str, *, status: int = 200, body_size: int = 321, headers=(), response_headers=(), **extra) -> dict:
    return {
        "startedDateTime": "2026-01-01T00:00:05.000Z",
        "time": 12,
        "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v} for k, v in headers]},
        "response": {"status": status, "httpVersion": "HTTP/1.1", "bodySize": body_size,
                     "headers": [{"name": k, "value": v} for k, v in response_headers],
                     "content": {"size": body_size, "mimeType": "text/html", "text": "<p>page</p>"}},
        **extra,
    }


class TestHar:
    def test_entries_become_records_with_type_source_and_dejunk_header(self, tmp_path):
        entries = [
            har_entry("https://news.example/", headers=[("Sec-Fetch-Dest", "document")],
                      response_headers=[("Content-Type", "text/html")]),
            har_entry("https://ads.example/a.js", status=403, body_size=0,
                      headers=[("Sec-Fetch-Dest", "script"), ("Referer", "https://news.example/")],
                      response_headers=[("X-Dejunk", "blocked; rule=||ads.example^")],
                      comment="blocked by ||ads.example^ (easylist.txt:12)"),
            {"startedDateTime": "2026-01-01T00:00:06Z", "time": 0,
             "request": {"method": "GET", "url": "https://down.example/", "headers": []},
             "response": {"status": 0, "headers": [], "content": {}, "bodySize": -1, "_error": "connection refused"}},
        ]
        path = tmp_path / "session.har"
        path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
        recording = read_recording(str(path), keep_pages=True)
        assert recording.format == "har" and recording.problems == []
        page, ad, down = recording.records
        assert (page.type, page.size, page.status, page.page) == ("document", 321, 200, b"<p>page</p>")
        assert page.time == 1_767_225_605.0
        assert (ad.type, ad.action, ad.rule, ad.list, ad.line) == ("script", "blocked", "||ads.example^", "easylist.txt", 12)
        assert ad.size is None and ad.request.source_url == "https://news.example/"
        assert (down.status, down.size, down.message) == (None, 0, "connection refused")

    def test_redirect_header(self, tmp_path):
        entry = har_entry("https://ads.example/a.js", response_headers=[("X-Dejunk", "redirected to noop.js; rule=||ads.example^$redirect=noopjs")])
        path = tmp_path / "x.har"
        path.write_text(json.dumps({"log": {"entries": [entry]}}))
        record = read_recording(str(path)).records[0]
        assert (record.action, record.rule) == ("redirected", "||ads.example^$redirect=noopjs")

    def test_error_page_entry(self, tmp_path):
        entry = har_entry("https://down.example/", status=502, body_size=900,
                          response_headers=[("X-Dejunk", "upstream dns")])
        path = tmp_path / "x.har"
        path.write_text(json.dumps({"log": {"entries": [entry]}}))
        record = read_recording(str(path)).records[0]
        assert (record.action, record.failure, record.size) == ("upstream_error", "dns", 0)

    def test_truncated_har_keeps_the_complete_entries_and_names_line_and_column(self, tmp_path):
        text = json.dumps({"log": {"entries": [har_entry(f"https://x.example/{i}") for i in range(3)]}}, indent=1)
        cut = text[: text.index("https://x.example/2") + 5]
        path = tmp_path / "cut.har"
        path.write_text(cut)
        recording = read_recording(str(path))
        assert [r.url for r in recording.records] == ["https://x.example/0", "https://x.example/1"]
        (problem,) = recording.problems
        assert problem.position.startswith("line ") and " column " in problem.position
        assert "invalid JSON" in problem.message and "read 2 entries" in problem.message

    def test_bad_entry_is_named_and_the_others_are_read(self, tmp_path):
        entries = [har_entry("https://x.example/0"), {"request": {"method": "GET"}, "response": {}},
                   har_entry("https://x.example/2"), "not an entry"]
        path = tmp_path / "x.har"
        path.write_text(json.dumps({"log": {"entries": entries}}))
        recording = read_recording(str(path))
        assert [r.url for r in recording.records] == ["https://x.example/0", "https://x.example/2"]
        assert [(p.position, p.message) for p in recording.problems] == [
            ("entry 2", "no request.url"), ("entry 4", "not a JSON object")
        ]

    def test_json_that_is_not_har(self, tmp_path):
        path = tmp_path / "x.har"
        path.write_text('{"something": "else"}')
        recording = read_recording(str(path))
        assert recording.records == [] and recording.problems[0].position == "log.entries"

    def test_mitmproxy_written_har_is_read(self, tmp_path):
        from mitmproxy.addons.savehar import SaveHar

        flows = [make_flow("https://cdn.example/a.js", body=b"q" * 50), blocked_flow("https://ads.example/b.js")]
        path = tmp_path / "mitm.har"
        path.write_text(json.dumps(SaveHar().make_har(flows)))
        records = read_recording(str(path)).records
        assert [(r.url, r.action, r.size) for r in records] == [
            ("https://cdn.example/a.js", None, 50), ("https://ads.example/b.js", "blocked", None)
        ]


class TestEvents:
    def test_each_event_kind_becomes_a_record(self, tmp_path):
        events = [
            {"event": "blocked", "time": "2026-01-01T00:00:00.000Z", "url": "https://ads.example/a.js",
             "host": "ads.example", "type": "script", "rule": "||ads.example^", "list": "easylist.txt", "line": 9},
            {"event": "policy", "time": "2026-01-01T00:00:01.000Z", "policy": "cookie", "host": "t.example", "pattern": "@bad"},
            {"event": "upstream_error", "time": "2026-01-01T00:00:02.000Z", "host": "shop.example", "port": 443,
             "kind": "dns", "message": "Name or service not known", "url": "https://shop.example/"},
            {"event": "addon_error", "time": "2026-01-01T00:00:03.000Z", "where": "request", "message": "boom", "url": None},
            {"event": "rewritten", "time": "2026-01-01T00:00:04.000Z", "url": "https://news.example/", "removed": 5,
             "selectors": ["##.ad", "###banner"], "bytes_before": 1000, "bytes_after": 800},
            {"event": "rewrite_error", "time": "2026-01-01T00:00:05.000Z", "url": "https://news.example/2", "message": "x"},
        ]
        path = tmp_path / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        recording = read_recording(str(path))
        assert recording.format == "events" and recording.problems == []
        actions = [r.action for r in recording.records]
        assert actions == ["blocked", "policy_cookie", "upstream_error", "addon_error", "rewritten", "rewrite_error"]
        blocked, policy, failure, _, rewritten, _ = recording.records
        assert (blocked.rule, blocked.list, blocked.line, blocked.type) == ("||ads.example^", "easylist.txt", 9, "script")
        assert (policy.host, policy.pattern) == ("t.example", "@bad")
        assert (failure.failure, failure.host, failure.time) == ("dns", "shop.example", 1_767_225_602.0)
        assert (rewritten.removed, rewritten.selectors, rewritten.bytes_after) == (5, ("##.ad", "###banner"), 800)
        assert not any(r.is_exchange for r in recording.records)

    def test_a_block_that_names_a_redirect_is_a_redirect(self, tmp_path):
        event = {"event": "blocked", "time": "2026-01-01T00:00:00.000Z", "url": "https://ads.example/a.js",
                 "type": "script", "rule": "||ads.example^$redirect=noopjs", "list": "l.txt", "line": 2,
                 "redirect": "noop.js"}
        path = tmp_path / "events.jsonl"
        path.write_text(json.dumps(event) + "\n")
        assert read_recording(str(path)).records[0].action == "redirected"

    def test_a_long_first_line_is_still_an_event_log(self, tmp_path):
        path = tmp_path / "events.jsonl"
        path.write_text(json.dumps({"event": "addon_error", "message": "x" * 10_000}) + "\n")
        assert read_recording(str(path)).format == "events"

    def test_bad_lines_are_named_and_the_rest_is_read(self, tmp_path):
        path = tmp_path / "events.jsonl"
        path.write_bytes(
            b'{"event":"blocked","time":"2026-01-01T00:00:00Z","host":"a.example"}\n'
            b"{not json\n"
            b"[1, 2]\n"
            b'{"no_event": 1}\n'
            b"\n"
            b'{"event":"blocked","time":"2026-01-01T00:00:01Z","host":"b.example"}\n'
            b'{"event":"blocked","ti'
        )
        recording = read_recording(str(path))
        assert [r.host for r in recording.records] == ["a.example", "b.example"]
        assert [str(p) for p in recording.problems] == [
            f"{path}: line 2 column 2: invalid JSON: Expecting property name enclosed in double quotes",
            f'{path}: line 3: not an event record (no "event" field)',
            f'{path}: line 4: not an event record (no "event" field)',
            f"{path}: line 7 column 20: invalid JSON: Unterminated string starting at "
            "(the line is cut off at the end of the file)",
        ]


class TestOtherInputs:
    def test_unknown_format(self, tmp_path):
        path = tmp_path / "page.html"
        path.write_text("<html></html>")
        recording = read_recording(str(path))
        assert recording.format == "unknown"
        assert recording.problems == [Problem(str(path), "byte 0", "not a mitmproxy flows file, a HAR file or a JSON Lines event log")]

    def test_empty_file_is_an_empty_recording(self, tmp_path):
        path = tmp_path / "events.jsonl"
        path.write_text("")
        recording = read_recording(str(path))
        assert (recording.format, recording.records, recording.problems) == ("empty", [], [])

    def test_missing_file(self, tmp_path):
        recording = read_recording(str(tmp_path / "nope.flows"))
        assert recording.problems[0].message.startswith("cannot read")


def test_sizes_from_the_capture_fill_in_what_dejunk_replaced(tmp_path):
    original = make_flow("https://ads.example/a.js", body=b"z" * 900)
    replayed = blocked_flow("https://ads.example/a.js")
    replayed.id = original.id
    write(tmp_path / "capture.flows", [original])
    write(tmp_path / "out.flows", [replayed])
    sizes = recordings.original_sizes(read_recording(str(tmp_path / "capture.flows")))
    assert sizes == {original.id: 900}
    records = recordings.fill_sizes(read_recording(str(tmp_path / "out.flows")).records, sizes)
    assert records[0].size == 900 and records[0].action == "blocked"
    # A replayed recording's own answers never count as original sizes.
    assert recordings.original_sizes(read_recording(str(tmp_path / "out.flows"))) == {}


class TestMakePageFlows:
    @pytest.fixture
    def saved(self, tmp_path):
        pages = tmp_path / "pages"
        pages.mkdir()
        (pages / "one.html").write_bytes(b"<html><body>one</body></html>")
        (pages / "two.html").write_bytes(b"<html><body>two</body></html>")
        (pages / "pages.json").write_text(json.dumps([
            {"file": "one.html", "url": "https://news.example/one"},
            {"file": "two.html", "url": "https://blog.example/two"},
            {"file": "missing.html", "url": "https://gone.example/"},
            {"url": "https://no-file.example/"},
        ]))
        requests = tmp_path / "requests.jsonl"
        lines = [
            {"url": "https://cdn.news.example/app.js", "type": "script", "source_url": "https://news.example/one"},
            {"url": "https://ads.example/banner.png", "type": "image", "source_url": "https://news.example/one"},
            {"url": "https://news.example/style.css", "type": "stylesheet", "source_url": "https://news.example/one"},
            {"url": "https://frames.example/f.html", "type": "subdocument", "source_url": "https://blog.example/two"},
            {"url": "https://elsewhere.example/x.js", "type": "script", "source_url": "https://unknown.example/"},
        ]
        requests.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{broken\n" + '{"type": "script"}\n')
        return pages, requests

    def test_pages_index_and_requests_name_their_bad_items(self, saved):
        pages_dir, requests_path = saved
        pages, problems = recordings.read_pages_index(str(pages_dir))
        assert [p.url for p in pages] == ["https://news.example/one", "https://blog.example/two"]
        assert [(p.position, p.message) for p in problems] == [
            ("item 3", "no such page file: missing.html"), ("item 4", 'needs "file" and "url"')
        ]
        subresources, problems = recordings.read_subresources(str(requests_path))
        assert len(subresources) == 5
        assert [p.position for p in problems] == ["line 6", "line 7"]

    def test_flows_look_like_a_browser_made_them(self, saved):
        pages, _ = recordings.read_pages_index(str(saved[0]))
        subresources, _ = recordings.read_subresources(str(saved[1]))
        flows = list(make_page_flows(pages, subresources))
        assert [f.request.pretty_url for f in flows] == [
            "https://news.example/one", "https://cdn.news.example/app.js", "https://ads.example/banner.png",
            "https://news.example/style.css", "https://blog.example/two", "https://frames.example/f.html",
            "https://elsewhere.example/x.js",
        ]
        requests = [request_from_flow(f) for f in flows]
        assert [r.type for r in requests] == [
            "document", "script", "image", "stylesheet", "document", "subdocument", "script"
        ]
        assert [r.source_url for r in requests[1:4]] == ["https://news.example/one"] * 3
        page = flows[0]
        assert page.response.content == b"<html><body>one</body></html>"
        assert page.response.headers["content-type"] == "text/html; charset=utf-8"
        assert page.request.headers["sec-fetch-dest"] == "document" and "referer" not in page.request.headers
        assert flows[1].request.headers["sec-fetch-site"] == "same-site"
        assert flows[2].request.headers["sec-fetch-site"] == "cross-site"
        assert flows[3].request.headers["sec-fetch-site"] == "same-origin"
        assert flows[2].response.headers["content-type"] == "image/png"
        for flow, request in zip(flows, requests):
            if request.type == "document":
                continue
            typical = recordings.TYPICAL_SIZES[request.type]
            assert typical // 2 <= len(flow.response.content) <= typical * 3 // 2
            assert int(flow.response.headers["content-length"]) == len(flow.response.content)

    def test_the_same_input_gives_the_same_file(self, saved, tmp_path):
        pages, _ = recordings.read_pages_index(str(saved[0]))
        subresources, _ = recordings.read_subresources(str(saved[1]))
        first, second = tmp_path / "a.flows", tmp_path / "b.flows"
        assert recordings.write_flows(make_page_flows(pages, subresources), str(first)) == 7
        recordings.write_flows(make_page_flows(pages, subresources), str(second))
        assert first.read_bytes() == second.read_bytes()
        assert not os.path.exists(str(first) + ".part")
        flows = list(io.FlowReader(open(first, "rb")).stream())
        assert len({f.id for f in flows}) == 7
