"""Reading list files: line classification, hosts files, the uBO preprocessor, metadata, bad lines."""

from __future__ import annotations

import pytest

from filters.lists.syntax import (
    BUILTIN_PATH,
    decode_list,
    evaluate_condition,
    parse_list_text,
    read_list,
    resolve_path,
)


def parse(*lines: str):
    return parse_list_text("\n".join(lines), path="/lists/test.txt")


class TestClassification:
    def test_network_cosmetic_and_comments(self):
        result = parse("[Adblock Plus 2.0]", "! Title: Test list", "||ads.example^", "@@||ok.example^", "##.ad", "example.com#@#.ad", "")
        assert result.name == "test.txt" and result.title == "Test list"
        assert result.network == [(3, "||ads.example^"), (4, "@@||ok.example^")]
        assert result.cosmetic == [(5, "##.ad"), (6, "example.com#@#.ad")]
        assert result.skipped["comment"] == 2

    @pytest.mark.parametrize(
        "line",
        ["##.ad", "example.com##.ad", "example.com#@#.ad", "example.com#?#.ad:has(p)", "example.com#$#body { x: y }",
         "example.com#@?#.x", "example.com##+js(noeval)", "example.com$$script[tag-content=\"ad\"]", "example.com#%#window.x=1"],
    )
    def test_cosmetic_markers(self, line):
        assert parse(line).cosmetic == [(1, line)]

    def test_hash_inside_a_network_rule_is_not_cosmetic(self):
        assert parse("[Adblock Plus 2.0]", "/ads/#anchor").network == [(2, "/ads/#anchor")]

    def test_dollar_options_are_not_cosmetic(self):
        assert parse("||ads.example^$script").network == [(1, "||ads.example^$script")]
        # AdGuard's HTML markers are the first `$` of the line, doubled: later ones are a rule's text.
        result = parse("/x$y$$z", "example.com$$div", "example.com$@$div", "@@||a.example^$$")
        assert result.network == [(1, "/x$y$$z")]
        assert result.cosmetic == [(2, "example.com$$div"), (3, "example.com$@$div"), (4, "@@||a.example^$$")]

    def test_metadata_only_from_the_header(self):
        lines = ["! Title: Real", "! Version: 202601010000", "! Expires: 4 days"] + ["||a.example^"] * 70 + ["! Title: Not this"]
        result = parse(*lines)
        assert result.metadata == {"title": "Real", "version": "202601010000", "expires": "4 days"}

    def test_whitespace_and_crlf(self):
        result = parse_list_text("  ||ads.example^  \r\n\t\r\n##.ad\r\n")
        assert result.network == [(1, "||ads.example^")] and result.cosmetic == [(3, "##.ad")]

    def test_bom_and_bad_bytes(self):
        assert decode_list(b"\xef\xbb\xbf||a.example^") == "||a.example^"
        assert "\ufffd" in decode_list(b"||a\xff.example^")


class TestHosts:
    def test_hosts_file(self):
        result = parse(
            "# Title: hosts",
            "127.0.0.1 localhost",
            "::1 ip6-localhost",
            "0.0.0.0 ads.example",
            "127.0.0.1 t.example # tracker",
            "0.0.0.0 A.Example B.example",
            "\t# indented comment",
        )
        assert result.hosts == [(4, "ads.example"), (5, "t.example"), (6, "a.example"), (6, "b.example")]
        assert result.skipped["hosts boilerplate"] == 2
        assert result.metadata["title"] == "hosts"

    def test_bad_hosts_lines(self):
        result = parse("# hosts", "0.0.0.0 not_a host!", "0.0.0.0 ok.example")
        assert [(bad.line, bad.reason) for bad in result.bad] == [(2, "not a host name: not_a"), (2, "not a host name: host!")]
        assert result.hosts == [(3, "ok.example")]

    def test_bare_hosts_in_a_plain_list(self):
        assert parse("ads.example", "tracker.example").hosts == [(1, "ads.example"), (2, "tracker.example")]

    def test_bare_host_in_adblock_syntax_is_a_substring_rule(self):
        result = parse("[Adblock Plus 2.0]", "_chartbeat.js", "||ads.example^")
        assert result.hosts == [] and (2, "_chartbeat.js") in result.network


