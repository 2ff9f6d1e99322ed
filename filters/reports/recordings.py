"""Recorded traffic: reading flows files, HAR files and dejunk event logs; making flows from saved pages.

Every input becomes a `Recording`: plain `Record`s, one per HTTP exchange (a flow, a HAR entry)
or per event (a line of a `dejunk_events` log), and the `Problem`s met on the way. Bad input never
stops the reading: a truncated flows file, a malformed HAR or a broken JSON line gives a problem
naming the file and the position, and everything before it (and, for event logs and HAR entries,
after it) is still read.

What a record says about dejunk comes from what the addon left behind: `flow.metadata["dejunk"]`
and the `X-Dejunk` header on flows, the header (and an optional entry comment) on HAR entries,
the fields of each event.

`make_page_flows` builds the flows a browser would have recorded for saved pages and the
subresource requests they make, so that replays can be run and tested without a network.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import formatdate

from mitmproxy import connection, exceptions, http, io

from ..proxy.flows import request_from_flow
from ..request import Request, host_of, normalize_type, registrable_domain, urlsplit_safe

# Actions after which the response is dejunk's own answer: the recorded body is not the upstream's.
ANSWERED_ACTIONS = ("blocked", "redirected", "policy_connect")
# How many bytes of a page body a record keeps for rewriting comparisons.
MAX_PAGE_BYTES = 8 * 1024 * 1024

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Problem:
    """Input that could not be read: which file, where in it, and what was wrong."""

    file: str
    position: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.position}: {self.message}"


@dataclass(frozen=True, slots=True)
class Record:
    """One exchange (source `flow` or `har`) or one event (source `event`) from a recording."""

    source: str
    origin: str  # "file:position", for messages
    url: str = ""
    host: str = ""
    time: float | None = None
    type: str = "other"
    method: str = "GET"
    request: Request | None = None  # exchanges only: the filters' view, as the addon builds it
    status: int | None = None
    size: int | None = None  # bytes the upstream response cost; None when not known
    content_type: str = ""
    action: str | None = None  # blocked, redirected, policy_*, allowed_site, upstream_error, rewritten, ...
    rule: str | None = None
    list: str | None = None
    line: int | None = None
    exception: str | None = None
    pattern: str | None = None
    failure: str | None = None  # upstream failure kind
    message: str | None = None
    removed: int | None = None  # elements the rewriter removed from this page
    selectors: tuple[str, ...] = ()
    bytes_before: int | None = None
    bytes_after: int | None = None
    flow_id: str | None = None
    page: bytes | None = None  # a document's HTML (decoded body), when pages are kept
    event: str | None = None  # event records: the event name

    @property
    def is_exchange(self) -> bool:
        return self.source != "event"

    @property
    def answered_by_dejunk(self) -> bool:
        """Whether the recorded response is dejunk's own answer rather than the upstream's."""
        return self.action in ANSWERED_ACTIONS


@dataclass(slots=True)
class Recording:
    """What could be read from one input file."""

    path: str
    format: str  # flows, har, events, empty, unknown
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # entries read but not used, by reason

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


# --- format detection ---------------------------------------------------------------------------


def detect_format(head: bytes) -> str:
    """flows, har, events or empty, from the first bytes of a file; unknown otherwise."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        return "empty"
    if text[:1].isdigit():
        return "flows"  # tnetstring: a length prefix, then ':'
    if text[:1] == b"{":
        first_line = text.split(b"\n", 1)[0].strip()
        try:
            first = json.loads(first_line)
        except ValueError:
            return "har"  # a JSON document over several lines
        if isinstance(first, dict) and "event" in first:
            return "events"
        return "har"
    return "unknown"


def read_recording(path: str, *, keep_pages: bool = False, progress: ProgressCallback | None = None) -> Recording:
    """Read one input of any supported format; problems are collected, never raised."""
    try:
        with open(path, "rb") as fo:
            head = fo.read(4096)
            if b"\n" not in head:
                head += fo.readline(1 << 20)  # an event log's first line may be long
            fmt = detect_format(head)
    except OSError as e:
        return Recording(path, "unknown", problems=[Problem(path, "file", f"cannot read: {e.strerror}")])
    recording = Recording(path, fmt)
    if fmt == "flows":
        _read_flows(recording, keep_pages, progress)
    elif fmt == "har":
        _read_har(recording, keep_pages, progress)
    elif fmt == "events":
        _read_events(recording, progress)
    elif fmt == "unknown":
        recording.problems.append(
            Problem(path, "byte 0", "not a mitmproxy flows file, a HAR file or a JSON Lines event log")
        )
    return recording


