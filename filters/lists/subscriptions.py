"""Filter list subscriptions: download lists named by URL, verify them, cache the last good copy.

A subscription is an http(s) URL. `update` (and `refresh_due`, for a worker thread) fetches each
list with conditional requests (ETag, Last-Modified), checks what came back, and only then
replaces the cached copy, atomically. A download that fails or looks wrong never replaces the
last good copy; the reason is kept in the list's state and reported. Nothing here imports
mitmproxy: the addon runs `refresh_due` in the background and rebuilds its engine from
`cached_paths` when a result says `changed`.

Cache layout (default `$XDG_CACHE_HOME/dejunk/lists`, else `~/.cache/dejunk/lists`):

    state.json                      per-list state (ListState), rewritten atomically under a lock
    <key>/<name>.txt                the last good copy: what the engine reads (`cache_path(url)`)
    <key>/parts/<key>-<name>.txt    raw copies of a list whose `!#include`s were resolved and of each
                                    included file, so that one included file can be refreshed alone

`<key>` is a hash of the URL, `<name>` comes from the URL's last path segment (`easylist.txt`).

`!#include` (uBO): resolved relative to the URL of the list that names it (as subscribed, not
where a redirect led), same origin (scheme, host, port) as the subscription only, up to
`MAX_INCLUDE_DEPTH` levels; directives in inactive `!#if` branches are not fetched. The included
text is inlined into the cached copy in place of the directive, between two `! dejunk:` comment
lines, so the engine reads one file per subscription and `!#if` blocks around a directive still
apply (an included file's own unbalanced `!#if`/`!#endif` lines are closed or commented out where
it ends). An include on another origin is refused: the directive becomes a `! dejunk: refused`
comment and a warning is reported. A same-origin include that cannot be fetched fails the whole
update, because the result would silently miss rules.

Checks before a download may replace the last good copy, each failing with a reason:
HTTP errors and connection failures; a body larger than `MAX_BYTES` or slower than the deadline;
a truncated body (fewer bytes than Content-Length, a cut chunked stream, an unfinished gzip
stream); an empty body; something that is not a filter list (NUL bytes or undecodable text, an
HTML/XML page, no rules at all, or mostly lines with spaces in them, i.e. prose); a `! Checksum:`
that does not match; and fewer than half the rules of the last good copy (`SHRINK_RATIO`), for
lists whose last good copy had at least `SHRINK_MIN_RULES` rules, unless `allow_shrink` is set.

Timing: a list is due `! Expires:` after its last successful check (`parse_expires`: default
`DEFAULT_INTERVAL`, clamped to [`MIN_INTERVAL`, `MAX_INTERVAL`]). After a failure it is retried
after `RETRY_DELAY`, doubling with each consecutive failure up to `MAX_RETRY_DELAY` (or the list's
own interval, if shorter).

The lists named in `sets` (uBO's, EasyList...) are downloaded from `DEJUNK_LIST_MIRROR` when it is
set, and not at all under `DEJUNK_FETCH_DEFAULT_LISTS=0` (see `sets`); the URL a list is known by
stays the same.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from . import sets
from .syntax import FilterList, decode_list, parse_list_text

try:
    import fcntl
except ImportError:  # Windows: state writes are still atomic, just not serialised across processes
    fcntl = None

HOUR = 3600
DAY = 24 * HOUR
DEFAULT_INTERVAL = 5 * DAY  # lists without `! Expires:`; EasyList says 4 days, uBO's lists 5
MIN_INTERVAL = 1 * HOUR  # "Expires: 0" must not turn into a download per request
MAX_INTERVAL = 14 * DAY  # a list that claims to be good for a year still gets checked
RETRY_DELAY = 60  # the first retry after a failure; each further one waits twice as long
MAX_RETRY_DELAY = 4 * HOUR  # ... up to this (or the list's own interval, if shorter)

MAX_BYTES = 50 * 1024 * 1024  # EasyList is about 2 MB; anything near this is not a filter list
TIMEOUT = 30.0  # seconds per connect or read
DEADLINE = 300.0  # seconds for one whole document
SHRINK_RATIO = 0.5
SHRINK_MIN_RULES = 100  # small lists legitimately halve; below this the shrink check is off
MAX_INCLUDE_DEPTH = 4
MAX_INCLUDES = 64

STATE_FILE = "state.json"
STATE_FORMAT = 1
USER_AGENT = "dejunk-lists/0.1 (+filter list updater)"

UPDATED = "updated"
NOT_MODIFIED = "not modified"
NOT_DUE = "not due"
FAILED = "failed"


# --- results and state --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What one update attempt did to one list."""

    url: str
    outcome: str  # UPDATED, NOT_MODIFIED, NOT_DUE or FAILED
    path: str | None  # the last good copy in the cache after the attempt, if there is one
    rule_count: int | None
    next_due: float | None
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the cached copy was replaced, i.e. an engine built from it is stale."""
        return self.outcome == UPDATED

    @property
    def ok(self) -> bool:
        return self.outcome != FAILED

    def describe(self) -> str:
        """One line for logs and the command line."""
        text = f"{self.url}: {self.outcome}"
        if self.error:
            text += f": {self.error}"
        elif self.rule_count is not None:
            text += f" ({self.rule_count} rules)"
        return text


@dataclass(slots=True)
class PartState:
    """The cached raw copy of one downloaded document and the validators it came with."""

    url: str
    file: str  # relative to the cache folder
    etag: str | None = None
    last_modified: str | None = None


@dataclass(slots=True)
class ListState:
    """Everything the cache remembers about one subscription (one entry of state.json)."""

    url: str
    file: str  # relative to the cache folder; exists once a good copy was stored
    source: PartState | None = None  # the list's own document, None until a first good download
    includes: list[PartState] = field(default_factory=list)
    title: str | None = None
    version: str | None = None
    list_date: str | None = None  # `! Last modified:` / `# Date:` from the list's header
    expires: str | None = None  # the header's `! Expires:` text
    interval: float = DEFAULT_INTERVAL
    rule_count: int | None = None
    last_update: float | None = None  # the last time the cached copy was replaced
    last_check: float | None = None  # the last successful check (updated or not modified)
    last_attempt: float | None = None
    next_due: float | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive failed attempts
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ListStatus:
    """One list as `status` reports it."""

    url: str
    path: str | None  # the last good copy, None when there is none
    title: str | None
    version: str | None
    list_date: str | None
    expires: str | None
    rule_count: int | None
    last_update: float | None
    last_attempt: float | None
    next_due: float | None
    last_error: str | None
    warnings: tuple[str, ...]
    due: bool


@dataclass(frozen=True, slots=True)
class CacheStatus:
    """The state of a whole cache folder."""

    cache_dir: str
    lists: tuple[ListStatus, ...]
    problem: str | None = None  # set when state.json could not be read


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    """The `[lists]` table of a dejunk config file."""

    subscriptions: tuple[str, ...]
    cache_dir: str | None


class ListError(Exception):
    """Why a download was not accepted."""


# --- public API ---------------------------------------------------------------------------------


def default_cache_dir() -> str:
    """The user's cache folder for lists: `$XDG_CACHE_HOME/dejunk/lists` or `~/.cache/dejunk/lists`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dejunk", "lists")


