"""dejunk's mitmproxy options: name, type, default, help, and what a valid value is.

The addon declares these in `load()`. `check_value` answers, for a value of the right type,
what is wrong with it (None when nothing is); `describe_error` words a problem the same way for
every option: the option, the value given, and what is expected.
"""

from __future__ import annotations

import collections.abc
import typing
from dataclasses import dataclass

COSMETIC_MODES = ("remove", "hide", "off")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option as mitmproxy declares it, and what its values must be."""

    name: str
    typespec: object
    default: object
    help: str
    expected: str  # what a valid value is, in words
    minimum: int | None = None
    choices: tuple[str, ...] | None = None
    check: typing.Callable[[object], str | None] | None = None  # what else is wrong with a value, or None


def host_name_problem(value: object) -> str | None:
    """What keeps `value` from being a host name the dashboard can answer on (empty is fine: off), or None."""
    name = str(value).strip().lower().rstrip(".")
    if not name:
        return None
    if len(name) > 253:
        return "longer than 253 characters"
    if all(part.isdigit() for part in name.split(".")) or ":" in name:
        return "an IP address, not a host name"
    for label in name.split("."):
        if not label or len(label) > 63 or label.startswith("-") or label.endswith("-"):
            return f"the label {label!r} is not a host name label"
        if not all(c.isascii() and (c.isalnum() or c == "-") for c in label):
            return f"the label {label!r} has characters other than letters, digits and -"
    return None


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "dejunk_enabled", bool, True,
        "Filter traffic. When false, dejunk lets every flow pass untouched.",
        "true or false",
    ),
    OptionSpec(
        "dejunk_lists", collections.abc.Sequence[str], ["default"],
        "Filter lists to load: Adblock Plus / uBlock Origin syntax or hosts files, one file path, "
        "http(s) URL or name per entry (repeat --set dejunk_lists=...). 'default' is the set uBlock "
        "Origin starts with (uBlock filters, EasyList, EasyPrivacy, Peter Lowe's list, malware URLs; "
        "`python scripts/lists.py sets` lists the names); 'builtin' is dejunk's own small list. URLs "
        "and named lists are subscriptions: downloaded into the cache and kept fresh in the background, "
        "with the built-in list standing in until they first arrive.",
        "a list of filter list files, URLs, list set names or 'builtin'",
    ),
    OptionSpec(
        "dejunk_myfilters", typing.Optional[str], None,
        "Your own filter rules: a list file read after all others, trusted (trusted-* scriptlets and "
        "$replace allowed), and taken into use a few seconds after each save. Default: my-filters.txt "
        "in the dejunk_state folder, created if missing. An empty value turns it off.",
        "a file, or empty for none",
    ),
    OptionSpec(
        "dejunk_state", typing.Optional[str], None,
        "Folder for dejunk's own data: your filters file, and state.db (sites allowed with dejunk.allow, "
        "per-site overrides, statistics). Default: $XDG_DATA_HOME/dejunk (~/.local/share/dejunk), created "
        "when first needed. Or postgresql://user:password@host/database: the state store in PostgreSQL, "
        "shared by proxies on several machines (needs psycopg); your filters file then stays in the "
        "default folder.",
        "a folder or a postgresql:// URL",
    ),
    OptionSpec(
        "dejunk_trusted_lists", collections.abc.Sequence[str], [],
        "URL prefixes of downloaded lists that may use the rules uBlock Origin keeps for trusted "
        "lists (trusted-* scriptlets, $replace...). Local files and uBlock Origin's own lists always "
        "may; from any other list those rules are skipped and counted.",
        "a list of URL prefixes",
    ),
    OptionSpec(
        "dejunk_cache", typing.Optional[str], None,
        "Folder for downloaded lists. Default: the config's [lists] cache_dir, else "
        "$XDG_CACHE_HOME/dejunk/lists (~/.cache/dejunk/lists).",
        "a folder",
    ),
    OptionSpec(
        "dejunk_config", typing.Optional[str], None,
        "TOML file with host policies: [groups] name = [\"*.example.com\", ...] and "
        "[policy.connect|image|cookie] with default = \"accept\"|\"reject\", accept = [...], "
        "reject = [...]. Patterns are shell wildcards on the host; @name expands a group. "
        "[lists] subscriptions = [\"https://...\"] adds list subscriptions.",
        "a TOML file",
    ),
    OptionSpec(
        "dejunk_events", typing.Optional[str], None,
        "Append one JSON object per event (blocked, policy, upstream_error, addon_error) to this file.",
        "a file to append to",
    ),
    OptionSpec(
        "dejunk_connect_timeout", int, 20,
        "Seconds to wait for an upstream TCP connection (and again for its TLS handshake).",
        "a whole number of seconds, 1 or more", minimum=1,
    ),
    OptionSpec(
        "dejunk_response_timeout", int, 60,
        "Seconds to wait for an upstream's response headers once the request could be sent; after "
        "the headers, the longest a body held for rewriting may go without a byte (an idle timeout: "
        "a response that keeps coming is never cut). A page still coming after this long is not held "
        "any longer: it goes on unrewritten, as it arrives.",
        "a whole number of seconds, 1 or more", minimum=1,
    ),
    OptionSpec(
        "dejunk_allow", collections.abc.Sequence[str], [],
        "Sites where dejunk steps aside: their pages and the requests those pages make pass "
        "untouched. Host wildcards (*.example.com); a plain name includes its subdomains.",
        "a list of host names or wildcards",
    ),
    OptionSpec(
        "dejunk_cosmetic", str, "remove",
        "What to do with ad elements that cosmetic rules (##) select in HTML pages: remove them, "
        "hide them with one injected <style> (for sites whose scripts need them), or off.",
        f"one of {', '.join(COSMETIC_MODES)}", choices=COSMETIC_MODES,
    ),
    OptionSpec(
        "dejunk_max_rewrite_bytes", int, 5 * 1024 * 1024,
        "Largest page (decoded body, in bytes) dejunk buffers to remove ad elements from; larger "
        "pages and everything that is not HTML stream through untouched.",
        "a whole number of bytes, 0 or more", minimum=0,
    ),
    OptionSpec(
        "dejunk_rewrite_timeout", int, 5,
        "Seconds a page rewrite may take; after that the page is delivered as it came.",
        "a whole number of seconds, 1 or more", minimum=1,
    ),
    OptionSpec(
        "dejunk_dashboard", str, "dejunk.home.arpa",
        "Host name on which the proxy answers with dejunk's dashboard (http:// and https://, for every "
        "client of the proxy; never forwarded, not counted). Empty turns the dashboard off.",
        "a host name, or empty for no dashboard", check=host_name_problem,
    ),
    OptionSpec(
        "dejunk_dashboard_password", str, "",
        "Password for the dashboard (HTTP Basic authentication, any user name); for proxies shared on a "
        "network. Empty: no password.",
        "a password, or empty for none",
    ),
    OptionSpec(
        "dejunk_error_pages", bool, True,
        "Answer failed upstream connections with dejunk's error page naming host, port and cause. "
        "Switches connection_strategy to lazy so that HTTPS clients can be shown the page too.",
        "true or false",
    ),
    OptionSpec(
        "dejunk_worker", str, "",
        "This proxy's name among several that share one state folder and list cache (`dejunk serve` "
        "numbers its workers). Empty for a proxy on its own.",
        "a short name",
    ),
    OptionSpec(
        "dejunk_fetch_lists", bool, True,
        "Download list subscriptions when they are due. False where another proxy sharing the list "
        "cache downloads them (`dejunk serve`: all workers but the first): this one watches the cached "
        "copies and takes the engine that proxy compiles from them into use.",
        "true or false",
    ),
)

BY_NAME = {spec.name: spec for spec in OPTIONS}


def describe_error(name: str, value: object, problem: str | None = None) -> str:
    """One line: the option, the value given, what is expected (and the problem, if more is known)."""
    spec = BY_NAME.get(name)
    expected = spec.expected if spec else "a valid value"
    shown = " ".join(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value
    line = f"{name}: {shown!r} is not {expected}"
    return f"{line} ({problem})" if problem else line


def check_value(name: str, value: object) -> str | None:
    """What is wrong with a correctly typed value of option `name` (an error line), or None."""
    spec = BY_NAME[name]
    if spec.minimum is not None and isinstance(value, int) and value < spec.minimum:
        return describe_error(name, value)
    if spec.choices is not None and value not in spec.choices:
        return describe_error(name, value)
    if spec.typespec == collections.abc.Sequence[str] and any(not str(v).strip() for v in value):
        return describe_error(name, value, "an entry is empty")
    problem = spec.check(value) if spec.check is not None else None
    return describe_error(name, value, problem) if problem else None


def open_listeners(options) -> list[str]:
    """The proxy modes (as given) that listen on every network interface; none when not serving."""
    if "server" in options and not options.server:
        return []
    from mitmproxy.proxy.mode_specs import ProxyMode

    found = []
    for spec in options.mode if "mode" in options else ["regular"]:
        try:
            mode = ProxyMode.parse(spec)
        except ValueError:
            continue  # mitmproxy reports its own option's error
        if mode.type_name != "local" and mode.listen_host(options.listen_host) in ("", "0.0.0.0", "::"):
            found.append(spec)
    return found
