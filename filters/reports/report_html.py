"""The report as one self-contained HTML page: tables, and plots drawn as inline SVG.

Nothing is loaded from the network: the style sheet is inline and the plots are SVG elements
written here. Everything taken from the recording (URLs, hosts, rules) is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .report import Comparison, Report, Totals, human_size, known_size, plural

PLOT_HOSTS = 20
TABLE_ROWS = 50
# URLs and rules longer than this are shortened in their cell; the whole text is the cell's title.
LONG_TEXT = 160
DASH = "–"  # a value that is not known or does not apply
# A failures plot draws at least this many columns' width, so that one bucket is not one wide block.
MIN_COLUMNS = 12
BLOCKED_COLOR = "#c0392b"
ALLOWED_COLOR = "#7f8c8d"
# Upstream failure kinds in a fixed order and colour, so that plots read the same every time.
KIND_COLORS = {
    "dns": "#8e44ad",
    "refused": "#c0392b",
    "connect_timeout": "#d35400",
    "response_timeout": "#f39c12",
    "tls": "#2980b9",
    "reset": "#16a085",
    "protocol": "#2c3e50",
}
OTHER_COLOR = "#95a5a6"

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;color:#222;max-width:70em;margin:2em auto;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.1em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin-bottom:.2em}
.wide{overflow-x:auto;margin:.5em 0 1em}
table{border-collapse:collapse;font-size:13px}
th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f5f5f5}
th.n,td.n{text-align:right;font-variant-numeric:tabular-nums} td.n{white-space:nowrap}
td.k{white-space:nowrap}
td.u,code{font-family:ui-monospace,monospace;overflow-wrap:anywhere}
td.u{min-width:min(18em,45vw)}
td.w{overflow-wrap:anywhere;min-width:min(12em,30vw)}
#pages-changed td.w{font-family:ui-monospace,monospace}
td.none{color:#999}
.muted{color:#777} .problem{color:#a40000} svg{display:block;margin:0}
svg text{font:11px system-ui,sans-serif;fill:#333}
.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:-.1em}
@media (max-width:40em){body{margin:1em auto;padding:0 .5em} table{font-size:12px} th,td{padding:.2em .35em}
td.k{white-space:normal} td.k .at{display:inline-block} td.u{min-width:22vw} td.w{min-width:15vw}}
"""


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell's text with a tooltip: the whole of a shortened text, or why a value is missing."""

    text: str
    title: str = ""


UNKNOWN_SIZE = Cell(DASH, "size unknown")


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _cell(value, kind: str) -> str:
    """One <td>: `kind` is "n" (a number, right-aligned), "u" (a URL or rule), "w" (text that may hold one),
    "k" (kept on one line) or ""."""
    if isinstance(value, Cell):
        text, title = value.text, value.title
    elif value is None:  # not known: a dash (an empty string is a value that does not apply: a blank)
        text, title = DASH, ""
    elif isinstance(value, int) and not isinstance(value, bool):
        text, title = f"{value:,}", ""
    else:
        text, title = str(value), ""
    if kind in ("u", "w") and len(text) > LONG_TEXT:
        text, title = text[: LONG_TEXT - 1] + "…", title or text
    classes = " ".join(c for c in (kind, "none" if text == DASH else "") if c)
    attributes = (f' class="{classes}"' if classes else "") + (f' title="{_e(title)}"' if title else "")
    content = _e(text)
    if kind == "k" and ":" in text:
        # `list.txt:12`: on a phone the line number may go to a line of its own (see _STYLE).
        head, _, tail = text.rpartition(":")
        content = f'{_e(head)}<span class="at">:{_e(tail)}</span>'
    return f"<td{attributes}>{content}</td>"


