#!/usr/bin/env python3
"""Build a mitmproxy flows file from saved pages and the subresource requests they make.

    python scripts/make_flows.py [--pages DIR] [--requests FILE.jsonl] -o OUT.flows

`--pages` is a folder with `pages.json` (a list of {"file", "url"}) and the page files;
`--requests` has one {"url", "type", "source_url"} per line. Defaults: the corpus layout,
`<corpus>/pages` and `<corpus>/requests/page-subresources.jsonl`, where the corpus is
`--corpus`, else $DEJUNK_CORPUS, else ../shared/corpus beside the checkout.

Each page becomes a document flow (its HTML, text/html; charset=utf-8, Sec-Fetch-Dest: document),
followed by one flow per subresource it requests (Sec-Fetch-Dest and Accept as a browser sends
them for the type, Referer = the page, a 200 response of a typical size for the type). The same
input always gives the same file. Replay it through dejunk with

    mitmdump -nr OUT.flows -s addons/dejunk.py -w replayed.flows

Exit status: 0 when everything was used, 1 when some input lines or pages were bad (they are
named on stderr and left out), 2 when there was nothing to build from.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from filters.reports.recordings import make_page_flows, read_pages_index, read_subresources, write_flows  # noqa: E402


def default_corpus() -> Path:
    return Path(os.environ.get("DEJUNK_CORPUS") or REPO.parent / "shared" / "corpus")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make_flows.py", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder for the defaults")
    parser.add_argument("--pages", type=Path, help="folder with pages.json and the pages (default: CORPUS/pages)")
    parser.add_argument(
        "--requests", type=Path, help="subresource requests, JSON Lines (default: CORPUS/requests/page-subresources.jsonl)"
    )
    parser.add_argument("--no-requests", action="store_true", help="pages only, no subresources")
    parser.add_argument("-o", "--output", type=Path, required=True, help="flows file to write")
    args = parser.parse_args(argv)

    corpus = args.corpus or default_corpus()
    pages_dir = args.pages or corpus / "pages"
    requests_path = args.requests or corpus / "requests" / "page-subresources.jsonl"

    pages, problems = read_pages_index(str(pages_dir))
    subresources = []
    if not args.no_requests:
        subresources, request_problems = read_subresources(str(requests_path))
        problems += request_problems
    for problem in problems:
        print(f"make_flows.py: {problem}", file=sys.stderr)
    if not pages and not subresources:
        print("make_flows.py: nothing to build from", file=sys.stderr)
        return 2
    count = write_flows(make_page_flows(pages, subresources), str(args.output))
    print(f"{args.output}: {count} flows ({len(pages)} pages, {len(subresources)} subresources)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