def fill_sizes(records: list[Record], sizes: dict[str, int]) -> list[Record]:
    """Records whose size is unknown take it from `sizes` (flow id -> bytes, from the capture replayed)."""
    return [
        replace(r, size=sizes[r.flow_id]) if r.size is None and r.flow_id in sizes else r
        for r in records
    ]


def original_sizes(recording: Recording) -> dict[str, int]:
    """Flow id -> upstream response size, for exchanges whose recorded response is the upstream's."""
    return {
        r.flow_id: r.size
        for r in recording.records
        if r.flow_id and r.size is not None and not r.answered_by_dejunk
    }


# --- flows files ----------------------------------------------------------------------------------


def _read_flows(recording: Recording, keep_pages: bool, progress: ProgressCallback | None) -> None:
    path = recording.path
    count = 0
    end_of_last = 0
    with open(path, "rb") as fo:
        stream = io.FlowReader(fo).stream()
        while True:
            try:
                flow = next(stream)
            except StopIteration:
                break
            except (exceptions.FlowReadException, ValueError, TypeError, KeyError, IndexError) as e:
                size = os.path.getsize(path)
                what = "truncated flow data" if _looks_truncated(path, end_of_last) else "invalid flow data"
                recording.problems.append(
                    Problem(
                        path,
                        f"byte {end_of_last} of {size} (flow {count + 1})",
                        f"{what} ({e}); read {count} flows before it",
                    )
                )
                break
            count += 1
            end_of_last = fo.tell()
            if progress is not None:
                progress(end_of_last)
            if not isinstance(flow, http.HTTPFlow):
                recording.skipped[f"{flow.type} flow"] += 1
                continue
            try:
                recording.records.append(record_from_flow(flow, f"{recording.name}:flow {count}", keep_pages))
            except Exception as e:  # a flow the reader accepted but whose parts make no sense
                recording.problems.append(Problem(path, f"flow {count}", f"unusable flow: {type(e).__name__}: {e}"))


def _looks_truncated(path: str, offset: int) -> bool:
    # A tnetstring starts with its length: if that length runs past the end of the file, it was cut off.
    with open(path, "rb") as fo:
        fo.seek(offset)
        prefix = fo.read(12)
    match = re.match(rb"(\d+):", prefix)
    if not match:
        return False
    return offset + len(match.group(0)) + int(match.group(1)) + 1 > os.path.getsize(path)


def record_from_flow(flow, origin: str, keep_pages: bool = False) -> Record:
    """The record of one mitmproxy HTTP flow, with what dejunk noted on it."""
    request = request_from_flow(flow)
    data = flow.metadata.get("dejunk") or {}
    response = flow.response
    header = response.headers.get("x-dejunk", "") if response is not None else ""
    action, rule, pattern, failure = _action_from_header(header)
    action = data.get("action") or action
    if action is None and flow.error is not None and data.get("kind"):
        action = "upstream_error"
    content_type = response.headers.get("content-type", "") if response is not None else ""
    when = flow.request.timestamp_start
    if flow.error is not None and action == "upstream_error":
        when = flow.error.timestamp or when
    list_name, line = data.get("list"), _int_or_none(data.get("line"))
    if list_name is None and flow.comment:
        list_name, line = _location_from_comment(flow.comment)
    return Record(
        source="flow",
        origin=origin,
        url=request.url,
        host=request.host,
        time=when,
        type=data.get("type") or request.type,
        method=request.method,
        request=request,
        status=response.status_code if response is not None else None,
        size=_flow_size(flow, action, data, flow.metadata.get("dejunk_streamed_bytes")),
        content_type=content_type,
        action=action,
        rule=data.get("rule") or rule,
        list=list_name,
        line=line,
        exception=data.get("exception"),
        pattern=data.get("pattern") or pattern,
        failure=data.get("kind") or failure,
        message=flow.error.msg if flow.error is not None else None,
        removed=_int_or_none(data.get("removed")),
        selectors=tuple(str(s) for s in data.get("selectors") or ()),
        bytes_before=_int_or_none(data.get("bytes_before")),
        bytes_after=_int_or_none(data.get("bytes_after")),
        flow_id=flow.id,
        page=_flow_page(flow, request.type, action) if keep_pages else None,
    )


