#!/usr/bin/env python3
"""Find the filter rule that broke a page, from a recording of it, and the exception that undoes it.

    python scripts/culprit.py RECORDING (--expect-text TEXT | --expect-selector CSS | --expect-allowed SUBSTRING)
                              [--list LIST ...] [--config TOML] [--cache DIR] [--url PAGE_URL]
                              [--apply] [--myfilters FILE] [--json]

RECORDING is a mitmproxy flows file (`mitmdump -w`, mitmweb's save) or a HAR file of the page load,
recorded with or without dejunk (a page dejunk already rewrote has lost what was removed: record it
with dejunk off, or `dejunk.allow` the site). The recording is replayed through dejunk's engine and
rewriter with subsets of the rules that fired on it (delta debugging), down to the smallest set of
rules whose application breaks the expectation:

  --expect-text TEXT       the page's visible text contains TEXT (whitespace and case aside)
  --expect-selector CSS    the page has an element matching CSS
  --expect-allowed SUBSTR  every request whose URL contains SUBSTR is let through (not blocked or redirected)

The page is the document at --url, by default the first HTML document in the recording. Lists are
what the proxy uses: `dejunk_lists` (default: the `default` set) read from the list cache as the
proxy sees it, and your own filters file last; --list (repeatable; a file, `builtin`, a set name or
a URL) and --config choose others. Each culprit is printed with its list and line and an exception
for the page's site only; the exceptions are checked by replaying with them added (the expectation
holds, every other rule still fires). --apply appends them to your filters file
(dejunk_myfilters, by default my-filters.txt in the state folder), which the proxy takes into use.

Progress goes to stderr. Exit status: 0 culprits found; 1 the expectation fails even with no rule
(filtering is not the cause); 2 it already holds with every rule; 3 the search could not run
(unreadable recording or lists, no such page, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filters.engine import Engine  # noqa: E402
from filters.lists import subscriptions  # noqa: E402
from filters.lists.listset import (  # noqa: E402
    ListsUnavailable,
    append_myfilters,
    cache_dir_for,
    default_state_dir,
    myfilters_path,
    plan_from_options,
    plan_lists,
)
from filters.printable import printable  # noqa: E402
from filters.reports import culprit  # noqa: E402
from filters.reports.recordings import read_recording  # noqa: E402

CANNOT_RUN = 3
PROXY_DEFAULT_LISTS = ("default",)  # dejunk_lists' default (filters/proxy/options.py)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 means "already holds" here: bad arguments are 3
        self.print_usage(sys.stderr)
        print(f"culprit.py: {message}", file=sys.stderr)
        raise SystemExit(CANNOT_RUN)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="culprit.py", description=__doc__.strip().splitlines()[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recording", help="mitmproxy flows file or HAR file of the page load")
    expect = parser.add_mutually_exclusive_group(required=True)
    expect.add_argument("--expect-text", metavar="TEXT", help="the page's visible text contains TEXT")
    expect.add_argument("--expect-selector", metavar="CSS", help="the page has an element matching CSS")
    expect.add_argument("--expect-allowed", metavar="SUBSTRING",
                        help="every request whose URL contains SUBSTRING is let through")
    parser.add_argument("--url", help="the page (default: the first HTML document in the recording)")
    parser.add_argument("--list", dest="lists", action="append", metavar="LIST",
                        help="a filter list: file, 'builtin', set name or URL; repeat for several "
                             "(default: the proxy's lists and your filters file)")
    parser.add_argument("--config", metavar="TOML", help="dejunk config: its [lists] subscriptions and cache_dir")
    parser.add_argument("--cache", metavar="DIR", help="list cache folder (default: the config's, else the proxy's)")
    parser.add_argument("--myfilters", metavar="FILE",
                        help="your filters file (default: my-filters.txt in the state folder; '' for none)")
    parser.add_argument("--apply", action="store_true", help="append the exceptions to your filters file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    say = (lambda line: None) if args.quiet else (lambda line: print(f"culprit: {printable(line)}", file=sys.stderr))
    started = time.perf_counter()

    if args.expect_text is not None:
        expectation = ("text", args.expect_text)
    elif args.expect_selector is not None:
        expectation = ("selector", args.expect_selector)
    else:
        expectation = ("allowed", args.expect_allowed)
    try:
        expectation = culprit.Expectation(*expectation)
    except ValueError as e:
        return _cannot(str(e))
    if not os.path.isfile(args.recording):
        return _cannot(f"{args.recording}: no such file")
    recording = read_recording(args.recording, keep_pages=True)
    for problem in recording.problems:
        say(str(problem))
    if recording.format not in ("flows", "har"):
        return _cannot(f"{args.recording}: not a flows file or a HAR file ({recording.format})")

    mine = myfilters_path(args.myfilters, default_state_dir())
    try:
        paths, untrusted = _list_paths(args, mine, say)
        say(f"lists: {', '.join(os.path.basename(p) for p in paths)}")
        engine = Engine.from_lists(paths, untrusted=untrusted, cache_dir=_compiled_dir(args) if not args.lists else None)
    except ListsUnavailable as e:
        return _cannot(str(e))
    except OSError as e:
        return _cannot(f"cannot read a list: {e}")
    say(f"engine ready in {time.perf_counter() - started:.1f} s")

    try:
        replay = culprit.Replay(engine, recording.records, expectation, args.url)
    except culprit.CulpritError as e:
        return _cannot(str(e))
    result = culprit.find_culprits(replay, progress=say)
    if result.culprits:
        say("checking the exceptions with the lists")
        result.verification = culprit.verify_with_lists(result, replay, paths, untrusted)
    result.seconds = time.perf_counter() - started
    applied = None
    if args.apply and result.culprits:
        check = result.verification
        applied = _apply(mine, result, expectation) if check is not None and check.ok else \
            "not applied: the exceptions did not pass the check"
    _print(result, expectation, args.json, applied)
    if result.status == "holds":
        return 2
    if result.status == "not_filtering":
        return 1
    return 0 if result.culprits else 1


def _list_paths(args, mine: str | None, say) -> tuple[list[str], list[str]]:
    """The proxy's list files (or --list), then the user's own filters file if it exists."""
    if args.lists:
        plan = plan_from_options(args.lists, args.config, args.cache, notify=say)
    else:
        config = subscriptions.SubscriptionConfig((), None)
        if args.config:
            try:
                config = subscriptions.read_subscription_config(args.config)
            except (OSError, ValueError) as e:
                raise ListsUnavailable(f"cannot use the config: {e}") from None
        try:
            plan = plan_lists(PROXY_DEFAULT_LISTS, config.subscriptions, cache_dir_for(args.cache, config))
        except ValueError as e:
            raise ListsUnavailable(str(e)) from None
        for url in plan.missing:
            say(f"{url}: not in the list cache yet (the proxy has not fetched it): left out, as the proxy would")
    paths = list(plan.paths)
    if mine and os.path.isfile(mine):
        paths.append(mine)
    return paths, list(plan.untrusted)


def _compiled_dir(args) -> str | None:
    # The proxy's compiled-engine cache: the proxy's lists load from it in a fraction of a second.
    return os.path.join(subscriptions.default_cache_dir(), "compiled")


def _apply(path: str | None, result, expectation) -> str:
    if not path:
        return "not applied: your filters file is turned off (--myfilters '')"
    added, problem = append_myfilters(path, [c.exception for c in result.culprits],
                                      f"scripts/culprit.py on {result.page_url}: {expectation.describe()}")
    if problem:
        return f"not applied: {problem}"
    return f"appended to {path}" if added else f"already in {path}: nothing appended"


def _print(result, expectation, as_json: bool, applied: str | None) -> None:
    if as_json:
        document = result.to_dict()
        if applied is not None:
            document["applied"] = applied
        json.dump(document, sys.stdout, indent=1, ensure_ascii=False)
        print()
        return
    text = culprit.describe_replayed(result, expectation)
    if applied:
        text += "\n" + applied
    print(printable(text, newlines=True))


def _cannot(message: str) -> int:
    print(f"culprit.py: {printable(message)}", file=sys.stderr)
    return CANNOT_RUN


if __name__ == "__main__":
    sys.exit(main())
