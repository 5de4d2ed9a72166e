"""Service logs: text or JSON lines, and never an 11- or 12-digit number as it was."""

from __future__ import annotations

import json
import logging

from ipnsim.logs import JsonFormatter, RedactingFilter, redact


def test_my_numbers_and_resident_codes_are_redacted_other_codes_are_not() -> None:
    text = "person 123456789012 code 12345678901 atena 000000081910614 agency 2006201400000000"
    assert redact(text) == (
        "person [12 digits] code [11 digits] atena 000000081910614 agency 2006201400000000"
    )
    assert redact("no digits here") == "no digits here"


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("ipnsim.hub", logging.INFO, __file__, 1, message, args, None)


def test_a_json_line_carries_time_level_logger_service_and_the_redacted_message() -> None:
    entry = record("registered %s with %s", "000000081910614", "123456789012")
    assert RedactingFilter().filter(entry)
    line = JsonFormatter("agency").format(entry)
    parsed = json.loads(line)
    assert parsed["level"] == "INFO"
    assert parsed["logger"] == "ipnsim.hub"
    assert parsed["service"] == "agency"
    assert parsed["message"] == "registered 000000081910614 with [12 digits]"
    assert parsed["time"].endswith("+00:00")
    assert "\n" not in line


def test_an_exception_is_kept_in_the_json_line() -> None:
    try:
        raise ValueError("bad 12345678901")
    except ValueError:
        import sys

        entry = logging.LogRecord(
            "ipnsim", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    parsed = json.loads(JsonFormatter("hub").format(entry))
    assert "ValueError" in parsed["exception"]
    assert "12345678901" not in parsed["exception"]
