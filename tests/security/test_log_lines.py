"""Log lines cannot be forged (issue 13): a newline or another control character in a value
that a record carries (a token's ``user``, a message argument, an exception's text) is
escaped in the text format, so every record is one line; JSON escapes them by itself."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.helpers import bearer, manager
from tokenward.log_config import JsonFormatter, TextFormatter

FORGED = "2026-01-01 00:00:00,000 INFO    tokenward.requests: POST /v1/tenants 201"
NASTY = f"eve\n{FORGED}\r\n{FORGED}\u2028{FORGED}\x85{FORGED}\x1b[2K"


def _record(exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(NASTY)
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("tokenward.requests", logging.INFO, "", 0, "%s", (NASTY,), exc_info)
    record.actor = NASTY
    return record


@pytest.mark.parametrize("exc", [False, True])
def test_a_text_record_is_one_line_whatever_it_carries(exc: bool) -> None:
    text = TextFormatter().format(_record(exc))
    lines = text.splitlines()  # splits on every separator a log reader might honour
    assert not any(line.startswith("2026-01-01") for line in lines), text
    assert all(line.startswith("    ") for line in lines[1:]), text  # a traceback, indented
    assert len(lines) == 1 or exc
    assert "\x1b" not in text and "\r" not in text
    assert "eve\\n2026-01-01" in lines[0] and "actor=eve\\n" in lines[0]


def test_json_records_escape_control_characters() -> None:
    for exc in (False, True):
        text = JsonFormatter().format(_record(exc))
        assert len(text.splitlines()) == 1
        entry = json.loads(text)
        assert entry["message"] == NASTY and entry["actor"] == NASTY


@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("tokenward")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_user_with_newlines_forges_no_request_line(
    client: TestClient, text_log: io.StringIO
) -> None:
    user = f"eve\n{FORGED}\r\n{FORGED}"  # within the 200 characters of a user
    caller = manager(client, role="editor", user=user)
    text_log.truncate(0)
    text_log.seek(0)
    answer = client.post(
        "/v1/tenants/default/tokens", json={"name": "n"}, headers=bearer(caller["secret"])
    )
    assert answer.status_code == 201
    lines = text_log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "POST /v1/tenants/{tenant}/tokens 201" in lines[0]
    assert f"actor=eve\\n{FORGED}" in lines[0]