def _flow_size(flow, action: str | None, data: dict, streamed_bytes) -> int | None:
    """Bytes the upstream response cost, as far as the flow still tells."""
    recorded = _int_or_none(data.get("recorded_bytes"))
    if recorded is not None:
        return recorded  # kept by the addon when its answer replaced a recorded response
    response = flow.response
    if response is None:
        return 0 if flow.error is not None else None
    if action in ANSWERED_ACTIONS:
        return None  # dejunk's answer: the upstream's size is not in this flow
    if action == "upstream_error":
        return 0  # the response, if any, is dejunk's error page
    if response.raw_content is not None:
        return len(response.raw_content)
    # A streamed response keeps no body: take what the addon counted, else the announced length.
    streamed = _int_or_none(streamed_bytes)
    if streamed is not None:
        return streamed
    if action == "policy_image":
        return None  # the headers are those of dejunk's GIF
    return _int_or_none(response.headers.get("content-length"))


def _flow_page(flow, request_type: str, action: str | None) -> bytes | None:
    response = flow.response
    if request_type != "document" or response is None or action in ANSWERED_ACTIONS:
        return None
    if not response.headers.get("content-type", "").lower().startswith(("text/html", "application/xhtml+xml")):
        return None
    body = response.get_content(strict=False)
    return body if body is not None and len(body) <= MAX_PAGE_BYTES else None


# --- HAR files ------------------------------------------------------------------------------------


def _read_har(recording: Recording, keep_pages: bool, progress: ProgressCallback | None) -> None:
    path = recording.path
    with open(path, "rb") as fo:
        raw = fo.read()
    if progress is not None:
        progress(len(raw))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        recording.problems.append(Problem(path, f"byte {e.start}", "not UTF-8 text, so not a HAR file"))
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        entries = _salvage_har_entries(text)
        recording.problems.append(
            Problem(
                path,
                f"line {e.lineno} column {e.colno}",
                f"invalid JSON ({e.msg}); read {len(entries)} entries before it",
            )
        )
    else:
        log = document.get("log") if isinstance(document, dict) else None
        entries = log.get("entries") if isinstance(log, dict) else None
        if not isinstance(entries, list):
            recording.problems.append(Problem(path, "log.entries", "missing: not a HAR file"))
            return
    for index, entry in enumerate(entries, start=1):
        try:
            recording.records.append(record_from_har_entry(entry, f"{recording.name}:entry {index}", keep_pages))
        except _BadEntry as e:
            recording.problems.append(Problem(path, f"entry {index}", str(e)))


_ENTRIES_START = re.compile(r'"entries"\s*:\s*\[')


def _salvage_har_entries(text: str) -> list:
    """The complete entries of a broken HAR document, read one JSON value at a time."""
    match = _ENTRIES_START.search(text)
    if not match:
        return []
    decoder = json.JSONDecoder()
    entries: list = []
    position = match.end()
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return entries
        try:
            entry, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return entries
        entries.append(entry)


class _BadEntry(ValueError):
    pass


