"""Text shown to people (logs, comments, pages, command output) carries no raw control characters."""

from __future__ import annotations

import logging

import pytest

from filters.printable import printable, printable_logger


@pytest.mark.parametrize("text,shown", [
    ("||ads.example^$script", "||ads.example^$script"),
    ("a\x1b[2Jb", "a\\x1b[2Jb"),
    ("one\ntwo", "one\\x0atwo"),
    ("over\rwrite", "over\\x0dwrite"),
    ("bell\x07 del\x7f c1\x9b", "bell\\x07 del\\x7f c1\\x9b"),
    ("abc\u202edef", "abc\\u202edef"),
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("naïve café 広告 👍", "naïve café 広告 👍"),
])
def test_control_and_invisible_characters_become_escapes(text, shown):
    assert printable(text) == shown


def test_newlines_may_stay_carriage_returns_never():
    assert printable("a\nb\rc\x1b", newlines=True) == "a\nb\\x0dc\\x1b"


def test_a_printable_logger_escapes_messages_arguments_and_tracebacks(caplog):
    logger = printable_logger("dejunk.test-printable")
    printable_logger("dejunk.test-printable")  # asked twice: one filter
    assert len(logger.filters) == 1
    caplog.set_level(logging.INFO, logger="dejunk.test-printable")
    logger.info("rule %s", "##.x\x1b[31m")
    try:
        raise ValueError("bad \x1b]0;title\x07")
    except ValueError:
        logger.exception("failed on %r", "u\rv")
    first, second = caplog.records
    assert first.getMessage() == "rule ##.x\\x1b[31m"
    message = second.getMessage()
    assert message.startswith("failed on 'u\\rv'\nTraceback (most recent call last):\n")
    assert "ValueError: bad \\x1b]0;title\\x07" in message
    assert second.exc_info is None  # the traceback is in the message, escaped, and not printed again