def _table(table_id: str, headers: Sequence[str], rows: Iterable[Sequence], *, empty: str,
           numeric: Sequence[int] = (), code: Sequence[int] = (), keep: Sequence[int] = (),
           prose: Sequence[int] = ()) -> str:
    """A table, or the sentence `empty` when it has no rows.

    Columns in `numeric` are right-aligned numbers (sizes too), those in `code` URLs and rules
    (monospace, wrapped, shortened past LONG_TEXT), those in `prose` text that may quote rules
    (wrapped anywhere, shortened too), those in `keep` short texts kept on one line. A missing
    value shows as a dash.
    """
    kinds = [
        "n" if i in numeric else "u" if i in code else "w" if i in prose else "k" if i in keep else ""
        for i in range(len(headers))
    ]
    head = "".join(f'<th class="n">{_e(h)}</th>' if kind == "n" else f"<th>{_e(h)}</th>"
                   for h, kind in zip(headers, kinds))
    body = ["<tr>" + "".join(_cell(value, kind) for value, kind in zip(row, kinds)) + "</tr>" for row in rows]
    if not body:
        return f'<p class="muted" id="{table_id}-empty">{_e(empty)}</p>'
    return (f'<div class="wide"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _size(known_bytes: int, unknown: int, count: int):
    """A size cell: human units, a dash when no size is known, `≥` when some are not."""
    size = known_size(known_bytes, unknown, count)
    if size is None:
        return UNKNOWN_SIZE
    if unknown:
        without = f"not counting {plural(unknown, 'request')} of unknown size"
        return Cell(f"≥ {size}", without) if known_bytes else Cell(DASH, f"0 B, {without}")
    return size


def _location(list_name, line) -> str | None:
    if not list_name:
        return None
    return f"{list_name}:{line}" if line is not None else str(list_name)


# --- plots ----------------------------------------------------------------------------------------


def bytes_by_host_svg(report: Report, hosts: int = PLOT_HOSTS) -> str:
    """Horizontal stacked bars: blocked and allowed bytes of the hosts with the most bytes."""
    # The hosts that cost the most and the hosts blocking saved the most on: the largest hosts
    # alone are usually all first-party and would hide what blocking did.
    by_blocked = sorted((h for h in report.hosts if h.blocked_bytes > 0), key=lambda h: (-h.blocked_bytes, h.host))
    chosen = {h.host: h for h in by_blocked[: hosts // 2]}
    for host in report.hosts:
        if len(chosen) >= hosts:
            break
        if host.bytes > 0:
            chosen.setdefault(host.host, host)
    rows = sorted(chosen.values(), key=lambda h: (-h.bytes, h.host))
    if not rows:
        return '<p class="muted" id="plot-bytes-by-host-empty">No response sizes in the input.</p>'
    label_width, bar_width, value_width, row_height = 230, 400, 130, 20
    width = label_width + bar_width + value_width
    height = row_height * len(rows) + 10
    largest = max(h.bytes for h in rows)
    parts = [
        '<div class="wide">'
        f'<svg id="plot-bytes-by-host" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Blocked and allowed bytes by host">'
    ]
    for i, host in enumerate(rows):
        y = 5 + i * row_height
        blocked = bar_width * host.blocked_bytes / largest
        allowed = bar_width * host.allowed_bytes / largest
        name = host.host if len(host.host) <= 34 else "…" + host.host[-33:]
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">{_e(name)}</text>')
        parts.append(
            f'<rect class="blocked" x="{label_width}" y="{y + 2}" width="{blocked:.1f}" height="{row_height - 6}" '
            f'fill="{BLOCKED_COLOR}"><title>{_e(host.host)}: {_e(human_size(host.blocked_bytes))} blocked</title></rect>'
        )
        parts.append(
            f'<rect class="allowed" x="{label_width + blocked:.1f}" y="{y + 2}" width="{allowed:.1f}" '
            f'height="{row_height - 6}" fill="{ALLOWED_COLOR}"><title>{_e(host.host)}: '
            f"{_e(human_size(host.allowed_bytes))} allowed</title></rect>"
        )
        parts.append(
            f'<text x="{label_width + blocked + allowed + 6:.1f}" y="{y + 13}">{_e(human_size(host.bytes))}</text>'
        )
    parts.append("</svg></div>")
    legend = (
        f'<p class="legend"><span style="background:{BLOCKED_COLOR}"></span>blocked'
        f'<span style="background:{ALLOWED_COLOR}"></span>allowed</p>'
    )
    return "".join(parts) + legend


def failures_over_time_svg(report: Report) -> str:
    """Stacked columns: upstream failures per time bucket, by kind."""
    failures = report.failures
    buckets = failures.over_time
    if not buckets:
        return '<p class="muted" id="plot-failures-over-time-empty">No timed upstream failures in the input.</p>'
    left, right, top, bottom = 40, 10, 10, 40
    plot_width = max(300, min(720, 12 * len(buckets)))
    plot_height = 160
    width, height = left + plot_width + right, top + plot_height + bottom
    column = plot_width / max(len(buckets), MIN_COLUMNS)
    highest = max(b.count for b in buckets)
    kinds = sorted({k for b in buckets for k in b.kinds}, key=_kind_order)
    parts = [
        '<div class="wide">'
        f'<svg id="plot-failures-over-time" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Upstream failures over time">',
        f'<line x1="{left}" y1="{top + plot_height}" x2="{left + plot_width}" y2="{top + plot_height}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_height}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 9}" text-anchor="end">{highest}</text>',
        f'<text x="{left - 4}" y="{top + plot_height}" text-anchor="end">0</text>',
    ]
    for i, bucket in enumerate(buckets):
        x = left + i * column
        y = top + plot_height
        for kind in kinds:
            count = bucket.kinds.get(kind, 0)
            if not count:
                continue
            h = plot_height * count / highest
            y -= h
            parts.append(
                f'<rect class="failures" data-kind="{_e(kind)}" x="{x + 1:.1f}" y="{y:.1f}" '
                f'width="{max(column - 2, 1):.1f}" height="{h:.1f}" fill="{KIND_COLORS.get(kind, OTHER_COLOR)}">'
                f"<title>{_e(bucket.start)}: {_e(plural(count, kind + ' failure'))}</title></rect>"
            )
    # The first bucket's start under its column; the last one's under its column's end when the
    # two fit side by side, else both in one label.
    label_y = top + plot_height + 16
    last_end = left + len(buckets) * column
    if len(buckets) == 1:
        parts.append(f'<text x="{left}" y="{label_y}" text-anchor="start">{_e(buckets[0].start)}</text>')
    elif last_end - left >= 2 * 8 * len(buckets[0].start):  # about 8 px per character at 11 px
        parts.append(f'<text x="{left}" y="{label_y}" text-anchor="start">{_e(buckets[0].start)}</text>')
        parts.append(f'<text x="{last_end:.1f}" y="{label_y}" text-anchor="end">{_e(buckets[-1].start)}</text>')
    else:
        span = f"{buckets[0].start} to {buckets[-1].start}"
        parts.append(f'<text x="{left}" y="{label_y}" text-anchor="start">{_e(span)}</text>')
    parts.append(
        f'<text x="{left + plot_width / 2:.0f}" y="{top + plot_height + 32}" text-anchor="middle">'
        f"buckets of {_e(_duration(failures.bucket_seconds))}</text>"
    )
    parts.append("</svg></div>")
    legend = "".join(
        f'<span style="background:{KIND_COLORS.get(kind, OTHER_COLOR)}"></span>{_e(kind)}' for kind in kinds
    )
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def _kind_order(kind: str) -> tuple[int, str]:
    order = list(KIND_COLORS)
    return (order.index(kind) if kind in order else len(order), kind)


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return plural(seconds // size, unit)
    return f"{seconds} s"


# --- the page -------------------------------------------------------------------------------------


def render_html(report: Report, rows: int = TABLE_ROWS) -> str:
    """The whole report as one HTML document."""
    t = report.totals
    sections: list[str] = []
    add = sections.append

    add("<h1>dejunk report</h1>")
    how = (
        f"decided anew with {', '.join(report.lists)}" if report.decided_by == "lists" else "as dejunk recorded it"
    )
    add(f'<p class="muted">Generated {_e(report.generated)}; traffic {_e(how)}.</p>')
    add(_table(
        "inputs", ("input", "role", "format", "records", "problems"),
        ((i.path, i.role, i.format, i.records, i.problems) for i in report.inputs),
        numeric=(3, 4), code=(0,), empty="No input files.",
    ))
    if report.problems:
        add("<h2>Problems reading the input</h2><ul>")
        add("".join(f'<li class="problem">{_e(p)}</li>' for p in report.problems))
        add("</ul>")
    if report.notes:
        add("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in report.notes) + "</ul>")

    add("<h2>Totals</h2>")
    add(_table("totals", ("", "count", "bytes"), _totals_rows(t), numeric=(1,), empty=""))

    add("<h2>Blocked and allowed bytes by host</h2>")
    add(bytes_by_host_svg(report))
    add("<h2>Per list</h2>")
    add(_table(
        "per-list", ("list", "blocked", "bytes saved", "of unknown size", "rules that blocked"),
        ((r.list, r.blocked, known_size(r.bytes, r.bytes_unknown, r.blocked) or UNKNOWN_SIZE, r.bytes_unknown, r.rules)
         for r in report.per_list),
        numeric=(1, 2, 3, 4), empty="No list blocked anything.",
    ))
    add("<h2>Top blocked hosts</h2>")
    add(_table(
        "top-blocked-hosts", ("host", "blocked", "of requests", "bytes saved"),
        ((h.host or None, h.blocked, h.requests or Cell(DASH, "only blocked events: their requests were not recorded"),
          _size(h.blocked_bytes, h.blocked_bytes_unknown, h.blocked)) for h in report.top_blocked_hosts[:rows]),
        numeric=(1, 2, 3), code=(0,), empty="Nothing was blocked.",
    ))
    add("<h2>Hits per rule</h2>")
    add(_table(
        "rules", ("rule", "kind", "list:line", "hits", "bytes"),
        ((r.rule, r.kind, _location(r.list, r.line), r.hits, _size(r.bytes, r.bytes_unknown, r.hits))
         for r in report.rules[:rows]),
        numeric=(3, 4), code=(0,), keep=(1, 2), empty="No rule matched.",
    ))
    add("<h2>Requests per type</h2>")
    add(_table(
        "types", ("type", "requests", "blocked", "bytes", "blocked bytes"),
        ((r.type, r.requests, r.blocked, _size(r.bytes, r.bytes_unknown, r.requests),
          _size(r.blocked_bytes, r.blocked_bytes_unknown, r.blocked)) for r in report.types),
        numeric=(1, 2, 3, 4), keep=(0,), empty="No requests.",
    ))
    add("<h2>Policy actions</h2>")
    add(_table(
        "policies", ("policy", "host", "pattern", "count"),
        ((p.policy, p.host or None, p.pattern or "(default)", p.count) for p in report.policies[:rows]),
        numeric=(3,), code=(1, 2), keep=(0,), empty="No policy actions.",
    ))

    failures = report.failures
    add("<h2>Upstream failures</h2>")
    if failures.total:
        add("<p>" + _e(", ".join(f"{k}: {n:,}" for k, n in failures.by_kind.items())) + "</p>")
        add(failures_over_time_svg(report))
        add(_table(
            "failures-by-host", ("host", "failures", "kinds"),
            ((h.host or None, h.count, ", ".join(f"{k} {n:,}" for k, n in h.kinds.items()))
             for h in failures.by_host[:rows]),
            numeric=(1,), code=(0,), prose=(2,), empty="",
        ))
    else:
        add('<p class="muted" id="failures-empty">No upstream failures.</p>')

    rewrites = report.rewrites
    add("<h2>Pages rewritten</h2>")
    if not rewrites.pages:
        errors = f" ({plural(rewrites.errors, 'rewrite error')})" if rewrites.errors else ""
        add(f'<p class="muted" id="rewrites-empty">No page was rewritten{_e(errors)}.</p>')
    else:
        summary = f"{plural(rewrites.pages, 'page')}, {plural(rewrites.elements_removed, 'element')} removed"
        if rewrites.errors:
            summary += f", {plural(rewrites.errors, 'rewrite error')}"
        add(f"<p>{_e(summary)}.</p>")
        add("<h3>Pages with the most elements removed</h3>")
        add(_table(
            "rewritten-pages", ("page", "elements removed", "bytes before", "bytes after"),
            ((p.url, p.removed, p.bytes_before, p.bytes_after) for p in rewrites.top_pages),
            numeric=(1, 2, 3), code=(0,), empty="",
        ))
        add("<h3>Rules that removed elements</h3>")
        add(_table(
            "rewrite-selectors", ("rule", "pages"), rewrites.selectors.items(), numeric=(1,), code=(0,),
            empty="No rule is named in the recording.",
        ))

    if report.compare is not None:
        add(_comparison_html(report.compare, rows))
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><title>dejunk report</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _totals_rows(t: Totals) -> list[tuple]:
    """The totals table: a label, a count, and what the bytes say (a dash where nothing is known)."""
    if not t.requests:
        requests_bytes = ""
    elif t.bytes_unknown >= t.requests:
        requests_bytes = "size unknown"
    else:
        requests_bytes = human_size(t.bytes) + (f" ({t.bytes_unknown:,} of unknown size)" if t.bytes_unknown else "")
    if not t.blocked:
        blocked_bytes = ""
    elif t.blocked_bytes_unknown >= t.blocked:
        blocked_bytes = "size unknown"
    else:
        share = f" ({t.saved_share:.1%})" if t.saved_share is not None else ""
        blocked_bytes = f"{human_size(t.blocked_bytes)} saved{share}" + (
            f", {t.blocked_bytes_unknown:,} of unknown size" if t.blocked_bytes_unknown else "")
    allowed_bytes = "" if not t.allowed else human_size(t.allowed_bytes)
    rewritten = f"{human_size(t.rewrite_bytes_saved)} removed" if t.pages_rewritten else ""
    return [
        ("requests", t.requests, requests_bytes),
        ("blocked", t.blocked, blocked_bytes),
        ("allowed", t.allowed, allowed_bytes),
        ("allowed by an exception rule", t.exceptions, ""),
        ("pages rewritten", t.pages_rewritten, rewritten),
        ("elements removed", t.elements_removed, ""),
        ("policy actions", t.policy_actions, ""),
        ("sites allowed (dejunk stepped aside)", t.allowed_site, ""),
        ("upstream failures", t.upstream_failures, ""),
        ("dejunk errors (addon, rewrite)", t.addon_errors + t.rewrite_errors, ""),
        ("events read", t.events, ""),
    ]


def _comparison_html(c: Comparison, rows: int) -> str:
    parts = ["<h2>List update: before and after</h2>"]
    parts.append(f"<p>Before: <code>{_e(', '.join(c.lists_before))}</code><br>"
                 f"After: <code>{_e(', '.join(c.lists_after))}</code></p>")
    parts.append(_table(
        "compare-totals", ("", "before", "after"),
        [
            ("requests", c.requests, c.requests),
            ("blocked", c.blocked_before, c.blocked_after),
            ("blocked bytes", human_size(c.blocked_bytes_before), human_size(c.blocked_bytes_after)),
            ("newly blocked", None, c.newly_blocked_count),
            ("newly allowed", None, c.newly_allowed_count),
            ("blocked by another rule", None, c.rule_changed),
        ],
        numeric=(1, 2), empty="",
    ))

    def changes(table_id: str, items, empty: str) -> str:
        return _table(
            table_id, ("url", "type", "before", "after"),
            ((ch.url, ch.type, ch.before.text, ch.after.text) for ch in items[:rows]), code=(0,), keep=(1,),
            prose=(2, 3), empty=empty,
        )

    def rule_rows(items) -> Iterable[tuple]:
        return ((r.rule, _location(r.list, r.line), r.requests, human_size(r.bytes)) for r in items[:rows])

    parts.append("<h3>Newly blocked</h3>" + changes("newly-blocked", c.newly_blocked, "No request is newly blocked."))
    parts.append("<h3>Newly allowed</h3>" + changes("newly-allowed", c.newly_allowed, "No request is newly allowed."))
    parts.append("<h3>Rules that block more</h3>" + _table(
        "rules-newly-blocking", ("rule", "list:line", "requests", "bytes"), rule_rows(c.rules_newly_blocking),
        numeric=(2, 3), code=(0,), keep=(1,), empty="No rule blocks more.",
    ))
    parts.append("<h3>Rules that no longer block</h3>" + _table(
        "rules-no-longer-blocking", ("rule", "list:line", "requests", "bytes"), rule_rows(c.rules_no_longer_blocking),
        numeric=(2, 3), code=(0,), keep=(1,), empty="No rule stopped blocking.",
    ))
    pages = c.pages
    parts.append("<h3>Pages whose removed elements changed</h3>")
    if not pages.available:
        parts.append(f'<p class="muted" id="pages-not-compared">{_e(pages.reason)}</p>')
    else:
        parts.append(f"<p>{_e(plural(pages.pages, 'page'))} compared; elements removed {pages.removed_before:,} → "
                     f"{pages.removed_after:,}.</p>")
        parts.append(_table(
            "pages-changed", ("page", "removed before", "removed after", "rules added", "rules dropped"),
            ((p.url, p.removed_before, p.removed_after, ", ".join(p.selectors_added), ", ".join(p.selectors_dropped))
             for p in pages.changed[:rows]),
            numeric=(1, 2), code=(0,), prose=(3, 4), empty="No page changed.",
        ))
        if pages.errors:
            parts.append("<ul>" + "".join(f'<li class="problem">{_e(e)}</li>' for e in pages.errors) + "</ul>")
    return "\n".join(parts)