class TestPreprocessor:
    def test_if_else_endif(self):
        result = parse("!#if cap_html_filtering", "||html.example^", "!#else", "||nohtml.example^", "!#endif",
                       "!#if env_mobile", "||mobile.example^", "!#endif", "!#if !env_mobile", "||desktop.example^", "!#endif")
        assert [text for _, text in result.network] == ["||html.example^", "||desktop.example^"]
        assert result.skipped["preprocessor excluded"] == 2

    def test_nested(self):
        result = parse("!#if env_firefox", "!#if cap_html_filtering", "||a.example^", "!#endif", "!#endif", "||b.example^")
        assert [text for _, text in result.network] == ["||b.example^"]

    def test_include_is_recorded_and_counted(self):
        result = parse("!#include filters-2026.txt", "!#if env_mobile", "!#include filters-mobile.txt", "!#endif")
        assert result.includes == [(1, "filters-2026.txt")]
        assert result.skipped["!#include (resolved by list subscriptions)"] == 2

    def test_bad_directives_are_reported_with_lines(self):
        result = parse("!#endif", "!#else", "!#if (env_mobile", "||a.example^")
        assert [bad.line for bad in result.bad] == [1, 2, 3, 4]
        assert result.bad[-1].reason == "unclosed !#if at end of list"

    def test_prose_after_hash_bang_is_a_comment(self):
        assert parse("!#### section ####").skipped["comment"] == 1

    @pytest.mark.parametrize(
        "expression, value",
        [("cap_html_filtering", True), ("env_chromium", False), ("!env_mobile", True), ("cap_html_filtering && !env_mobile", True),
         ("env_firefox || env_chromium", False), ("(false || true) && !(env_safari)", True), ("ext_ubol", False)],
    )
    def test_conditions(self, expression, value):
        assert evaluate_condition(expression) is value

    @pytest.mark.parametrize("expression", ["", "a &&", "(a", "a b", "a # b"])
    def test_bad_conditions(self, expression):
        with pytest.raises(ValueError):
            evaluate_condition(expression)


