"""RE2 compilation of `/regex/` rules, shared by the rule parser (which checks them) and the matcher."""

from __future__ import annotations

import functools

import re2


@functools.lru_cache(maxsize=4096)
def compile_regex(source: str, match_case: bool):
    """An RE2 regex for a `/regex/` rule; ValueError if RE2 rejects it."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = match_case
    options.never_capture = True
    try:
        return re2.compile(source, options)
    except re2.error as e:
        message = e.args[0] if e.args else "rejected"
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise ValueError(str(message)) from None


def _raw_match_works() -> bool:
    """Whether google-re2's RE2 object (`_regexp`, behind its public wrapper) answers as `search` does.

    Its `Match(anchor, bytes, start, end)` is not part of the package's documented API, but it skips
    the wrapper's generator: a third of the time a rule's regex test takes. Checked once on cases
    that tell the two apart; a version where it moved or differs uses the public `search`.
    """
    cases = ((r"ad[sv]/\d+", False, [b"/ads/12", b"/adx/12", b"", b"/ADS/1"]),
             (r"^https?://[^/]+/x\.js$", True, [b"https://a.b/x.js", b"https://a.b/X.js", b"http://a/x.jsx"]),
             (r"caf\xe9", False, ["café".encode(), b"cafe"]))
    try:
        for source, match_case, texts in cases:
            regex = compile_regex(source, match_case)
            for data in texts:
                spans = regex._regexp.Match(_UNANCHORED, data, 0, len(data))
                if (spans[0][0] >= 0) != (regex.search(data) is not None):
                    return False
    except Exception:  # noqa: BLE001 - any change in the internal API means: do not use it
        return False
    return True


_UNANCHORED = getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None)
_UNANCHORED = getattr(_UNANCHORED, "UNANCHORED", None)
RAW_MATCH = _raw_match_works()


def raw_match(regex):
    """(the RE2 object's `Match`, its unanchored mode) when `RAW_MATCH`, else None: see `_raw_match_works`."""
    return (regex._regexp.Match, _UNANCHORED) if RAW_MATCH else None
