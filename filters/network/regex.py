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
