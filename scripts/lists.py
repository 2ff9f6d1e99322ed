#!/usr/bin/env python3
"""Download filter list subscriptions into dejunk's cache and show their state.

    python scripts/lists.py update [--cache DIR] [--config FILE] [--force] [--allow-shrink] [URL|NAME ...]
    python scripts/lists.py status [--cache DIR] [--config FILE] [--json]
    python scripts/lists.py sets

`update` with no URL takes the subscriptions of the config file's `[lists]` table; a NAME is a
list set (`default`) or a known list (`easylist`), as in `dejunk_lists`; `sets` shows them. It
refreshes the lists that are due (`--force`: every list, downloaded whole). The cache folder is `--cache`,
else the config's `cache_dir`, else $XDG_CACHE_HOME/dejunk/lists (~/.cache/dejunk/lists).
Exit status: 0 when every list is fine, 1 when a list could not be updated, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filters.engine import Engine  # noqa: E402
from filters.lists import sets, subscriptions  # noqa: E402
from filters.printable import printable  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="lists.py", description=__doc__.strip().splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    update = commands.add_parser("update", help="download the lists that are due")
    update.add_argument("urls", nargs="*", metavar="URL|NAME",
                        help="lists to update: URLs, or names of list sets (default: the config's subscriptions)")
    update.add_argument("--force", action="store_true", help="download every list now, ignoring due times")
    update.add_argument(
        "--allow-shrink", action="store_true", help="accept a list with far fewer rules than its last good copy"
    )
    show = commands.add_parser("status", help="show each cached list")
    show.add_argument("--json", action="store_true", help="print the status as JSON")
    show.add_argument("--trusted-list", action="append", default=[], metavar="PREFIX",
                      help="URL prefix of lists to treat as trusted, as the proxy's dejunk_trusted_lists")
    commands.add_parser("sets", help="show the named list sets and lists")
    for command in (update, show):
        command.add_argument("--cache", metavar="DIR", help="cache folder (default: config cache_dir, else user cache)")
        command.add_argument("--config", metavar="FILE", help="dejunk config file (TOML) with a [lists] table")
    args = parser.parse_args(argv)
    if args.command == "sets":
        return run_sets()

    config = subscriptions.SubscriptionConfig((), None)
    if args.config:
        try:
            config = subscriptions.read_subscription_config(args.config)
        except (OSError, ValueError) as e:
            print(f"lists.py: cannot use the config: {e}", file=sys.stderr)
            return 2
    cache_dir = args.cache or config.cache_dir or subscriptions.default_cache_dir()
    if args.command == "update":
        return run_update(args, config, cache_dir)
    return run_status(args, config, cache_dir)


def run_sets() -> int:
    """Each set with its lists, then each list name with its title and URL."""
    for name, members in sets.SETS.items():
        print(f"{name}: {' '.join(members)}")
    print()
    width = max(len(name) for name in sets.KNOWN_LISTS)
    for known in sets.KNOWN_LISTS.values():
        print(f"{known.name:<{width}}  {known.title}")
        print(f"{'':<{width}}  {known.url}")
    return 0


def run_update(args, config: subscriptions.SubscriptionConfig, cache_dir: str) -> int:
    urls = []
    for spec in args.urls:
        expanded = sets.expand(spec)
        if expanded is None and "://" not in spec:  # a URL, even a bad one, is reported per list below
            close = sets.suggestion(spec)
            hint = f" (did you mean {close}?)" if close else " (lists.py sets shows the names)"
            print(f"lists.py update: not a URL nor a list set or list name: {spec!r}{hint}", file=sys.stderr)
            return 2
        urls.extend(url for url in expanded or [spec] if url not in urls)
    urls = urls or list(config.subscriptions)
    if not urls:
        where = f"{args.config} has no [lists] subscriptions" if args.config else "no --config FILE given"
        print(f"lists.py update: nothing to update: name list URLs or a config ({where})", file=sys.stderr)
        return 2
    print(f"cache: {cache_dir}")
    failed = False
    for result in subscriptions.update(urls, cache_dir, force=args.force, allow_shrink=args.allow_shrink):
        print(printable(describe_result(result), newlines=True))
        for warning in result.warnings:
            print(printable(f"    warning: {warning}"))
        failed = failed or not result.ok
    return 1 if failed else 0


def describe_result(result: subscriptions.UpdateResult) -> str:
    """A line per list (two for a failure): outcome, URL, and what it means for the cached copy."""
    now = time.time()
    if result.outcome == subscriptions.FAILED:
        kept = "keeping the last good copy" if result.path else "no copy in the cache yet"
        retry = f"; retry {relative(result.next_due, now)}" if result.next_due is not None else ""
        return f"FAILED        {result.url}\n    {result.error} ({kept}{retry})"
    details = [f"{result.rule_count:,} rules"] if result.rule_count is not None else []
    if result.next_due is not None:
        details.append(f"next check {relative(result.next_due, now)}")
    if result.outcome == subscriptions.NOT_DUE:
        details.append("--force checks now")
    return f"{result.outcome:<13} {result.url} ({', '.join(details)})"


def run_status(args, config: subscriptions.SubscriptionConfig, cache_dir: str) -> int:
    now = time.time()
    report = subscriptions.status(cache_dir, config.subscriptions or None, now=now)
    contents = {listed.url: in_force(listed, args.trusted_list) for listed in report.lists}
    if args.json:
        print(json.dumps(status_json(report, contents), indent=2, ensure_ascii=False))
        return 0
    print(f"cache: {cache_dir}")
    if report.problem:
        print(f"warning: the cache state could not be read: {report.problem}")
    if not report.lists:
        print("no lists in the cache yet (run: python scripts/lists.py update URL ...)")
        return 0
    for listed in report.lists:
        print()
        print(printable(listed.title or listed.url))  # a list's title is the list's own text
        rows = [
            ("source", listed.url),
            ("version", header_version(listed)),
            ("rules", in_force_text(contents[listed.url])),
            ("skipped", skipped_text(contents[listed.url])),
            ("cached copy", listed.path or "none"),
            ("last update", when(listed.last_update, now)),
            ("last attempt", when(listed.last_attempt, now)),
            ("next due", "now" if listed.due else when(listed.next_due, now)),
            ("expires", listed.expires or f"not given (every {subscriptions.DEFAULT_INTERVAL / 86400:g} days)"),
            ("last error", listed.last_error or "none"),
        ]
        rows.extend(("warning", warning) for warning in listed.warnings)
        for name, value in rows:
            print(printable(f"  {name + ':':<14}{value}"))
    return 0


def in_force(listed: subscriptions.ListStatus, trusted_prefixes: list[str]) -> dict | None:
    """What the proxy would use of a cached list: its rules in force, and its skipped lines by reason."""
    if not listed.path:
        return None
    untrusted = [] if subscriptions.is_trusted_url(listed.url, trusted_prefixes) else [listed.path]
    try:
        engine = Engine.from_lists([listed.path], untrusted=untrusted)
    except OSError as e:
        return {"error": str(e)}
    [summary] = engine.lists
    return {
        "network": summary.rules - summary.host_rules,
        "cosmetic": summary.cosmetic,
        "hosts": summary.host_rules,
        "trusted": not untrusted,
        # Comments and lines of other platforms (`!#if`) are not rules: everything else skipped is listed.
        "skipped": {reason: n for reason, n in engine.skipped.most_common()
                    if reason not in ("comment", "preprocessor excluded")},
    }


def in_force_text(content: dict | None) -> str:
    if content is None:
        return "-"
    if "error" in content:
        return f"cannot read the cached copy: {content['error']}"
    trust = "" if content["trusted"] else " (untrusted: trusted-only rules skipped)"
    return (f"{content['network']:,} network, {content['cosmetic']:,} cosmetic rules, "
            f"{content['hosts']:,} host entries in force{trust}")


def skipped_text(content: dict | None) -> str:
    if not content or "error" in content:
        return "-"
    return ", ".join(f"{reason} {n:,}" for reason, n in content["skipped"].items()) or "none"


def header_version(listed: subscriptions.ListStatus) -> str:
    parts = [listed.version] if listed.version else []
    if listed.list_date:
        parts.append(f"modified {listed.list_date}")
    return ", ".join(parts) or "-"


def when(moment: float | None, now: float) -> str:
    """A time in UTC and how far it is from now: "2026-08-17 07:00 UTC (in 3 days)"."""
    if moment is None:
        return "never"
    stamp = datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp} ({relative(moment, now)})"


def relative(moment: float, now: float) -> str:
    """ "in 3 days", "2 hours ago" or "now"."""
    delta = moment - now
    span = abs(delta)
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if span >= seconds:
            count = int(span // seconds)
            amount = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {amount}" if delta > 0 else f"{amount} ago"
    return "now"


def status_json(report: subscriptions.CacheStatus, contents: dict[str, dict | None] | None = None) -> dict:
    def stamp(moment):
        return None if moment is None else datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")

    return {
        "cache_dir": report.cache_dir,
        "problem": report.problem,
        "lists": [
            {
                "url": listed.url,
                "path": listed.path,
                "title": listed.title,
                "version": listed.version,
                "list_date": listed.list_date,
                "expires": listed.expires,
                "rule_count": listed.rule_count,
                "in_force": (contents or {}).get(listed.url),
                "last_update": stamp(listed.last_update),
                "last_attempt": stamp(listed.last_attempt),
                "next_due": stamp(listed.next_due),
                "due": listed.due,
                "last_error": listed.last_error,
                "warnings": list(listed.warnings),
            }
            for listed in report.lists
        ],
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