def is_subscription_url(spec: str) -> bool:
    """Whether a `dejunk_lists` entry names a list to download rather than a file."""
    parts = urllib.parse.urlsplit(spec.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


# uBlock Origin's own lists, wherever uBO fetches them from: they may use its trusted-only forms.
UBO_LIST_PREFIXES = (
    "https://ublockorigin.github.io/uassets/",
    "https://ublockorigin.pages.dev/",
    "https://raw.githubusercontent.com/ublockorigin/uassets/",
    "https://github.com/ublockorigin/uassets/",
    "https://cdn.jsdelivr.net/gh/ublockorigin/uassets",
    "https://cdn.statically.io/gh/ublockorigin/uassets/",
)


def is_trusted_url(url: str, prefixes: Iterable[str] = ()) -> bool:
    """Whether the list at `url` may use trusted-only rules: one of uBO's, or under a prefix the user gave.

    uBO's copies of other people's lists (EasyList under `/thirdparties/`) are not uBO's own: as in uBO,
    they are not trusted.
    """
    try:
        lowered = normalize_url(url).lower()
    except ValueError:
        return False
    if "/thirdparties/" not in lowered and any(lowered.startswith(prefix) for prefix in UBO_LIST_PREFIXES):
        return True
    return any(lowered.startswith(prefix.strip().lower()) for prefix in prefixes if prefix.strip())


def normalize_url(url: str) -> str:
    """The form a URL is stored under: scheme and host lowercased, no fragment. ValueError if not http(s)."""
    url = url.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as e:
        raise ValueError(f"not a valid URL: {url!r} ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = parts.netloc.rpartition("@")[0] + "@" + netloc
    return urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def cache_path(url: str, cache_dir: str) -> str:
    """Where the last good copy of the list at `url` is (or will be) kept. ValueError if not http(s)."""
    url = normalize_url(url)
    return os.path.join(cache_dir, _relative_list_file(url))


def cached_paths(subscriptions: Iterable[str], cache_dir: str) -> list[str]:
    """The last good copies that exist, in subscription order; entries that are not URLs are left out."""
    paths: list[str] = []
    for url in subscriptions:
        try:
            path = cache_path(url, cache_dir)
        except ValueError:
            continue
        if os.path.isfile(path) and path not in paths:
            paths.append(path)
    return paths


def update(
    urls: Iterable[str],
    cache_dir: str,
    *,
    force: bool = False,
    allow_shrink: bool = False,
    now: float | None = None,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_BYTES,
) -> list[UpdateResult]:
    """Refresh the lists that are due (all of them with `force`, unconditionally); one result per URL.

    Blocking: it downloads one list after another. `now` (seconds since the epoch) replaces the
    clock, for tests. `allow_shrink` accepts a list with far fewer rules than its last good copy.
    """
    results: list[UpdateResult] = []
    seen: set[str] = set()
    for spec in urls:
        try:
            url = normalize_url(spec)
        except ValueError as e:
            results.append(UpdateResult(spec, FAILED, None, None, None, error=str(e)))
            continue
        if url in seen:
            continue
        seen.add(url)
        refused = sets.not_fetched_reason(url)
        if refused is not None:
            # Nothing is attempted, so nothing is recorded: the list's state stays as it was.
            cached = cache_path(url, cache_dir)
            have_copy = os.path.isfile(cached)
            results.append(UpdateResult(url, FAILED, cached if have_copy else None, None, None,
                                        error=f"not fetched: {refused}"))
            continue
        clock = time.time() if now is None else now
        results.append(
            _update_one(
                url,
                cache_dir,
                force=force,
                allow_shrink=allow_shrink,
                now=clock,
                timeout=timeout,
                max_bytes=max_bytes,
            )
        )
    return results


def refresh_due(subscriptions: Iterable[str], cache_dir: str, *, now: float | None = None) -> list[UpdateResult]:
    """Refresh the subscriptions that are due; for a worker thread. Rebuild the engine if any result `changed`."""
    return update(subscriptions, cache_dir, now=now)


def status(cache_dir: str, subscriptions: Iterable[str] | None = None, *, now: float | None = None) -> CacheStatus:
    """Each list in the cache (or each of `subscriptions`, in order, known to the cache or not)."""
    now = time.time() if now is None else now
    states, problem = _load_state(cache_dir)
    if subscriptions is None:
        urls = sorted(states)
    else:
        urls = []
        for spec in subscriptions:
            try:
                url = normalize_url(spec)
            except ValueError:
                url = spec.strip()
            if url not in urls:
                urls.append(url)
    lists = []
    for url in urls:
        state = states.get(url)
        path = None
        if state is not None:
            candidate = os.path.join(cache_dir, state.file)
            path = candidate if os.path.isfile(candidate) else None
        elif is_subscription_url(url):
            candidate = cache_path(url, cache_dir)
            path = candidate if os.path.isfile(candidate) else None
        due = _is_due(state, path is not None, now)
        if state is None:
            state = ListState(url=url, file="")
        lists.append(
            ListStatus(
                url=url,
                path=path,
                title=state.title,
                version=state.version,
                list_date=state.list_date,
                expires=state.expires,
                rule_count=state.rule_count,
                last_update=state.last_update,
                last_attempt=state.last_attempt,
                next_due=state.next_due,
                last_error=state.last_error,
                warnings=tuple(state.warnings),
                due=due,
            )
        )
    return CacheStatus(cache_dir=cache_dir, lists=tuple(lists), problem=problem)


def read_subscription_config(path: str) -> SubscriptionConfig:
    """Read the `[lists]` table of a dejunk TOML config. OSError if unreadable, ValueError if malformed.

    A relative `cache_dir` is taken relative to the config file's folder; `~` is expanded.
    """
    with open(path, "rb") as f:
        try:
            document = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML: {e}") from None
    table = document.get("lists", {})
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [lists] must be a table")
    subscriptions = table.get("subscriptions", [])
    if not isinstance(subscriptions, list) or not all(isinstance(s, str) for s in subscriptions):
        raise ValueError(f"{path}: lists.subscriptions must be a list of URL strings")
    for spec in subscriptions:
        if not is_subscription_url(spec):
            raise ValueError(f"{path}: lists.subscriptions: not an http(s) URL: {spec!r}")
    cache_dir = table.get("cache_dir")
    if cache_dir is not None:
        if not isinstance(cache_dir, str) or not cache_dir.strip():
            raise ValueError(f"{path}: lists.cache_dir must be a folder path")
        cache_dir = os.path.expanduser(cache_dir)
        if not os.path.isabs(cache_dir):
            cache_dir = os.path.join(os.path.dirname(os.path.abspath(path)), cache_dir)
    return SubscriptionConfig(subscriptions=tuple(subscriptions), cache_dir=cache_dir)


# --- list headers ---------------------------------------------------------------------------------

_EXPIRES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)
_EXPIRES_UNITS = {
    "": DAY,  # ABP reads a bare number as days
    "d": DAY,
    "day": DAY,
    "days": DAY,
    "h": HOUR,
    "hr": HOUR,
    "hrs": HOUR,
    "hour": HOUR,
    "hours": HOUR,
    "w": 7 * DAY,
    "week": 7 * DAY,
    "weeks": 7 * DAY,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
}


def parse_expires(text: str | None) -> float:
    """Seconds until a list is due from its `! Expires:` text ("4 days (update frequency)", "12 hours").

    Absent or unreadable: `DEFAULT_INTERVAL`; otherwise clamped to [`MIN_INTERVAL`, `MAX_INTERVAL`].
    """
    if not text:
        return DEFAULT_INTERVAL
    match = _EXPIRES.match(text)
    if not match:
        return DEFAULT_INTERVAL
    unit = _EXPIRES_UNITS.get(match.group(2).lower())
    if unit is None:
        return DEFAULT_INTERVAL
    seconds = float(match.group(1)) * unit
    return min(max(seconds, MIN_INTERVAL), MAX_INTERVAL)


_CHECKSUM_LINE = re.compile(r"^[ \t]*![ \t]*checksum[ \t\-:]+([\w+/=]+).*(?:\n|\Z)", re.IGNORECASE | re.MULTILINE)


def abp_checksum(text: str) -> str:
    """The classic Adblock Plus list checksum of `text`.

    Carriage returns dropped, `! Checksum:` lines removed, runs of line breaks collapsed to one,
    then the MD5 of the UTF-8 bytes in base64 without `=` padding.
    """
    normalized = text.replace("\r", "")
    normalized = _CHECKSUM_LINE.sub("", normalized)
    normalized = re.sub(r"\n+", "\n", normalized)
    digest = hashlib.md5(normalized.encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")


def checksum_problem(text: str) -> str | None:
    """Why a list's `! Checksum:` does not match its text, or None (also when it has none)."""
    match = _CHECKSUM_LINE.search(text.replace("\r", ""))
    if match is None:
        return None
    declared = match.group(1).rstrip("=")
    actual = abp_checksum(text)
    if declared != actual:
        return f"checksum mismatch: the list says {declared}, its text gives {actual}"
    return None


# --- downloading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    """One HTTP answer: the body (None for 304 Not Modified) and the validators to send next time."""

    body: bytes | None
    etag: str | None
    last_modified: str | None


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib would also follow one to ftp)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-http URL: {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # The environment's proxy settings apply (a user behind a corporate proxy needs them).
    return urllib.request.build_opener(_RedirectHandler())


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_BYTES,
    deadline: float = DEADLINE,
) -> Fetched:
    """GET `url`, conditionally when validators are given; ListError with the reason on any failure.

    A named list's URL is read from DEJUNK_LIST_MIRROR when that is set, and not at all under
    DEJUNK_FETCH_DEFAULT_LISTS=0 (see `sets`).
    """
    refused = sets.not_fetched_reason(url)
    if refused is not None:
        raise ListError(f"not fetched: {refused}")
    source = sets.mirror_url(url)
    if source is None:
        return _fetch(url, etag=etag, last_modified=last_modified, timeout=timeout, max_bytes=max_bytes,
                      deadline=deadline)
    try:
        return _fetch(source, etag=etag, last_modified=last_modified, timeout=timeout, max_bytes=max_bytes,
                      deadline=deadline)
    except ListError as e:
        raise ListError(f"{e} (from the mirror {source}, {sets.MIRROR_ENV})") from None


def _fetch(url: str, *, etag, last_modified, timeout, max_bytes, deadline) -> Fetched:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", "Accept": "text/plain, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    started = time.monotonic()
    try:
        response = _opener().open(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        with contextlib.suppress(Exception):
            e.close()
        if e.code == 304:
            answer = e.headers or {}
            return Fetched(None, answer.get("ETag") or etag, answer.get("Last-Modified") or last_modified)
        raise ListError(f"HTTP {e.code} {e.reason}".rstrip()) from None
    except urllib.error.URLError as e:
        raise ListError(f"cannot fetch: {_reason_text(e.reason)}") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise ListError(f"cannot fetch: {_reason_text(e)}") from None
    with response:
        body = _read_body(response, max_bytes=max_bytes, deadline_at=started + deadline)
        return Fetched(body, response.headers.get("ETag"), response.headers.get("Last-Modified"))


def _reason_text(reason: object) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "timed out"
    return str(reason) or type(reason).__name__


def _read_body(response: http.client.HTTPResponse, *, max_bytes: int, deadline_at: float) -> bytes:
    """Read a body in bounded chunks, undoing gzip, and make sure all of it arrived."""
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise ListError(f"unsupported Content-Encoding: {encoding}")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding != "identity" else None
    declared = response.headers.get("Content-Length")
    chunks: list[bytes] = []
    received = 0  # bytes on the wire
    size = 0  # bytes of content
    while True:
        if time.monotonic() > deadline_at:
            raise ListError("download took too long")
        try:
            chunk = response.read(64 * 1024)
        except http.client.IncompleteRead:
            raise ListError("truncated body: the connection was cut") from None
        except (OSError, http.client.HTTPException) as e:
            raise ListError(f"download interrupted: {_reason_text(e)}") from None
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise ListError(f"too large: more than {max_bytes} bytes")
        if inflater is None:
            chunks.append(chunk)
            size += len(chunk)
            continue
        pending = chunk
        while pending:
            try:
                # Bounded output per call, so a small gzip bomb cannot fill memory.
                piece = inflater.decompress(pending, max_bytes + 1 - size)
            except zlib.error as e:
                raise ListError(f"corrupt gzip body: {e}") from None
            chunks.append(piece)
            size += len(piece)
            if size > max_bytes:
                raise ListError(f"too large: more than {max_bytes} bytes once unpacked")
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    if declared is not None and declared.strip().isdigit() and received != int(declared):
        raise ListError(f"truncated body: {received} of {int(declared)} bytes")
    if inflater is not None and not inflater.eof:
        raise ListError("truncated body: the gzip stream is incomplete")
    return b"".join(chunks)


def check_document(data: bytes) -> str:
    """Decode a downloaded document and refuse what is clearly not a filter list (ListError)."""
    if not data.strip():
        raise ListError("empty body")
    if b"\x00" in data:
        raise ListError("not a filter list: binary data")
    text = decode_list(data)
    sample = text[:65536]
    if sample.count("\ufffd") > len(sample) // 100:
        raise ListError("not a filter list: binary data (not UTF-8 text)")
    head = text.lstrip()[:2048].lower()
    if head.startswith("<") and any(tag in head for tag in ("<!doctype", "<html", "<head", "<body", "<?xml")):
        raise ListError("not a filter list: an HTML or XML page")
    problem = checksum_problem(text)
    if problem:
        raise ListError(problem)
    return text


def plausibility_problem(filter_list: FilterList) -> str | None:
    """Why a whole (assembled) list is not a filter list, or None."""
    if filter_list.rule_count == 0:
        return "not a filter list: no rules"
    network = [line for _, line in filter_list.network]
    # A text error page reads as "rules" full of spaces; real network rules almost never have one.
    if len(network) >= 3 and sum(1 for line in network if " " in line) * 2 > len(network):
        return "not a filter list: mostly prose"
    return None


# --- one list --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Part:
    """A document of the list being refreshed: its raw bytes, text and validators."""

    state: PartState
    raw: bytes
    text: str
    fetched: bool  # came with a body in this attempt (not from the cache)


class _Refresh:
    """One attempt at refreshing one list: fetch the list and its includes, assemble the text."""

    def __init__(self, url, cache_dir, old, *, force, timeout, max_bytes):
        self.url = url
        self.cache_dir = cache_dir
        self.force = force
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.origin = _origin(url)
        self.key_dir = os.path.dirname(_relative_list_file(url))
        self.old_parts: dict[str, PartState] = {}
        if old is not None:
            for part in ([old.source] if old.source else []) + list(old.includes):
                self.old_parts[part.url] = part
        self.parts: dict[str, _Part] = {}
        self.warnings: list[str] = []

    def run(self) -> tuple[_Part, str]:
        """The list's own document and the assembled text with includes inlined."""
        source = self.part(self.url, label="")
        text = self.assemble(source.text, self.url, depth=0, stack=(self.url,))
        return source, text

    def part(self, url: str, label: str) -> _Part:
        """Fetch one document, conditionally when there is a cached raw copy of it."""
        file = os.path.join(self.key_dir, "parts", f"{_url_key(url)[:12]}-{_list_name(url)}")
        old = self.old_parts.get(url)
        cached_file = os.path.join(self.cache_dir, old.file) if old else None
        conditional = not self.force and cached_file is not None and os.path.isfile(cached_file)
        try:
            fetched = fetch(
                url,
                etag=old.etag if conditional else None,
                last_modified=old.last_modified if conditional else None,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
            )
            if fetched.body is None and conditional:
                try:
                    with open(cached_file, "rb") as f:
                        raw = f.read()
                except OSError:
                    # The cached copy vanished since the check: fetch the whole document.
                    fetched = fetch(url, timeout=self.timeout, max_bytes=self.max_bytes)
                else:
                    state = PartState(url, file, fetched.etag, fetched.last_modified)
                    part = _Part(state, raw, decode_list(raw), fetched=False)
                    self.parts[url] = part
                    return part
            if fetched.body is None:
                raise ListError("the server answered 304 Not Modified to a plain request")
            text = check_document(fetched.body)
        except ListError as e:
            raise ListError(f"{label}{e}") from None
        part = _Part(PartState(url, file, fetched.etag, fetched.last_modified), fetched.body, text, fetched=True)
        self.parts[url] = part
        return part

    def assemble(self, text: str, url: str, depth: int, stack: tuple[str, ...]) -> str:
        """`text` with each active same-origin `!#include` replaced by the included text."""
        if "!#include" not in text:
            return text
        includes = parse_list_text(text).includes
        if not includes:
            return text
        lines = text.splitlines()
        for line_no, target in includes:
            target = target.strip()
            included_url, refusal = self.include_url(url, target, depth, stack)
            if refusal is not None:
                self.warnings.append(f"!#include {target} refused: {refusal}")
                # Left as a comment, so the cached copy shows what was not included and why.
                lines[line_no - 1] = f"! dejunk: refused !#include {target}: {refusal}"
                continue
            if included_url in self.parts:
                included = self.parts[included_url]
            else:
                if len(self.parts) > MAX_INCLUDES:
                    raise ListError(f"more than {MAX_INCLUDES} !#include files")
                included = self.part(included_url, label=f"!#include {target}: ")
            body = self.assemble(included.text, included_url, depth + 1, stack + (included_url,))
            lines[line_no - 1] = "\n".join(
                [
                    f"! dejunk: begin !#include {target} ({included_url})",
                    *_balanced(body.splitlines()),
                    f"! dejunk: end !#include {target}",
                ]
            )
        return "\n".join(lines) + "\n"

    def include_url(self, url: str, target: str, depth: int, stack: tuple[str, ...]) -> tuple[str, str | None]:
        """The URL an `!#include` names and, when it is refused, why."""
        try:
            included_url = normalize_url(urllib.parse.urljoin(url, target))
        except ValueError:
            return target, "not an http(s) URL"
        if _origin(included_url) != self.origin:
            return included_url, "{} is not on the list's origin {}://{}:{}".format(included_url, *self.origin)
        if included_url in stack:
            return included_url, "it includes itself"
        if depth >= MAX_INCLUDE_DEPTH:
            return included_url, f"includes nest deeper than {MAX_INCLUDE_DEPTH}"
        return included_url, None


def _balanced(lines: list[str]) -> list[str]:
    """An included file's lines with its `!#if` blocks closed, so they cannot leak into the includer."""
    depth = 0
    result = []
    for line in lines:
        stripped = line.strip()
        directive = stripped[2:].split(" ", 1)[0] if stripped.startswith("!#") else None
        if directive == "if":
            depth += 1
        elif directive == "endif" or directive == "else":
            if depth == 0:
                result.append("! dejunk: unmatched " + stripped)
                continue
            if directive == "endif":
                depth -= 1
        result.append(line)
    result.extend(["!#endif"] * depth)
    return result


def _is_due(old: ListState | None, have_copy: bool, now: float) -> bool:
    if old is None or old.next_due is None:
        return True
    if not have_copy and old.failures == 0:
        return True  # the copy was removed by hand: fetch it again now
    return now >= old.next_due


def _update_one(url, cache_dir, *, force, allow_shrink, now, timeout, max_bytes) -> UpdateResult:
    states, problem = _load_state(cache_dir)
    old = states.get(url)
    warnings = [f"cache state was unreadable, starting afresh: {problem}"] if problem else []
    list_file = _relative_list_file(url)
    list_path = os.path.join(cache_dir, list_file)
    have_copy = os.path.isfile(list_path)
    if not force and not _is_due(old, have_copy, now):
        return UpdateResult(
            url,
            NOT_DUE,
            list_path if have_copy else None,
            old.rule_count if have_copy else None,
            old.next_due,
            error=old.last_error,
            warnings=tuple(old.warnings),
        )

    refresh = _Refresh(url, cache_dir, old if have_copy else None, force=force, timeout=timeout, max_bytes=max_bytes)
    try:
        source, text = refresh.run()
        # A list whose text was changed by include handling keeps its raw copy in parts/.
        separate = text != source.text
        if old is not None and old.rule_count is not None and have_copy and _same_as_cached(list_path, text):
            # Nothing changed: no need to parse megabytes again next to a busy proxy.
            outcome, rule_count = NOT_MODIFIED, old.rule_count
            header = _header_of(old)
        else:
            assembled = parse_list_text(text)
            outcome = _accept(text, assembled, list_path, old, have_copy, allow_shrink)
            rule_count = assembled.rule_count
            header = parse_list_text(source.text).metadata if separate else assembled.metadata
        state = _succeeded(url, list_file, old, refresh, header, rule_count, outcome, now, separate)
        _store(cache_dir, list_path, text, source, refresh, outcome, separate)
        _save_entry(cache_dir, state)
    except (ListError, OSError) as e:
        error = str(e) if isinstance(e, ListError) else f"cannot write the cache: {e}"
    except Exception as e:  # a bug must not stop the other lists or the thread refreshing them
        error = f"internal error: {type(e).__name__}: {e}"
    else:
        return UpdateResult(
            url, outcome, list_path, state.rule_count, state.next_due, warnings=tuple(warnings + refresh.warnings)
        )
    state = _failed(url, list_file, old, error, now)
    with contextlib.suppress(OSError):
        _save_entry(cache_dir, state)
    have_copy = os.path.isfile(list_path)
    return UpdateResult(
        url,
        FAILED,
        list_path if have_copy else None,
        old.rule_count if old is not None and have_copy else None,
        state.next_due,
        error=error,
        warnings=tuple(warnings + refresh.warnings),
    )


def _accept(text, assembled, list_path, old, have_copy, allow_shrink) -> str:
    """UPDATED or NOT_MODIFIED for an assembled list that passes the checks; ListError otherwise."""
    if have_copy and _same_as_cached(list_path, text):
        return NOT_MODIFIED
    problem = plausibility_problem(assembled)
    if problem:
        raise ListError(problem)
    if have_copy and not allow_shrink:
        previous = old.rule_count if old is not None else None
        if previous is None:
            with contextlib.suppress(OSError):
                with open(list_path, "rb") as f:
                    previous = parse_list_text(decode_list(f.read())).rule_count
        count = assembled.rule_count
        if previous is not None and previous >= SHRINK_MIN_RULES and count < previous * SHRINK_RATIO:
            raise ListError(
                f"far fewer rules than the last good copy: {count} instead of {previous} "
                f"(below {SHRINK_RATIO:.0%}; --allow-shrink accepts it)"
            )
    return UPDATED


def _header_of(state: ListState) -> dict[str, str]:
    """The header fields a state remembers, keyed as `FilterList.metadata` keys them."""
    fields = {"title": state.title, "version": state.version, "last_modified": state.list_date, "expires": state.expires}
    return {key: value for key, value in fields.items() if value is not None}


def _same_as_cached(list_path: str, text: str) -> bool:
    try:
        with open(list_path, "rb") as f:
            return decode_list(f.read()) == text
    except OSError:
        return False


def _succeeded(url, list_file, old, refresh, header, rule_count, outcome, now, separate) -> ListState:
    source = refresh.parts[url]
    includes = [part.state for part_url, part in refresh.parts.items() if part_url != url]
    source_state = replace(source.state)
    if not separate:
        # The cached copy is the raw list itself: no second copy in parts/.
        source_state.file = list_file
    interval = parse_expires(header.get("expires"))
    last_update = now if outcome == UPDATED or old is None else old.last_update
    return ListState(
        url=url,
        file=list_file,
        source=source_state,
        includes=includes,
        title=header.get("title"),
        version=header.get("version"),
        list_date=header.get("last_modified") or header.get("date"),
        expires=header.get("expires"),
        interval=interval,
        rule_count=rule_count,
        last_update=last_update,
        last_check=now,
        last_attempt=now,
        next_due=now + interval,
        last_error=None,
        failures=0,
        warnings=list(refresh.warnings),
    )


def _failed(url, list_file, old, error, now) -> ListState:
    state = replace(old) if old is not None else ListState(url=url, file=list_file)
    state.failures += 1
    state.last_attempt = now
    state.last_error = error
    delay = min(RETRY_DELAY * 2 ** min(state.failures - 1, 16), min(MAX_RETRY_DELAY, max(state.interval, RETRY_DELAY)))
    state.next_due = now + delay
    return state


def _store(cache_dir, list_path, text, source, refresh, outcome, separate) -> None:
    """Write the accepted copy and the raw parts it was built from, each atomically."""
    kept = set()
    if separate:
        for part in refresh.parts.values():
            path = os.path.join(cache_dir, part.state.file)
            kept.add(os.path.normpath(path))
            if part.fetched or not os.path.isfile(path):
                _write_atomic(path, part.raw)
    if outcome == UPDATED:
        _write_atomic(list_path, text.encode("utf-8") if separate else source.raw)
    _remove_stale_parts(os.path.join(os.path.dirname(list_path), "parts"), kept)


def _remove_stale_parts(parts_dir: str, kept: set[str]) -> None:
    with contextlib.suppress(OSError):
        for name in os.listdir(parts_dir):
            path = os.path.normpath(os.path.join(parts_dir, name))
            if path not in kept:
                with contextlib.suppress(OSError):
                    os.remove(path)


# --- cache files and state ---------------------------------------------------------------------------


def _url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _list_name(url: str) -> str:
    """A readable file name for the list at `url`: its last path segment, as `.txt` (the engine shows it)."""
    parts = urllib.parse.urlsplit(url)
    segment = urllib.parse.unquote(parts.path.rstrip("/").rpartition("/")[2])
    stem = segment.rsplit(".", 1)[0] if "." in segment else segment
    stem = _UNSAFE.sub("-", stem).strip("-.")[:60]
    if not stem:
        stem = _UNSAFE.sub("-", parts.hostname or "list").strip("-.")[:60] or "list"
    return stem + ".txt"


def _relative_list_file(url: str) -> str:
    return os.path.join(_url_key(url)[:16], _list_name(url))


def _origin(url: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _write_atomic(path: str, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a mix."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


@contextlib.contextmanager
def _locked(cache_dir: str) -> Iterator[None]:
    """Serialise read-modify-write of state.json between threads and processes sharing a cache."""
    os.makedirs(cache_dir, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(os.path.join(cache_dir, ".lock"), "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _save_entry(cache_dir: str, state: ListState) -> None:
    with _locked(cache_dir):
        states, _ = _load_state(cache_dir)
        states[state.url] = state
        document = {
            "format": STATE_FORMAT,
            "lists": {url: _state_to_json(entry) for url, entry in sorted(states.items())},
        }
        data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
        _write_atomic(os.path.join(cache_dir, STATE_FILE), data)


def _load_state(cache_dir: str) -> tuple[dict[str, ListState], str | None]:
    """The entries of state.json and, if it could not be read, why (a broken file is not fatal)."""
    path = os.path.join(cache_dir, STATE_FILE)
    try:
        with open(path, "rb") as f:
            document = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as e:
        return {}, f"{path}: {e}"
    if not isinstance(document, dict) or not isinstance(document.get("lists"), dict):
        return {}, f"{path}: not a dejunk list state file"
    states = {}
    for url, entry in document["lists"].items():
        try:
            states[url] = _state_from_json(url, entry)
        except (KeyError, TypeError, ValueError):
            continue  # one hand-edited entry must not cost the others; it is fetched afresh
    return states, None


def _time_to_json(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds")


def _time_from_json(value) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("time must be an ISO 8601 string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _part_to_json(part: PartState) -> dict:
    return {"url": part.url, "file": part.file, "etag": part.etag, "last_modified": part.last_modified}


def _part_from_json(entry) -> PartState:
    if not isinstance(entry, dict):
        raise TypeError("part must be an object")
    part = PartState(
        url=_text(entry["url"]),
        file=_text(entry["file"]),
        etag=_optional_text(entry.get("etag")),
        last_modified=_optional_text(entry.get("last_modified")),
    )
    _check_relative(part.file)
    return part


def _state_to_json(state: ListState) -> dict:
    return {
        "url": state.url,
        "file": state.file,
        "source": _part_to_json(state.source) if state.source else None,
        "includes": [_part_to_json(p) for p in state.includes],
        "title": state.title,
        "version": state.version,
        "list_date": state.list_date,
        "expires": state.expires,
        "interval_seconds": state.interval,
        "rule_count": state.rule_count,
        "last_update": _time_to_json(state.last_update),
        "last_check": _time_to_json(state.last_check),
        "last_attempt": _time_to_json(state.last_attempt),
        "next_due": _time_to_json(state.next_due),
        "last_error": state.last_error,
        "failures": state.failures,
        "warnings": list(state.warnings),
    }


def _state_from_json(url: str, entry) -> ListState:
    if not isinstance(entry, dict):
        raise TypeError("entry must be an object")
    rule_count = entry.get("rule_count")
    if rule_count is not None and not isinstance(rule_count, int):
        raise TypeError("rule_count must be an integer")
    interval = entry.get("interval_seconds", DEFAULT_INTERVAL)
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise ValueError("interval_seconds must be a positive number")
    failures = entry.get("failures", 0)
    if not isinstance(failures, int):
        raise TypeError("failures must be an integer")
    warnings = entry.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise TypeError("warnings must be a list of strings")
    source = entry.get("source")
    state = ListState(
        url=url,
        file=_text(entry["file"]),
        source=_part_from_json(source) if source is not None else None,
        includes=[_part_from_json(p) for p in entry.get("includes", [])],
        title=_optional_text(entry.get("title")),
        version=_optional_text(entry.get("version")),
        list_date=_optional_text(entry.get("list_date")),
        expires=_optional_text(entry.get("expires")),
        interval=float(interval),
        rule_count=rule_count,
        last_update=_time_from_json(entry.get("last_update")),
        last_check=_time_from_json(entry.get("last_check")),
        last_attempt=_time_from_json(entry.get("last_attempt")),
        next_due=_time_from_json(entry.get("next_due")),
        last_error=_optional_text(entry.get("last_error")),
        failures=failures,
        warnings=warnings,
    )
    _check_relative(state.file)
    return state


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _optional_text(value) -> str | None:
    return None if value is None else _text(value)


def _check_relative(file: str) -> None:
    # state.json is data: a path in it must not point outside the cache folder.
    if os.path.isabs(file) or ".." in file.replace("\\", "/").split("/"):
        raise ValueError(f"not a path inside the cache: {file}")
