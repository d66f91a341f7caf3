"""Every face maps every domain error class to the same HTTP status, in its own body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import Request, Response

from tokenward.api.dialects.boomerang.errors import translate as boomerang
from tokenward.api.dialects.cedalo.errors import translate as cedalo
from tokenward.api.dialects.devo.errors import translate as devo
from tokenward.api.dialects.query.errors import translate as query
from tokenward.api.middleware import BodyTooLarge
from tokenward.api.native.errors import translate as native
from tokenward.api.oauth2.errors import translate as oauth2
from tokenward.domain.errors import (
    ERROR_CLASSES,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    TokenwardError,
    Unauthenticated,
    Unavailable,
)

FACES: dict[str, Callable[[Request, Exception], Response]] = {
    "native": native,
    "boomerang": boomerang,
    "query": query,
    "devo": devo,
    "cedalo": cedalo,
}
STATUS: dict[type[TokenwardError], int] = {
    Invalid: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    Unavailable: 503,
}
SECRET = "tw_SECRETSECRETSECRETSECRETSECRETAB"


def request() -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "query_string": b"",
        "state": {"request_id": "rid-1"},
    }
    return Request(scope)


def test_every_error_class_has_a_status() -> None:
    assert set(STATUS) == set(ERROR_CLASSES)


def make(error: type[TokenwardError], message: str) -> TokenwardError:
    if error is RateLimited:
        return RateLimited(message, retry_after=17)
    return error(message)


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("error", ERROR_CLASSES)
def test_face_maps_error_class(face: str, error: type[TokenwardError]) -> None:
    answer = FACES[face](request(), make(error, f"message about {SECRET}"))
    assert answer.status_code == STATUS[error]


@pytest.mark.parametrize("face", [*FACES, "oauth2"])
def test_face_answers_rate_limited_with_retry_after(face: str) -> None:
    translate = oauth2 if face == "oauth2" else FACES[face]
    answer = translate(request(), RateLimited("too many failures", retry_after=17))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "17"


@pytest.mark.parametrize("face", FACES)
def test_face_maps_body_too_large_and_unknown_errors(face: str) -> None:
    assert FACES[face](request(), BodyTooLarge(10)).status_code == 413
    crash = FACES[face](request(), RuntimeError(f"internal detail {SECRET}"))
    assert crash.status_code == 500
    assert SECRET.encode() not in crash.body and b"internal detail" not in crash.body
