"""Every face maps every domain error class, and every code, in its own body.

The classes are found by walking the error tree (``error_classes``), not listed here: a class
added to the tree is in every test below at once, and a face whose table cannot answer it fails.
"""

from __future__ import annotations

import json

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS
from tokenward.api.dialects.boomerang import errors as boomerang
from tokenward.api.dialects.cedalo import errors as cedalo
from tokenward.api.dialects.devo import errors as devo
from tokenward.api.dialects.query import errors as query
from tokenward.api.errors import HTTP_STATUS, Translator
from tokenward.api.middleware import BodyTooLarge
from tokenward.api.native import errors as native
from tokenward.api.oauth2 import errors as oauth2
from tokenward.domain.errors import (
    ERROR_CLASSES,
    ErrorCode,
    Invalid,
    NotFound,
    PolicyViolation,
    RateLimited,
    SealError,
    TokenwardError,
    Unauthenticated,
    error_classes,
)

FACES: dict[str, Translator] = {
    "native": native.translate,
    "boomerang": boomerang.translate,
    "query": query.translate,
    "devo": devo.translate,
    "cedalo": cedalo.translate,
}
ALL_FACES = {**FACES, "oauth2": oauth2.translate}
SECRET = "tw_SECRETSECRETSECRETSECRETSECRETAB"


def request() -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [],
        "query_string": b"",
        "state": {"request_id": "rid-1"},
    }
    return Request(scope)


def make(error: type[TokenwardError], message: str, code: ErrorCode | None = None) -> Exception:
    if error is RateLimited:
        return RateLimited(message, retry_after=17, code=code)
    return error(message, code=code)


def test_the_tree_is_walked() -> None:
    found = error_classes()
    assert found == ERROR_CLASSES
    assert {cls.__name__ for cls in found} >= {"Invalid", "NotFound", "SealError"}
    assert all(issubclass(cls, TokenwardError) for cls in found)


def test_every_error_class_has_a_status() -> None:
    for cls in error_classes():
        assert HTTP_STATUS.get(cls) is not None, cls


@pytest.mark.parametrize("face", ALL_FACES)
@pytest.mark.parametrize("error", error_classes(), ids=lambda c: c.__name__)
def test_face_maps_error_class(face: str, error: type[TokenwardError]) -> None:
    translate = ALL_FACES[face]
    answer = translate(request(), make(error, f"message about {SECRET}"))
    assert answer.status_code == translate.table.status_of(make(error, "x"))
    if face == "native" and error is PolicyViolation:  # the native face's one exception
        assert answer.status_code == 422
    elif face != "oauth2":  # the RFC answers most refusals 400
        assert answer.status_code == HTTP_STATUS[error]
    if error is SealError:
        assert answer.status_code == 500
        assert SECRET.encode() not in bytes(answer.body)


@pytest.mark.parametrize("face", ALL_FACES)
@pytest.mark.parametrize("code", list(ErrorCode))
def test_face_answers_every_code(face: str, code: ErrorCode) -> None:
    """A code the table words has its fixed text; any other falls to an explicit default (the
    service's message, or the class's text), never to a 500."""
    translate = ALL_FACES[face]
    wording = translate.table.wording
    for error in error_classes():
        answer = translate(request(), make(error, "said no", code))
        assert answer.status_code == translate.table.status_of(make(error, "x"))
        if code in wording.codes:
            text = wording.codes[code]
            assert text.encode() in bytes(answer.body) or json.dumps(text).encode()[1:-1] in bytes(
                answer.body
            )


def test_the_native_code_is_the_errors_code() -> None:
    for code in ErrorCode:
        body = json.loads(bytes(native.translate(request(), Invalid("bad", code=code)).body))
        assert body["error"]["code"] == code.value


def test_native_answer_without_a_request_is_the_routes_answer() -> None:
    """The fast path of /v1/verify answers through ``native.error_answer``: the same status,
    bytes and headers as a route's ``translate``."""
    for error in (
        Unauthenticated("the credential is not valid"),
        RateLimited("too many", retry_after=17),
        NotFound("token 1 not found", resource="token"),
        SealError("bad key"),
    ):
        status, body, headers = native.error_answer(error, "rid-1")
        routed = native.translate(request(), error)
        assert status == routed.status_code and body == bytes(routed.body)
        for name, value in headers:
            assert routed.headers[name.decode()] == value.decode()
    assert b"bad key" not in native.error_answer(SealError("bad key"), "r")[1]


@pytest.mark.parametrize("face", ALL_FACES)
def test_face_answers_rate_limited_with_retry_after(face: str) -> None:
    answer = ALL_FACES[face](request(), RateLimited("too many failures", retry_after=17))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "17"


@pytest.mark.parametrize("face", FACES)
def test_face_maps_body_too_large_and_unknown_errors(face: str) -> None:
    assert FACES[face](request(), BodyTooLarge(10)).status_code == 413
    crash = FACES[face](request(), RuntimeError(f"internal detail {SECRET}"))
    assert crash.status_code == 500
    assert SECRET.encode() not in crash.body and b"internal detail" not in crash.body


@pytest.mark.parametrize(
    ("translate", "names"),
    [
        (boomerang.translate, {"expires_at": "expirationDate", "scopes": "permissions"}),
        (cedalo.translate, {"expires_at": "valid_date", "resources": "brokers"}),
        (devo.translate, {"expires_at": "expiration", "ttl_seconds": "expiresInSeconds"}),
        (query.translate, {"expires_at": "expiration_date"}),
    ],
)
def test_dialects_name_fields_by_the_products_names(
    translate: Translator, names: dict[str, str]
) -> None:
    for native_name, wire in names.items():
        answer = translate(request(), Invalid("must not be empty", field=native_name))
        assert f"{wire} must not be empty".encode() in bytes(answer.body)
        assert native_name.encode() not in bytes(answer.body)


def test_devo_words_a_missing_account_apart_from_a_missing_token() -> None:
    def message(error: NotFound) -> str:
        return str(json.loads(bytes(devo.translate(request(), error).body))["error"]["message"])

    assert message(NotFound("token 5 not found", resource="tenant")) == "account not found"
    assert message(NotFound("token 5 not found", resource="token")) == "token not found"
    assert message(NotFound("tenant 'secret-ish'")) == "token not found"


def test_devo_and_cedalo_word_a_missing_tenant_from_the_service_alone(client: TestClient) -> None:
    """An id that does not parse, in an account or project that does not exist, is answered
    as the missing account or project, as any other id is, without a call of the face's own."""
    for one in ("abc", "424242"):
        answer = client.get(f"/v2/accounts/nowhere/tokens/{one}", headers=ROOT_HEADERS)
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == "account not found"
        gone = client.delete(f"/api/projects/nowhere/tokens/{one}", headers=ROOT_HEADERS)
        assert gone.status_code == 404 and gone.json()["code"] == "NOT_FOUND"
        # In a project that exists, a token it does not hold is the product's false.
        kept = client.delete(f"/api/projects/default/tokens/{one}", headers=ROOT_HEADERS)
        assert kept.status_code == 200 and kept.json() is False
        answer = client.get(f"/v2/accounts/default/tokens/{one}", headers=ROOT_HEADERS)
        assert answer.json()["error"]["message"] == "token not found"