def record_from_har_entry(entry, origin: str, keep_pages: bool = False) -> Record:
    """The record of one HAR entry; `_BadEntry` (a ValueError) names what is missing."""
    if not isinstance(entry, dict):
        raise _BadEntry("not a JSON object")
    har_request, har_response = entry.get("request"), entry.get("response")
    if not isinstance(har_request, dict) or not isinstance(har_request.get("url"), str):
        raise _BadEntry("no request.url")
    if not isinstance(har_response, dict):
        raise _BadEntry("no response")
    request_headers = _har_headers(har_request.get("headers"), "request.headers")
    response_headers = _har_headers(har_response.get("headers"), "response.headers")
    try:
        flow = http.HTTPFlow(_har_client(), connection.Server(address=None))
        flow.request = http.Request.make(str(har_request.get("method") or "GET"), har_request["url"], b"", request_headers)
    except (ValueError, UnicodeError) as e:
        raise _BadEntry(f"unusable request: {e}") from None
    request = request_from_flow(flow)
    header = _header(response_headers, "x-dejunk")
    action, rule, pattern, failure = _action_from_header(header)
    list_name = line = None
    comment = entry.get("comment")
    if isinstance(comment, str) and action:
        list_name, line = _location_from_comment(comment)
    status = _int_or_none(har_response.get("status"))
    error = har_response.get("_error")
    content = har_response.get("content") if isinstance(har_response.get("content"), dict) else {}
    if action == "upstream_error" or (status == 0 and error):
        size = 0  # nothing came from the upstream; a page shown is dejunk's error page
    elif action in ANSWERED_ACTIONS:
        size = None
    else:
        size = _first_size(har_response.get("bodySize"), content.get("size"))
    content_type = _header(response_headers, "content-type") or str(content.get("mimeType") or "")
    page = None
    if keep_pages and request.type == "document" and action not in ANSWERED_ACTIONS:
        page, content_type = _har_page(content, content_type)
    return Record(
        source="har",
        origin=origin,
        url=request.url,
        host=request.host,
        time=_parse_time(entry.get("startedDateTime")),
        type=request.type,
        method=request.method,
        request=request,
        status=status if status else None,
        size=size,
        content_type=content_type,
        action=action,
        rule=rule,
        list=list_name,
        line=line,
        pattern=pattern,
        failure=failure,
        message=str(error) if error else None,
        page=page,
    )


def _har_headers(headers, where: str) -> list[tuple[bytes, bytes]]:
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise _BadEntry(f"{where}: not a list")
    result = []
    for item in headers:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            name, value = item["name"], str(item.get("value", ""))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            name, value = str(item[0]), str(item[1])
        else:
            raise _BadEntry(f"{where}: an entry is neither {{name, value}} nor [name, value]")
        result.append((name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape")))
    return result


def _header(headers: list[tuple[bytes, bytes]], name: str) -> str:
    wanted = name.encode()
    for key, value in headers:
        if key.lower() == wanted:
            return value.decode("utf-8", "replace")
    return ""


def _first_size(*values) -> int | None:
    for value in values:
        number = _int_or_none(value)
        if number is not None and number >= 0:
            return number
    return None


def _har_page(content: dict, content_type: str) -> tuple[bytes | None, str]:
    if not content_type.lower().startswith(("text/html", "application/xhtml+xml")):
        return None, content_type
    text = content.get("text")
    if not isinstance(text, str):
        return None, content_type
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=False), content_type
        except ValueError:
            return None, content_type
    # HAR holds the decoded text: hand it on as UTF-8 and say so.
    return text.encode("utf-8", "surrogatepass"), "text/html; charset=utf-8"


@functools.cache
def _har_client():
    # HAR entries have no client connection; request_from_flow needs a flow, and a flow a client.
    return connection.Client(peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0), timestamp_start=0.0)


# --- event logs -----------------------------------------------------------------------------------


def _read_events(recording: Recording, progress: ProgressCallback | None) -> None:
    path = recording.path
    position = 0
    with open(path, "rb") as fo:
        for line_no, raw in enumerate(fo, start=1):
            position += len(raw)
            if progress is not None and line_no % 1000 == 0:
                progress(position)
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except UnicodeDecodeError as e:
                recording.problems.append(Problem(path, f"line {line_no}", f"not UTF-8 text: {e.reason}"))
                continue
            except json.JSONDecodeError as e:
                cut = "" if raw.endswith(b"\n") else " (the line is cut off at the end of the file)"
                recording.problems.append(
                    Problem(path, f"line {line_no} column {e.colno}", f"invalid JSON: {e.msg}{cut}")
                )
                continue
            if not isinstance(item, dict) or not isinstance(item.get("event"), str):
                recording.problems.append(Problem(path, f"line {line_no}", 'not an event record (no "event" field)'))
                continue
            recording.records.append(record_from_event(item, f"{recording.name}:line {line_no}"))
    if progress is not None:
        progress(position)


