#!/usr/bin/env python3
"""Report on recorded traffic: what dejunk blocked, what it saved, what failed, what a list update changes.

    python scripts/report.py INPUT [INPUT ...] [--list FILE ...] [--compare NEW ...]
                             [--recorded CAPTURE ...] [--json report.json] [--html report.html]

INPUT is a mitmproxy flows file (`mitmdump -w`), a HAR file, or a `dejunk_events` log (JSON
Lines); the format is recognised from the content. Give one record of a session (its flows, its
HAR or its event log), not several, or its requests are counted more than once.

Without --list the report says what dejunk did, as recorded. With --list, every recorded request
is decided anew with those lists (`builtin` is dejunk's own list). With --compare NEW... as well,
the same traffic is decided with the --list set and with the NEW set, and the report lists the
requests newly blocked and newly allowed with the rules responsible on each side, and the pages
whose removed elements changed.

A request dejunk blocked live was never fetched, so its size is unknown. When INPUT is a replay
(`mitmdump -nr capture.flows -s addons/dejunk.py -w out.flows`), `--recorded capture.flows`
supplies the original sizes of the requests dejunk blocked in the replay.

A summary goes to stdout; problems reading the input go to stderr, naming file and position.
Exit status: 0, or 1 when some input could not be read in full (the report covers what could be
read), 2 for usage errors (bad options, unreadable lists).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filters.reports import recordings  # noqa: E402
from filters.reports import report as reports  # noqa: E402
from filters.engine import Engine  # noqa: E402
from filters.reports.report_html import render_html  # noqa: E402

# Changed requests listed per side in the JSON and HTML (the counts always cover all of them).
MAX_CHANGES = 500
# Inputs read faster than this show no progress bar.
PROGRESS_DELAY = 1.0


class Progress:
    """A progress bar on a terminal for work that takes longer than `delay` seconds; silent otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, delay: float | None = None, clock=time.monotonic,
                 width: int = 30):
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream)
        self.delay = PROGRESS_DELAY if delay is None else delay
        self.clock = clock
        self.width = width
        self.started = clock()
        self.base = 0  # bytes of the inputs already done
        self.label = ""
        self.drawn = False
        self._last_draw = 0.0

    def start_file(self, label: str, base: int) -> None:
        self.label, self.base = label, base

    def update(self, position: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now - self.started < self.delay or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        done = min(self.base + position, self.total) / self.total
        filled = int(done * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done:4.0%} {self.label[-40:]}")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * (self.width + 50) + "\r")
            self.stream.flush()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def read_inputs(paths: list[str], keep_pages: bool, progress: Progress) -> list[recordings.Recording]:
    sizes = [os.path.getsize(p) if os.path.isfile(p) else 0 for p in paths]
    progress.total = max(sum(sizes), 1)
    done = 0
    result = []
    for path, size in zip(paths, sizes):
        progress.start_file(path, done)
        result.append(recordings.read_recording(path, keep_pages=keep_pages, progress=progress.update))
        done += size
    progress.finish()
    return result


def load_engine(paths: list[str], option: str) -> Engine:
    try:
        return Engine.from_lists(paths)
    except OSError as e:
        raise SystemExit(_usage_error(f"{option}: cannot read {e.filename}: {e.strerror}"))


def _usage_error(message: str) -> int:
    print(f"report.py: {message}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="report.py", description=__doc__.strip().splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="flows file, HAR file or dejunk_events log")
    parser.add_argument("--list", dest="lists", action="extend", nargs="+", metavar="FILE",
                        help="decide every request anew with these lists ('builtin' is dejunk's own list)")
    parser.add_argument("--compare", nargs="+", metavar="NEW",
                        help="also decide with these lists and report the difference (needs --list)")
    parser.add_argument("--recorded", action="append", metavar="CAPTURE", default=[],
                        help="the capture INPUT was replayed from: original sizes of what dejunk blocked")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON")
    parser.add_argument("--html", metavar="FILE", help="write the report as one self-contained HTML page")
    parser.add_argument("--top", type=int, default=reports.TOP, help="rows in the top-N tables (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no summary on stdout")
    args = parser.parse_args(argv)
    if args.compare and not args.lists:
        return _usage_error("--compare needs the lists in use now as --list FILE ...")
    for path in args.inputs + args.recorded:
        if not os.path.exists(path):
            return _usage_error(f"{path}: no such file")

    try:
        before = load_engine(args.lists, "--list") if args.lists else None
        after = load_engine(args.compare, "--compare") if args.compare else None
    except SystemExit as stop:
        return int(stop.code)

    progress = Progress(0)
    inputs = read_inputs(args.inputs, keep_pages=bool(args.compare), progress=progress)
    originals = read_inputs(args.recorded, keep_pages=False, progress=progress) if args.recorded else []
    problems = [p for r in inputs + originals for p in r.problems]
    for problem in problems:
        print(f"report.py: {problem}", file=sys.stderr)

    records = list(recordings.iter_records(inputs))
    sizes: dict[str, int] = {}
    for original in originals:
        sizes.update(recordings.original_sizes(original))
    if sizes:
        records = recordings.fill_sizes(records, sizes)
    notes: list[str] = []
    if before is not None:
        records, notes = reports.decide_records(records, before)

    summaries = [
        reports.InputSummary(r.path, role, r.format, len(r.records), len(r.problems), dict(r.skipped))
        for role, group in (("input", inputs), ("recorded", originals))
        for r in group
    ]
    report = reports.build_report(
        records,
        inputs=summaries,
        problems=problems,
        notes=notes,
        decided_by="lists" if before is not None else "recorded",
        lists=args.lists or [],
        top=args.top,
    )
    if after is not None:
        report.compare = run_compare(records, before, after, args.lists, args.compare)
        if not report.compare.pages.available:
            print(f"report.py: pages not compared: {report.compare.pages.reason}", file=sys.stderr)

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fo:
            json.dump(reports.report_to_dict(report), fo, indent=1, ensure_ascii=False)
            fo.write("\n")
    if args.html:
        with open(args.html, "w", encoding="utf-8") as fo:
            fo.write(render_html(report))
    if not args.quiet:
        print(reports.render_text(report))
    return 1 if problems else 0


def run_compare(records, before: Engine, after: Engine, lists_before: list[str], lists_after: list[str]):
    rewriters = (reports.page_rewriter(lists_before, before), reports.page_rewriter(lists_after, after))
    return reports.compare(
        records,
        before,
        after,
        lists_before=lists_before,
        lists_after=lists_after,
        rewriters=rewriters,
        top=MAX_CHANGES,
    )


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # `report.py ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
