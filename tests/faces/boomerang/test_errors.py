"""The face's one error table: every class of the core's error tree, and the unforeseen."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from tests.faces.boomerang.support import DATE, HTTP_TEXT
from tokenward.api.dialects.boomerang.errors import translate
from tokenward.domain.errors import ERROR_CLASSES, TokenwardError
from tokenward.service.sealing import SealError

EXPECTED = {
    "Invalid": (400, 1010, "TOKEN_INVALID_REQ"),
    "PolicyViolation": (400, 1010, "TOKEN_INVALID_REQ"),
    "ExchangeRefused": (400, 1010, "TOKEN_INVALID_REQ"),
    "Unauthenticated": (401, 401, "UNAUTHORIZED"),
    "Forbidden": (403, 403, "PERMISSION_DENIED"),
    "NotFound": (404, 404, "NOT_FOUND"),
    "Conflict": (409, 409, "CONFLICT"),
    "RateLimited": (429, 429, "TOO_MANY_REQUESTS"),
    "Unavailable": (503, 503, "SERVICE_UNAVAILABLE"),
    "SealError": (500, 500, "INTERNAL_SERVER_ERROR"),
}
HTTP = {**HTTP_TEXT, 404: "404 NOT_FOUND", 409: "409 CONFLICT", 500: "500 INTERNAL_SERVER_ERROR"}
HTTP[503] = "503 SERVICE_UNAVAILABLE"
HTTP[429] = "429 TOO_MANY_REQUESTS"


def request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/v2/token/query", "headers": []})


def body_of(exc: Exception) -> tuple[int, dict[str, object]]:
    answer = translate(request(), exc)
    return answer.status_code, json.loads(bytes(answer.body))


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_has_a_row(error_class: type[TokenwardError]) -> None:
    status, body = body_of(error_class("the tenant 'secret-name' was not found"))
    want_status, code, reason = EXPECTED[error_class.__name__]
    assert status == want_status
    assert body["code"] == code and body["reason"] == reason
    assert body["status"] == HTTP[want_status]
    assert DATE.fullmatch(str(body["timestamp"]))
    if error_class.__name__ == "NotFound":
        assert body["message"] == "not found"  # never the name of another tenant's thing


@pytest.mark.parametrize("exc", [RuntimeError("boom: bfg_secret"), SealError("bad key")])
def test_the_unforeseen_is_a_logged_500_that_tells_nothing(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tokenward.api.boomerang"):
        status, body = body_of(exc)
    assert status == 500
    assert body["code"] == 500 and body["reason"] == "INTERNAL_SERVER_ERROR"
    assert body["status"] == "500 INTERNAL_SERVER_ERROR"
    assert "bfg_secret" not in str(body) and "bad key" not in str(body)
    assert caplog.records, "the failure must reach the log"


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    answer = client.get("/api/v2/token/query", headers={"X-Request-ID": "trace-42"})
    assert answer.status_code == 401
    assert answer.headers["x-request-id"] == "trace-42"