def record_from_event(item: dict, origin: str) -> Record:
    """The record of one `dejunk_events` line."""
    event = item["event"]
    url = _str_or_none(item.get("url")) or ""
    host = _str_or_none(item.get("host")) or (host_of(url) if url else "")
    action = {
        "blocked": "blocked",
        "redirected": "redirected",
        "upstream_error": "upstream_error",
        "addon_error": "addon_error",
        "rewritten": "rewritten",
        "rewrite_error": "rewrite_error",
    }.get(event)
    if event == "policy":
        action = f"policy_{item.get('policy')}"
    elif event == "blocked" and item.get("redirect"):
        action = "redirected"  # the addon records a redirect as a block that names its resource
    selectors = item.get("selectors")
    return Record(
        source="event",
        origin=origin,
        url=url,
        host=host,
        time=_parse_time(item.get("time")),
        type=normalize_type(_str_or_none(item.get("type"))) if item.get("type") else "other",
        action=action,
        rule=_str_or_none(item.get("rule")),
        list=_str_or_none(item.get("list")),
        line=_int_or_none(item.get("line")),
        exception=_str_or_none(item.get("exception")),
        pattern=_str_or_none(item.get("pattern")),
        failure=_str_or_none(item.get("kind")),
        message=_str_or_none(item.get("message")),
        removed=_int_or_none(item.get("removed")),
        selectors=tuple(str(s) for s in selectors) if isinstance(selectors, list) else (),
        bytes_before=_int_or_none(item.get("bytes_before")),
        bytes_after=_int_or_none(item.get("bytes_after")),
        event=event,
    )


# --- small parsers --------------------------------------------------------------------------------

_HEADER_FIELD = re.compile(r";\s*(rule|pattern)=(.*)$")


