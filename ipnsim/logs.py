"""How every service logs: plain text or one JSON object a line, never a My Number.

``IPNSIM_LOG_FORMAT=json`` (``ipnsim up --log-format json``) makes each record a JSON object
with its time (UTC, ISO 8601), level, logger, service and message, for log collectors. In both
formats a redaction filter replaces any run of exactly 12 digits (the shape of a My Number,
個人番号) or 11 digits (a resident code, 住民票コード) by a placeholder, as a second line of
defence behind code that never logs either. Atena numbers (15 digits) and agency codes (16)
are left as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMAT_ENV = "IPNSIM_LOG_FORMAT"

_MY_NUMBER_OR_RESIDENT_CODE = re.compile(r"(?<![0-9])[0-9]{11,12}(?![0-9])")
_PLACEHOLDERS = {11: "[11 digits]", 12: "[12 digits]"}


def redact(text: str) -> str:
    """``text`` with every 12-digit and 11-digit run replaced by a placeholder."""
    return _MY_NUMBER_OR_RESIDENT_CODE.sub(_placeholder, text)


def _placeholder(found: re.Match[str]) -> str:
    return _PLACEHOLDERS[len(found.group())]


class RedactingFilter(logging.Filter):
    """Renders each record's message once, redacted, so no handler sees the digits."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, service, message (and the exception)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: LogFormat, service: str) -> None:
    """Send every logger's records to standard error in ``log_format``, redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Neither format shows where a record was made nor which thread or process made it: not
    # finding that out saves a walk up the stack and a few calls for every record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
