"""Benchmark: rewriting each corpus page vs a bare `BeautifulSoup(html, "lxml")` parse of the same bytes.

Run as `python scripts/bench.py rewrite [options]`. For every page, in one run, the two are timed
alternately (so machine noise hits both alike) and the medians compared. Also timed: pages where
no rule applies (an `$elemhide` page; a `$generichide` page without site rules), which are
decided without parsing, and a page whose rules apply but match nothing.

Targets: median ratio rewrite/parse <= 2.0 (aim 1.5); no-rule pages <= 0.2 of the parse.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bs4 import BeautifulSoup

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filters.cosmetic.rules import CosmeticStore  # noqa: E402
from filters.lists.syntax import parse_list_text, read_list  # noqa: E402
from filters.html.rewrite import rewrite_page  # noqa: E402


def default_corpus() -> str:
    return os.environ.get("DEJUNK_CORPUS", str(REPO.parent / "shared" / "corpus"))


def timed(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py rewrite", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--corpus", default=default_corpus(), help="the shared corpus folder (env DEJUNK_CORPUS)")
    parser.add_argument("--list", dest="lists", action="append", metavar="FILE",
                        help="filter list (repeatable; default: the corpus's easylist.txt)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per page and side (default 7)")
    parser.add_argument("--mode", choices=("remove", "hide"), default="remove")
    parser.add_argument("--pages", default="", help="only pages whose file name contains this")
    arguments = parser.parse_args(argv)

    corpus = Path(arguments.corpus)
    listing_path = corpus / "pages" / "pages.json"
    if not listing_path.is_file():
        print(f"bench rewrite: no corpus at {corpus} (set --corpus or DEJUNK_CORPUS)", file=sys.stderr)
        return 2
    list_paths = arguments.lists or [str(corpus / "lists" / "easylist.txt")]
    started = time.perf_counter()
    filter_lists = [read_list(path) for path in list_paths]
    read_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    store = CosmeticStore.from_lists(filter_lists)
    build_ms = (time.perf_counter() - started) * 1000
    nothing = CosmeticStore.from_lists([parse_list_text("##.no-such-class-anywhere\n", name="nothing")])
    pages = [p for p in json.loads(listing_path.read_text()) if arguments.pages in p["file"]]
    print(f"lists: {', '.join(Path(p).name for p in list_paths)}: read {read_ms:.0f} ms, "
          f"cosmetic store built in {build_ms:.0f} ms ({len(store)} rules, {len(store.generic)} generic)")
    print(f"{len(pages)} pages, median of {arguments.repeat} runs each, mode {arguments.mode}\n")
    header = f"{'page':36s} {'KB':>6s} {'parse ms':>9s} {'rewrite ms':>11s} {'ratio':>6s} {'removed':>8s}  " \
             f"{'no-rule':>8s} {'no-match':>9s}"
    print(header)
    print("-" * len(header))
    ratios, skip_ratios, nothing_ratios = [], [], []
    for page in pages:
        body = (corpus / "pages" / page["file"]).read_bytes()
        url = page["url"]
        rules = store.page_rules(url)
        elemhide = store.page_rules(url, elemhide=True)
        none_apply = nothing.page_rules(url, generichide=True)
        match_nothing = nothing.page_rules(url)
        run = lambda r: rewrite_page(body, url=url, content_type="text/html", rules=r, mode=arguments.mode)  # noqa: E731
        result = run(rules)  # warm-up: compiles this page's selectors once, as a running proxy has
        BeautifulSoup(body, "lxml")
        parse_times, rewrite_times, skip_times, nothing_times = [], [], [], []
        for _ in range(arguments.repeat):
            gc.collect()
            parse_times.append(timed(BeautifulSoup, body, "lxml"))
            gc.collect()
            rewrite_times.append(timed(run, rules))
            skip_times.append(timed(run, elemhide))
            skip_times.append(timed(run, none_apply))
            gc.collect()
            nothing_times.append(timed(run, match_nothing))
        parse_median = statistics.median(parse_times)
        ratio = statistics.median(rewrite_times) / parse_median
        skip_ratio = statistics.median(skip_times) / parse_median
        nothing_ratio = statistics.median(nothing_times) / parse_median
        ratios.append(ratio)
        skip_ratios.append(skip_ratio)
        nothing_ratios.append(nothing_ratio)
        count = result.removed if arguments.mode == "remove" else result.hidden
        print(f"{page['file'][:36]:36s} {len(body) / 1024:6.0f} {parse_median * 1000:9.1f} "
              f"{statistics.median(rewrite_times) * 1000:11.1f} {ratio:6.2f} {count:8d}  {skip_ratio:8.3f} {nothing_ratio:9.2f}")
    print()
    median_ratio = statistics.median(ratios)
    print(f"median rewrite/parse ratio: {median_ratio:.2f} (target <= 2.0, aim 1.5); "
          f"max {max(ratios):.2f}, min {min(ratios):.2f}")
    print(f"no rule applies ($elemhide, or $generichide without site rules): median {statistics.median(skip_ratios):.4f} "
          f"of the parse, max {max(skip_ratios):.4f} (target <= 0.2; decided without parsing)")
    print(f"rules apply but match nothing (parsed, one walk): median {statistics.median(nothing_ratios):.2f} of the parse")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
