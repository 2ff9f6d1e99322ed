#!/usr/bin/env python3
"""Ask the network filter engine about URLs, as the proxy would.

    python scripts/check.py [--list FILE ...] [--source URL] [--type TYPE] [--method M] URL
    python scripts/check.py [--list FILE ...] --requests FILE.jsonl [-o OUT.jsonl]

The first form prints the decision in plain words: the rule that blocked (with its list and line),
the exception that overrode it, the redirect resource, the parameters removed, the CSP added. The
second reads one JSON object per line, `{"url", "type", "source_url"}` (the format of the corpus'
page-subresources.jsonl), and writes one per request: `{"url", "type", "source_url", "blocked",
"filter", "exception", "redirect"}`. A bad input line is reported on stderr with its number and
skipped. Without `--list` the built-in list is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filters.engine import Engine  # noqa: E402
from filters.request import host_of, is_third_party, normalize_type  # noqa: E402
from filters.resources import get_resource  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--list", action="append", dest="lists", metavar="FILE", help="filter list (repeatable; default: builtin)"
    )
    parser.add_argument("--source", metavar="URL", help="the page that makes the request")
    parser.add_argument("--type", default="other", help="resource type: document, script, image, xhr, ... (default: other)")
    parser.add_argument("--method", default="GET", help="HTTP method (default: GET)")
    parser.add_argument("--requests", metavar="FILE", help="JSON Lines of requests to decide in bulk ('-' for stdin)")
    parser.add_argument("-o", "--output", metavar="FILE", help="where --requests writes its results (default: stdout)")
    parser.add_argument("--cache-dir", metavar="DIR", help="load/save the compiled engine here")
    parser.add_argument("url", nargs="?", help="the URL to check")
    args = parser.parse_args(argv)
    if (args.url is None) == (args.requests is None):
        parser.error("give either a URL or --requests FILE")
    try:
        engine = Engine.from_lists(args.lists or ["builtin"], cache_dir=args.cache_dir)
    except OSError as e:
        print(f"check: cannot read a list: {e}", file=sys.stderr)
        return 2
    _report_lists(engine)
    if args.requests is not None:
        return _bulk(engine, args.requests, args.output)
    print(explain(engine, args.url, args.source, args.type, args.method))
    return 0


def explain(engine: Engine, url: str, source: str | None, request_type: str, method: str = "GET") -> str:
    """The decision about one request, with the request as the engine saw it."""
    kind = normalize_type(request_type)
    decision = engine.check(url, source, request_type, method)
    host = host_of(url)
    party = "third-party" if is_third_party(host, host_of(source) if source else None) else "first-party"
    lines = [
        f"request:  {method.upper()} {url}",
        f"type:     {kind}, {party}" + (f", from {source}" if source else ", no source page"),
        f"decision: {decision.describe()}",
    ]
    if decision.redirect:
        resource = get_resource(decision.redirect)
        if resource is not None:
            lines.append(f"served:   {resource.name} ({resource.content_type}, {len(resource.body)} bytes)")
    if kind == "document" or source:
        page = engine.page_exceptions(source or url)
        switches = [
            f"{name} ({rule})"
            for name, on, rule in (
                ("document", page.document, page.document_rule),
                ("elemhide", page.elemhide, page.elemhide_rule),
                ("generichide", page.generichide, page.generichide_rule),
                ("genericblock", page.genericblock, page.genericblock_rule),
            )
            if on
        ]
        if switches:
            lines.append("page:     " + ", ".join(switches))
    return "\n".join(lines)


def _bulk(engine: Engine, path: str, output: str | None) -> int:
    source = sys.stdin if path == "-" else open(path, encoding="utf-8")
    sink = open(output, "w", encoding="utf-8") if output else sys.stdout
    bad = 0
    try:
        for line_no, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                url = item["url"]
                if not isinstance(url, str):
                    raise TypeError("url is not a string")
                request_type = item.get("type") or "other"
                source_url = item.get("source_url")
                decision = engine.check(url, source_url, request_type, item.get("method") or "GET")
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                bad += 1
                print(f"{path}:{line_no}: skipped: {type(e).__name__}: {e}", file=sys.stderr)
                continue
            result = {
                "url": url,
                "type": request_type,
                "source_url": source_url,
                "blocked": decision.blocked,
                "filter": decision.filter,
                "exception": decision.exception,
                "redirect": decision.redirect,
            }
            sink.write(json.dumps(result, ensure_ascii=False) + "\n")
    finally:
        if source is not sys.stdin:
            source.close()
        if sink is not sys.stdout:
            sink.close()
    if bad:
        print(f"check: {bad} input line(s) skipped", file=sys.stderr)
    return 0


def _report_lists(engine: Engine) -> None:
    for bad in engine.bad_lines[:5]:
        print(f"check: bad line: {bad}", file=sys.stderr)
    if len(engine.bad_lines) > 5:
        print(f"check: ... and {len(engine.bad_lines) - 5} more bad lines", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
