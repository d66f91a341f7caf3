"""Logging: one JSON object a line for machines, or plain text for a terminal.

Fields given as ``extra`` (request id, route, status, ...) become JSON keys, or ``key=value``
pairs in text mode. Nothing here ever sees a request body or a header, so no secret reaches a
log line through it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colour codes
}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


#: Control characters (C0, DEL, C1) and Unicode's line and paragraph separators as escapes:
#: a newline in a logged value (a token's ``user``, an exception's message) would otherwise
#: start a line that reads as a record of its own.
_ESCAPES = {
    code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x09
} | {0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _escaped(value: object) -> str:
    return str(value).translate(_ESCAPES)


class TextFormatter(logging.Formatter):
    """One line per record: what a record carries has its control characters escaped, and
    the lines of a traceback are indented, so that no line but a record's first begins at
    the margin (JSON escapes them by itself)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{self.formatTime(record)} {record.levelname:<7} {_escaped(record.name)}: "
            f"{_escaped(record.getMessage())}"
        )
        extras = " ".join(f"{_escaped(k)}={_escaped(v)}" for k, v in _extras(record).items())
        if extras:
            line = f"{line} {extras}"
        for block in (
            self.formatException(record.exc_info) if record.exc_info else None,
            self.formatStack(record.stack_info) if record.stack_info else None,
        ):
            if block:
                line += "".join(f"\n    {_escaped(part)}" for part in block.splitlines())
        return line


def configure_logging(level: str, style: str = "auto") -> None:
    """``style`` is ``json``, ``text``, or ``auto`` (text on a terminal, JSON otherwise)."""
    if style == "auto":
        style = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if style == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # tokenward logs each request itself, by route template (api/observability.py). uvicorn's
    # access log would write the raw path and query string, where a client may have pasted a
    # secret; uvicorn writes it only while the logger has handlers, so it gets none, and does
    # not propagate to the root's (tests/security/test_secret_hygiene.py).
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