def test_read_list_and_builtin(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_bytes(b"\xef\xbb\xbf! Title: Mine\n||ads.example^\n")
    result = read_list(str(path))
    assert result.name == "mine.txt" and result.title == "Mine" and result.network == [(2, "||ads.example^")]
    assert resolve_path("builtin") == BUILTIN_PATH
    assert read_list(BUILTIN_PATH).network
    with pytest.raises(OSError):
        read_list(str(tmp_path / "missing.txt"))


class TestLargeHostsFiles:
    """Hosts files of millions of lines are read in slices, plain ones in bulk: the result is the line-by-line one."""

    def _by_lines(self, text: str):
        # The same lines, each slice forced through the line-by-line classification.
        from filters.lists import syntax

        original = syntax._plain_hosts, syntax._parse_mixed
        syntax._plain_hosts = lambda *args: False
        syntax._parse_mixed = lambda result, state, chunk: syntax._parse_lines(result, state, chunk.splitlines())
        try:
            return syntax.parse_list_text(text)
        finally:
            syntax._plain_hosts, syntax._parse_mixed = original

    def _same(self, text: str):
        from filters.lists.syntax import parse_list_text

        bulk, lines = parse_list_text(text), self._by_lines(text)
        assert list(bulk.hosts) == list(lines.hosts)
        assert bulk.network == lines.network and bulk.cosmetic == lines.cosmetic
        assert bulk.skipped == lines.skipped and bulk.line_count == lines.line_count
        assert [(b.line, b.reason) for b in bulk.bad] == [(b.line, b.reason) for b in lines.bad]
        return bulk

    def test_plain_slices_match_line_by_line(self):
        lines = ["# Title: big"] + [f"0.0.0.0 w{i}.example{i % 97}.com" if i % 3 else f"w{i}.example.org"
                                    for i in range(120_000)]
        lines[70_000] = "0.0.0.0 127.0.0.1 a.example"  # two names, the first not a host name
        lines[90_000] = "0.0.0.0 Upper.Example."
        result = self._same("\n".join(lines) + "\n")
        assert len(result.hosts) == 120_000
        assert result.bad[0].reason == "not a host name: 127.0.0.1"

    def test_bare_hosts_become_rules_when_a_network_rule_follows(self):
        text = "\n".join(f"h{i}.example" for i in range(60_000)) + "\n||ads.example^\n"
        result = self._same(text)
        assert len(result.hosts) == 0 and len(result.network) == 60_001

    def test_entries_are_arrays_not_tuples(self):
        from array import array

        result = parse("0.0.0.0 a.example", "0.0.0.0 b.example")
        assert isinstance(result.hosts.lines, array) and result.hosts.names == ["a.example", "b.example"]


class TestCommentedHostsFiles:
    """A hosts file with comments, blank lines and odd lines between its plain ones: plain lines in bulk, same result."""

    _same = TestLargeHostsFiles._same
    _by_lines = TestLargeHostsFiles._by_lines

    ODD = [
        "# a comment", "", "   ", "0.0.0.0 localhost", "127.0.0.1 localhost.localdomain", "0.0.0.0 0.0.0.0",
        "0.0.0.0 hhttp", "0.0.0.0 trailing.example.", "0.0.0.0 double..dots.example", "0.0.0.0 Upper.Example",
        "0.0.0.0 1.2.3.4", "0.0.0.0 -dash.example", "0.0.0.0 " + "x" * 70 + ".example", "0.0.0.0 a.example b.example",
        "0.0.0.0 c.example  #[Tracking.Cookie]", "::1 ip6-localhost", "0.0.0.0\ttab.example", " 0.0.0.0 lead.example",
        "0.0.0.0 d.example ", "bare.example", "0.0.0.0 under_score.example", "0.0.0.0 last.ex_ample", "##.ad",
        "||ads.example^", "! comment", "0.0.0.0 .dot.example", "0.0.0.0 a.example",
    ]

    def _text(self, lines: int, every: int, end: str = "\n") -> str:
        out = ["# Title: commented", "127.0.0.1 localhost"]
        for i in range(lines):
            if i % every == 0:
                out.append(self.ODD[(i // every) % len(self.ODD)])
            out.append(f"{'127.0.0.1' if i % 7 == 0 else '0.0.0.0'} h{i}.example{i % 13}.com")
        return "\n".join(out) + end

    @pytest.mark.parametrize("every", [3, 17, 400])
    def test_same_as_line_by_line(self, every):
        result = self._same(self._text(3000, every))
        assert result.title == "commented" and len(result.hosts) > 3000

    @pytest.mark.parametrize("ending", ["", "\r\n", "\x85", "\n\n\n"])
    def test_line_ends(self, ending):
        text = self._text(2000, 11)
        self._same(text + "0.0.0.0 tail.example" + ending)
        self._same(text.replace("\n", "\r\n"))
        self._same(text.replace("\n# a comment\n", "\n# a\x85comment\n"))
        self._same(text.replace("\n# a comment\n", "\n# a\rcomment\n"))

    def test_preprocessor_lines_keep_their_meaning(self):
        text = self._text(2000, 23).replace("\n# a comment\n", "\n!#if env_mobile\n", 1).replace(
            "\n# a comment\n", "\n!#endif\n", 1)
        result = self._same(text)
        assert result.skipped["preprocessor excluded"] > 0

    def test_big_commented_file_in_slices(self):
        result = self._same(self._text(150_000, 29))
        assert len(result.hosts) > 150_000

    def test_plain_lines_are_not_read_one_by_one(self):
        from filters.lists import syntax

        read = []
        original = syntax._parse_lines
        syntax._parse_lines = lambda result, state, lines: (read.extend(line for line in lines if line),
                                                             original(result, state, lines))
        try:
            result = syntax.parse_list_text(self._text(20_000, 25))
        finally:
            syntax._parse_lines = original
        assert len(result.hosts) > 20_000
        assert len(read) < 2_000  # the comments and odd lines between them


class TestAdblockRuns:
    """Runs of plain `||host^` lines in an Adblock-syntax list are kept whole: the lines are the line-by-line ones."""

    _same = TestLargeHostsFiles._same
    _by_lines = TestLargeHostsFiles._by_lines

    OTHER = ["||ads.example^$third-party", "@@||ok.example^", "  ||padded.example^ ", "||Upper.Example^", "##.ad",
             "! comment", "", "||-dash^", "/banner/*", "||a.example^|", "example.com##.x", "||x.example^#frag"]

    def _text(self, runs: list[int], end: str = "\n") -> str:
        lines = []
        for number, length in enumerate(runs):
            lines.extend(f"||h{number}-{i}.example{i % 11}.com^" for i in range(length))
            lines.append(self.OTHER[number % len(self.OTHER)])
        lines.pop()  # the text ends with the last run
        return "\n".join(lines) + end

    @pytest.mark.parametrize("end", ["\n", ""])
    def test_runs_give_the_lines_one_by_one_gives(self, end):
        runs = [8, 7, 1, 9, 200, 0, 8, 3, 40] * 6 + [50_000]  # the last run is cut where a slice ends
        result = self._same(self._text(runs, end))
        assert len(result.network.runs) == 6 * 5 + 2 and result.network._in_runs == 6 * (8 + 9 + 200 + 8 + 40) + 50_000
        (first, count, _), (after, _, _) = result.network.runs[-2:]
        assert after == first + count
        first, count, text = result.network.runs[0]
        assert (first, count) == (1, 8) and text.split("\n")[-1] == "||h0-7.example7.com^"

    def test_slices_the_runs_cannot_be_taken_from_are_read_line_by_line(self):
        crlf = self._text([8, 20, 9]).replace("\n", "\r\n")
        assert not self._same(crlf).network.runs
        conditional = "!#if true\n" + self._text([8, 20]) + "!#endif\n"
        assert not self._same(conditional).network.runs
        assert len(self._same(conditional).network) == 29

    def test_a_list_of_network_lines_compares_as_its_lines(self):
        result = parse("||a.example^", "##.ad", *[f"||r{i}.example^" for i in range(10)], "/x/")
        assert len(result.network.runs) == 1 and len(result.network) == 12
        assert result.network == [(1, "||a.example^"), *[(3 + i, f"||r{i}.example^") for i in range(10)], (13, "/x/")]
        assert result.network[2] == (4, "||r1.example^")


def test_hosts_and_bare_lines_whatever_they_start_with():
    result = parse("Ads.Example.COM", "_sub.example.org", "9x.example.net", "fe80::1%lo0 f.example", "::1 ip6-localhost",
                   "255.255.255.255 broadcasthost", "127.0.0.1 one.example two.example")
    assert list(result.hosts) == [(1, "ads.example.com"), (2, "_sub.example.org"), (3, "9x.example.net"),
                                  (4, "f.example"), (7, "one.example"), (7, "two.example")]
    assert result.skipped["hosts boilerplate"] == 2 and not result.network
