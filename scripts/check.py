#!/usr/bin/env python3
"""Ask the network filter engine about URLs, as the proxy would.

    python scripts/check.py [--list LIST ...] [--config TOML] [--cache DIR]
                            [--source URL] [--type TYPE] [--method M] URL
    python scripts/check.py [--list LIST ...] [--config TOML] [--cache DIR] --requests FILE.jsonl [-o OUT.jsonl]

The first form prints the decision in plain words: the rule that blocked (with its list and line),
the exception that overrode it, the redirect resource, the parameters removed, the CSP added;
for a page, the scriptlet and `:style()` rules that put something into it.
Without `--type` the type is the one the proxy gives such a request: the URL's extension decides
(`.js` a script, `.png` an image); a URL whose extension says nothing is a page (`document`)
without `--source`, else `other`. A page is its own source page, as in the proxy.

The second reads one JSON object per line, `{"url", "type", "source_url"}` (the format of the
corpus' page-subresources.jsonl; a missing type is inferred the same way), and writes one per
request: `{"url", "type", "source_url", "blocked", "filter", "exception", "redirect"}`. A bad
input line is reported on stderr with its number and skipped.

Lists are what the proxy's `dejunk_lists` takes: files, `builtin` (the default here), list set names
(`default`, see `lists.py sets`) and http(s) URLs, plus the config's `[lists] subscriptions`. A URL is read from its copy in the proxy's list
cache (`--cache`, else the config's `cache_dir`, else $XDG_CACHE_HOME/dejunk/lists); one without
a copy is downloaded into the cache first. Exit status: 0, or 2 for usage errors and lists that
cannot be read or downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filters.network.decision import Decision  # noqa: E402
from filters.engine import Engine  # noqa: E402
from filters.printable import printable  # noqa: E402
from filters.lists.listset import ListsUnavailable, plan_from_options  # noqa: E402
from filters.request import (  # noqa: E402
    RESOURCE_TYPES,
    TYPE_ALIASES,
    Request,
    infer_type,
    normalize_type,
    source_from_headers,
    type_by_name,
    type_from_extension,
)
from filters.network.resources import get_resource  # noqa: E402


def resource_type(name: str) -> str:
    """argparse type for --type: a type name or alias, else an error naming the valid ones."""
    kind = type_by_name(name)
    if kind is None:
        raise argparse.ArgumentTypeError(
            f"unknown type {name!r}; valid types: {', '.join(RESOURCE_TYPES)} "
            f"(also accepted: {', '.join(sorted(TYPE_ALIASES))})"
        )
    return kind


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--list", action="append", dest="lists", metavar="LIST",
        help="filter list: a file, 'builtin', a list set name ('default'; see lists.py sets) or an http(s) URL "
             "(repeatable; default: builtin)",
    )
    parser.add_argument("--config", metavar="TOML", help="dejunk config: its [lists] subscriptions and cache_dir")
    parser.add_argument(
        "--cache", metavar="DIR", help="list cache folder (default: the config's cache_dir, else the proxy's default)"
    )
    parser.add_argument("--source", metavar="URL", help="the page that makes the request")
    parser.add_argument(
        "--type", type=resource_type, default=None,
        help=f"resource type: {', '.join(RESOURCE_TYPES)}, or an alias such as xhr "
        "(default: what the proxy infers from the URL)",
    )
    parser.add_argument("--method", default="GET", help="HTTP method (default: GET)")
    parser.add_argument("--requests", metavar="FILE", help="JSON Lines of requests to decide in bulk ('-' for stdin)")
    parser.add_argument("-o", "--output", metavar="FILE", help="where --requests writes its results (default: stdout)")
    parser.add_argument("--engine-cache", metavar="DIR", help="load/save the compiled engine here (not the list cache: see --cache)")
    parser.add_argument("url", nargs="?", help="the URL to check")
    args = parser.parse_args(argv)
    if (args.url is None) == (args.requests is None):
        parser.error("give either a URL or --requests FILE")
    try:
        plan = plan_from_options(args.lists, args.config, args.cache, notify=_notify)
    except ListsUnavailable as e:
        print(f"check: {e}", file=sys.stderr)
        return 2
    try:
        engine = Engine.from_lists(list(plan.paths), untrusted=plan.untrusted, cache_dir=args.engine_cache)
    except OSError as e:
        print(f"check: cannot read a list: {e}", file=sys.stderr)
        return 2
    _report_lists(engine)
    if args.requests is not None:
        return _bulk(engine, args.requests, args.output)
    print(printable(explain(engine, args.url, args.source, args.type, args.method), newlines=True))
    return 0


def request_for(url: str, source: str | None = None, request_type: str | None = None, method: str = "GET") -> Request:
    """The request as the proxy sees it: the type inferred when not given, a page its own source."""
    kind = normalize_type(request_type) if request_type else infer_type(url, source)
    return Request.from_strings(url, source_from_headers(url, kind, referer=source), kind, method)


def decide(engine: Engine, url: str, source: str | None = None, request_type: str | None = None,
           method: str = "GET") -> tuple[Request, Decision]:
    """The request the proxy would see for these arguments, and the engine's decision on it."""
    request = request_for(url, source, request_type, method)
    return request, engine.check_request(request)


