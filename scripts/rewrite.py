#!/usr/bin/env python3
"""Rewrite a saved page as the proxy would and print what happened as JSON.

    python scripts/rewrite.py --list easylist.txt --url https://example.com/a.html page.html -o out.html
    python scripts/rewrite.py --url https://example.com/ page.html --mode hide     (the built-in list)

Prints: removed (or hidden) count, the rules that matched with their list and line, elements
left in place and why, bytes before and after, the encoding used, and milliseconds.

Lists are what the proxy's `dejunk_lists` takes: files, `builtin` (the default here), list set names
(`default`, see `lists.py sets`) and http(s) URLs, plus the `[lists] subscriptions` of `--config`. A URL is read from its copy in the proxy's
list cache (`--cache`, else the config's `cache_dir`, else $XDG_CACHE_HOME/dejunk/lists); one
without a copy is downloaded into the cache first. Exit status: 0, 1 when a list, the page or
the output cannot be read, written or downloaded, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filters.engine import Engine  # noqa: E402
from filters.lists.syntax import BUILTIN_NAME  # noqa: E402
from filters.lists.listset import ListsUnavailable, plan_from_options  # noqa: E402
from filters.html.rewrite import MODES, rewrite_page  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("page", help="the saved HTML file (its bytes as served, after content decoding)")
    parser.add_argument("--url", required=True, help="the page's URL (decides which site-specific rules apply)")
    parser.add_argument("--list", dest="lists", action="append", metavar="LIST",
                        help=f"a filter list: a file, '{BUILTIN_NAME}' or an http(s) URL; repeat for several "
                        f"(default: {BUILTIN_NAME})")
    parser.add_argument("--config", metavar="TOML", help="dejunk config: its [lists] subscriptions and cache_dir")
    parser.add_argument("--cache", metavar="DIR",
                        help="list cache folder (default: the config's cache_dir, else the proxy's default)")
    parser.add_argument("--mode", choices=MODES, default="remove")
    parser.add_argument("--content-type", default="text/html", help="the Content-Type header (for its charset)")
    parser.add_argument("--elemhide", action="store_true", help="as if an $elemhide exception applied (the lists' own apply anyway)")
    parser.add_argument("--generichide", action="store_true", help="as if a $generichide exception applied (the lists' own apply anyway)")
    parser.add_argument("-o", "--output", help="where to write the rewritten page")
    arguments = parser.parse_args(argv)

    try:
        plan = plan_from_options(arguments.lists, arguments.config, arguments.cache, notify=_notify)
    except ListsUnavailable as error:
        print(f"rewrite: {error}", file=sys.stderr)
        return 1
    started = time.perf_counter()  # after any download: lists_ms is the time to build the engine
    try:
        # The proxy's engine: cosmetic rules plus the lists' `@@...$elemhide/$generichide` exceptions.
        engine = Engine.from_lists(list(plan.paths), untrusted=plan.untrusted)
        body = Path(arguments.page).read_bytes()
    except OSError as error:
        print(f"rewrite: {error}", file=sys.stderr)
        return 1
    store = engine.cosmetic_store
    built_ms = (time.perf_counter() - started) * 1000
    exceptions = engine.page_exceptions(arguments.url)
    rules = store.page_rules(
        arguments.url,
        elemhide=arguments.elemhide or exceptions.elemhide,
        generichide=arguments.generichide or exceptions.generichide,
    )
    result = rewrite_page(body, url=arguments.url, content_type=arguments.content_type, rules=rules, mode=arguments.mode)
    if arguments.output:
        try:
            Path(arguments.output).write_bytes(result.body)
        except OSError as error:
            print(f"rewrite: {error}", file=sys.stderr)
            return 1
    report = {
        "url": arguments.url,
        "mode": result.mode,
        "changed": result.changed,
        "removed": result.removed,
        "hidden": result.hidden,
        "matched": result.matched,
        "selectors": result.selectors,
        "rules": [{"rule": h.rule, "list": h.list, "line": h.line, "count": h.count} for h in result.rule_hits],
        "kept": result.kept,
        "bytes_before": result.bytes_before,
        "bytes_after": result.bytes_after,
        "encoding": result.encoding,
        "ms": round(result.elapsed_ms, 2),
        "skipped_reason": result.skipped_reason,
        "lists": [{"name": summary.name, "cosmetic_rules": summary.cosmetic} for summary in engine.lists],
        "cosmetic_rules": len(store),
        "skipped_lines": dict(store.skipped.most_common()),
        "bad_lines": [str(bad) for bad in store.bad_lines + list(rules.bad_lines)],
        "lists_ms": round(built_ms, 1),
    }
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


def _notify(line: str) -> None:
    print(f"rewrite: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
