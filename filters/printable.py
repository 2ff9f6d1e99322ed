"""Text from lists and requests made safe to show: control and format characters written as escapes.

A list line or a request (URL, header, error message) may carry terminal escape sequences,
carriage returns that overwrite a log line, newlines that forge one, or bidirectional overrides
that reorder what a reader sees. Everything dejunk shows a person (log lines, flow comments, error
pages, command output) passes through `printable` first; `printable_logger` does it for a logger.
"""

from __future__ import annotations

import logging
import re

# C0 and C1 controls, DEL, and the invisible characters that reorder or hide text (bidirectional
# marks and overrides, zero-width spaces and joiners, line and paragraph separators, the BOM).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")
_UNSAFE_MULTILINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def _escape(match: re.Match) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = False) -> str:
    """`text` with control and invisible formatting characters as `\\x1b`-style escapes.

    With `newlines`, line feeds stay (for multi-line text such as a traceback); carriage returns
    never do.
    """
    if text.isascii() and text.isprintable():
        return text  # nearly always: two C-level scans
    return (_UNSAFE_MULTILINE if newlines else _UNSAFE).sub(_escape, text)


class _PrintableRecords(logging.Filter):
    """Makes each record's message (and traceback) printable before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = printable(record.getMessage())
        if record.exc_info and record.exc_info[0] is not None:
            # The traceback quotes exception messages, which may quote requests: format it here.
            message += "\n" + printable(logging.Formatter().formatException(record.exc_info), newlines=True)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = message, None
        return True


_FILTER = _PrintableRecords()


def printable_logger(name: str) -> logging.Logger:
    """The logger `name`, with every message it emits made printable."""
    logger = logging.getLogger(name)
    # By class name: a hot reload of the addon imports this module anew, with a new filter class.
    if not any(type(f).__name__ == _PrintableRecords.__name__ for f in logger.filters):
        logger.addFilter(_FILTER)
    return logger