def explain(engine: Engine, url: str, source: str | None, request_type: str | None = None, method: str = "GET") -> str:
    """The decision about one request, with the request as the engine saw it."""
    request, decision = decide(engine, url, source, request_type, method)
    party = "third-party" if request.third_party else "first-party"
    if request.type == "document":
        origin = ", its own source page"
    elif request.source_url:
        origin = f", from {request.source_url}"
    else:
        origin = ", no source page"
    lines = [
        f"request:  {request.method} {url}",
        f"type:     {request.type}{_inferred(url, source, request_type)}, {party}{origin}",
        f"decision: {decision.describe()}",
    ]
    if decision.redirect:
        resource = get_resource(decision.redirect)
        if resource is not None:
            lines.append(f"served:   {resource.name} ({resource.content_type}, {len(resource.body)} bytes)")
    if request.source_url:
        page = engine.page_exceptions(request.source_url)
        switches = [
            f"{name} ({rule})"
            for name, on, rule in (
                ("document", page.document, page.document_rule),
                ("elemhide", page.elemhide, page.elemhide_rule),
                ("generichide", page.generichide, page.generichide_rule),
                ("genericblock", page.genericblock, page.genericblock_rule),
                ("specifichide", page.specifichide, page.specifichide_rule),
            )
            if on
        ]
        if switches:
            lines.append("page:     " + ", ".join(switches))
    if request.type in ("document", "subdocument") and not decision.blocked:
        rules = engine.cosmetic(url)
        if rules is not None and rules.injected_rules:
            lines.append(f"adds:     {len(rules.scriptlets)} scriptlet call(s), {len(rules.styles)} CSS rule(s), from:")
            lines.extend(f"          {text}" for text in rules.injected_rules)
    return "\n".join(lines)


def _inferred(url: str, source: str | None, request_type: str | None) -> str:
    """Why the type is what it is, when --type did not say."""
    if request_type:
        return ""
    if type_from_extension(url) != "other":
        return " (from the URL's extension)"
    if not source:
        return " (a page: no source page, no telling extension)"
    return " (the URL's extension names no type)"


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
                source_url = item.get("source_url")
                request, decision = decide(engine, url, source_url, item.get("type"), item.get("method") or "GET")
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                bad += 1
                print(printable(f"{path}:{line_no}: skipped: {type(e).__name__}: {e}"), file=sys.stderr)
                continue
            result = {
                "url": url,
                "type": request.type,
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
        print(f"check: {bad} input {'line' if bad == 1 else 'lines'} skipped", file=sys.stderr)
    return 0


def _notify(line: str) -> None:
    print(f"check: {line}", file=sys.stderr)


def _report_lists(engine: Engine) -> None:
    for bad in engine.bad_lines[:5]:
        print(f"check: bad line: {bad}", file=sys.stderr)
    if len(engine.bad_lines) > 5:
        print(f"check: ... and {len(engine.bad_lines) - 5} more bad lines", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