def _action_from_header(value: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(action, rule, pattern, failure kind) from an `X-Dejunk` header.

    The addon writes `blocked; rule=...`, `redirected to noop.js; rule=...`, `policy connect;
    pattern=...`, `policy image; rule=...` and `upstream dns` (its error pages).
    """
    if not value:
        return None, None, None, None
    head, _, _ = value.partition(";")
    words = head.strip().split()
    if not words:
        return None, None, None, None
    if words[0] == "upstream":
        return "upstream_error", None, None, words[1] if len(words) > 1 else None
    if words[0] == "redirected":  # `redirected to noop.js; rule=...`
        action = "redirected"
    else:
        action = words[0] if len(words) == 1 else f"{words[0]}_{words[1]}"
    match = _HEADER_FIELD.search(value)
    rule = match.group(2).strip() if match and match.group(1) == "rule" else None
    pattern = match.group(2).strip() if match and match.group(1) == "pattern" else None
    if action.startswith("policy_") and rule and not pattern:
        pattern, rule = rule, None  # the image policy names its pattern as `rule=`
    return action, rule, pattern, None


_COMMENT_LOCATION = re.compile(r"\((?P<list>[^()\s]+):(?P<line>\d+)\)\s*$", re.M)


def _location_from_comment(comment: str) -> tuple[str | None, int | None]:
    """(list, line) from a dejunk comment such as `blocked by ||x^ (easylist.txt:12)`."""
    match = _COMMENT_LOCATION.search(comment)
    if not match:
        return None, None
    return match.group("list"), int(match.group("line"))


def _parse_time(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int_or_none(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _str_or_none(value) -> str | None:
    return value if isinstance(value, str) and value else None


def iter_records(recordings: list[Recording]) -> Iterator[Record]:
    """Every record of several recordings, in input order."""
    for recording in recordings:
        yield from recording.records


# --- recordings made from saved pages -------------------------------------------------------------

# What a browser sends for each resource type: Sec-Fetch-Dest, Sec-Fetch-Mode and Accept (Chromium's values).
_NAVIGATE_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
)
FETCH_HEADERS: dict[str, tuple[str, str, str]] = {
    "document": ("document", "navigate", _NAVIGATE_ACCEPT),
    "subdocument": ("iframe", "navigate", _NAVIGATE_ACCEPT),
    "script": ("script", "no-cors", "*/*"),
    "image": ("image", "no-cors", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
    "stylesheet": ("style", "no-cors", "text/css,*/*;q=0.1"),
    "font": ("font", "cors", "*/*"),
    "media": ("video", "no-cors", "*/*"),
    "object": ("object", "no-cors", "*/*"),
    "xmlhttprequest": ("empty", "cors", "*/*"),
    "ping": ("empty", "no-cors", "*/*"),
    "websocket": ("websocket", "websocket", "*/*"),
    "other": ("empty", "no-cors", "*/*"),
}
# Typical response sizes in bytes per type (medians of the web's resources, roughly); each URL
# gets between half and one and a half times its type's size, the same every time.
TYPICAL_SIZES: dict[str, int] = {
    "subdocument": 14_000,
    "script": 24_000,
    "image": 16_000,
    "stylesheet": 10_000,
    "font": 30_000,
    "media": 400_000,
    "object": 60_000,
    "xmlhttprequest": 3_000,
    "ping": 0,
    "websocket": 0,
    "other": 5_000,
}
_IMAGE_TYPES = {"png": "image/png", "gif": "image/gif", "webp": "image/webp", "svg": "image/svg+xml",
                "avif": "image/avif", "ico": "image/x-icon"}
_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
# Recorded traffic starts at 2026-01-01T00:00:00Z: fixed, so that the same input gives the same file.
MADE_START = 1767225600.0


@dataclass(frozen=True, slots=True)
class SavedPage:
    url: str
    path: str


@dataclass(frozen=True, slots=True)
class Subresource:
    url: str
    type: str
    source_url: str


def read_pages_index(pages_dir: str) -> tuple[list[SavedPage], list[Problem]]:
    """The saved pages named by `pages_dir/pages.json` (a list of {"file", "url"})."""
    index = os.path.join(pages_dir, "pages.json")
    try:
        with open(index, encoding="utf-8") as fo:
            items = json.load(fo)
    except OSError as e:
        return [], [Problem(index, "file", f"cannot read: {e.strerror}")]
    except json.JSONDecodeError as e:
        return [], [Problem(index, f"line {e.lineno} column {e.colno}", f"invalid JSON: {e.msg}")]
    if not isinstance(items, list):
        return [], [Problem(index, "top level", "not a list of pages")]
    pages, problems = [], []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("file"), str) or not isinstance(item.get("url"), str):
            problems.append(Problem(index, f"item {number}", 'needs "file" and "url"'))
            continue
        path = os.path.join(pages_dir, item["file"])
        if not os.path.isfile(path):
            problems.append(Problem(index, f"item {number}", f"no such page file: {item['file']}"))
            continue
        pages.append(SavedPage(item["url"], path))
    return pages, problems


def read_subresources(path: str) -> tuple[list[Subresource], list[Problem]]:
    """Subresource requests from JSON Lines of {"url", "type", "source_url"}."""
    found, problems = [], []
    try:
        fo = open(path, "rb")
    except OSError as e:
        return [], [Problem(path, "file", f"cannot read: {e.strerror}")]
    with fo:
        for line_no, raw in enumerate(fo, start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError as e:
                problems.append(Problem(path, f"line {line_no}", f"invalid JSON: {e}"))
                continue
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                problems.append(Problem(path, f"line {line_no}", 'needs "url"'))
                continue
            source = item.get("source_url") if isinstance(item.get("source_url"), str) else ""
            found.append(Subresource(item["url"], normalize_type(_str_or_none(item.get("type"))), source))
    return found, problems


def make_page_flows(pages: list[SavedPage], subresources: list[Subresource]) -> Iterator:
    """Flows as a browser would record them: each page's document, then the subresources it requested.

    Subresources of a URL that no page has come last, grouped by their source. Everything about
    the flows (ids, times, sizes, bodies) follows from the input alone.
    """
    by_source: dict[str, list[Subresource]] = {}
    for item in subresources:
        by_source.setdefault(item.source_url, []).append(item)
    when = MADE_START
    number = 0
    groups: list[tuple[SavedPage | None, str, list[Subresource]]] = [
        (page, page.url, by_source.pop(page.url, [])) for page in pages
    ]
    groups += [(None, source, items) for source, items in by_source.items()]
    for group, (page, source, items) in enumerate(groups):
        client = _made_client(group, when)
        if page is not None:
            with open(page.path, "rb") as fo:
                html = fo.read()
            number += 1
            yield _made_flow(number, client, source, "document", None, when, html, "text/html; charset=utf-8")
        for offset, item in enumerate(items, start=1):
            number += 1
            started = when + 0.05 * offset
            size = _made_size(item.url, item.type)
            content_type = _made_content_type(item.url, item.type)
            body = _made_body(item.type, size)
            yield _made_flow(number, client, item.url, item.type, item.source_url or None, started, body, content_type)
        when += 10.0


def _made_id(*parts) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dejunk:" + "\x00".join(str(p) for p in parts)))


def _made_client(group: int, when: float):
    client = connection.Client(
        peername=("127.0.0.1", 40000 + group % 20000), sockname=("127.0.0.1", 8080), timestamp_start=when
    )
    client.id = _made_id("client", group)
    return client


def _made_flow(number: int, client, url: str, request_type: str, referer: str | None, when: float,
               body: bytes, content_type: str):
    dest, mode, accept = FETCH_HEADERS.get(request_type, FETCH_HEADERS["other"])
    host = host_of(url)
    if request_type == "document":
        site = "none"
    elif not referer:
        site = "cross-site"
    elif host_of(referer) == host:
        site = "same-origin"
    elif registrable_domain(host_of(referer)) == registrable_domain(host):
        site = "same-site"
    else:
        site = "cross-site"
    headers = [
        ("User-Agent", _USER_AGENT),
        ("Accept", accept),
        ("Accept-Language", "en-US,en;q=0.9"),
        ("Accept-Encoding", "gzip, deflate, br"),
        ("Sec-Fetch-Dest", dest),
        ("Sec-Fetch-Mode", mode),
        ("Sec-Fetch-Site", site),
    ]
    if referer:
        headers.append(("Referer", referer))
    request = http.Request.make("GET", url, b"", [(k.encode(), v.encode()) for k, v in headers])
    request.headers.insert(0, "Host", request.host_header or request.host)
    request.timestamp_start = when
    request.timestamp_end = when
    server = connection.Server(address=(request.host, request.port))
    server.id = _made_id("server", number)
    flow = http.HTTPFlow(client, server)
    flow.id = _made_id("flow", number, url)
    flow.timestamp_created = when
    flow.request = request
    response = http.Response.make(
        200,
        body,
        {
            "Content-Type": content_type,
            "Date": formatdate(when, usegmt=True),
            "Cache-Control": "max-age=3600" if request_type != "document" else "no-cache",
        },
    )
    response.timestamp_start = when + 0.02
    response.timestamp_end = when + 0.03
    flow.response = response
    return flow


def _made_size(url: str, request_type: str) -> int:
    typical = TYPICAL_SIZES.get(request_type, TYPICAL_SIZES["other"])
    return typical * (50 + zlib.crc32(url.encode("utf-8", "surrogatepass")) % 101) // 100


def _made_content_type(url: str, request_type: str) -> str:
    extension = os.path.splitext(urlsplit_safe(url)[2])[1][1:].lower()
    if request_type == "image":
        return _IMAGE_TYPES.get(extension, "image/jpeg")
    if request_type == "media":
        return "audio/mpeg" if extension in ("mp3", "m4a", "aac", "ogg", "oga", "wav") else "video/mp4"
    return {
        "script": "application/javascript",
        "stylesheet": "text/css",
        "subdocument": "text/html; charset=utf-8",
        "font": "font/woff2",
        "xmlhttprequest": "application/json",
    }.get(request_type, "application/octet-stream")


def _made_body(request_type: str, size: int) -> bytes:
    prefix = {
        "script": b"/* recorded script */\n",
        "stylesheet": b"/* recorded stylesheet */\n",
        "subdocument": b"<!DOCTYPE html><html><body><!-- recorded frame -->",
        "image": b"GIF89a",
        "xmlhttprequest": b'{"recorded": "',
    }.get(request_type, b"")
    if size <= len(prefix):
        return prefix[:size]
    return prefix + b"x" * (size - len(prefix))


def write_flows(flows, path: str) -> int:
    """Write flows to a mitmproxy flows file (atomically); returns how many were written."""
    count = 0
    temporary = path + ".part"
    with open(temporary, "wb") as fo:
        writer = io.FlowWriter(fo)
        for flow in flows:
            writer.add(flow)
            count += 1
    os.replace(temporary, path)
    return count
