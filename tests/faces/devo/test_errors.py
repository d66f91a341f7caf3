"""Every error of the Devo face: ``{"error": {"code": <status>, "message": ...}}`` and
``x-devo-cid``, whatever went wrong."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from tests.faces.devo.support import (
    ACCOUNT,
    account,
    assert_error,
    create,
    listed,
    post,
    put,
    token_path,
    tokens_path,
)
from tests.helpers import ROOT_HEADERS
from tokenward.api.dialects.devo.errors import CID_HEADER, translate
from tokenward.api.middleware import BodyTooLarge
from tokenward.domain.errors import ERROR_CLASSES, NotFound
from tokenward.service.sealing import SealError

JSON = {"content-type": "application/json"}

PASTED = "tw_looks-like-a-pasted-secret"

BAD_CREATE_BODIES: list[dict[str, Any]] = [
    {},
    {"name": "no audience"},
    {"audience": None},
    {"audience": ""},
    {"audience": "   "},
    {"audience": []},
    {"audience": 5},
    {"audience": [1]},
    {"audience": {"a": 1}},
    {"audience": [PASTED + " " + "x" * 201]},
    {"audience": " ".join(f"a{i}" for i in range(101))},
    {"audience": "apiv2", "name": 5},
    {"audience": "apiv2", "name": ["n"]},
    {"audience": "apiv2", "name": "x" * 201},
    {"audience": "apiv2", "owner": 5},
    {"audience": "apiv2", "user": False},
    {"audience": "apiv2", "user": "u" * 201},
    {"audience": "apiv2", "scopes": 5},
    {"audience": "apiv2", "scopes": [None]},
    {"audience": "apiv2", "expiresInSeconds": "86400"},
    {"audience": "apiv2", "expiresInSeconds": 1.5},
    {"audience": "apiv2", "expiresInSeconds": True},
    {"audience": "apiv2", "expiresInSeconds": 0},
    {"audience": "apiv2", "expiresInSeconds": -2},
    {"audience": "apiv2", "expiresInSeconds": 10**12},
    {"audience": "apiv2", "expiresInSeconds": 10**30},
]


def test_bad_create_bodies_are_400(client: TestClient) -> None:
    # One app for all cases: the cases are many, and each must leave the account empty.
    account(client)
    for body in BAD_CREATE_BODIES:
        answer = client.post(tokens_path(), json=body, headers=ROOT_HEADERS)
        message = assert_error(answer, 400)
        # Whatever the caller sent stays out of the answer: it could be a pasted secret.
        assert PASTED not in message, body
    assert listed(client) == []


def test_messages_name_the_product_fields(client: TestClient) -> None:
    account(client)
    missing = assert_error(post(client, ACCOUNT, name="x"), 400)
    assert "audience" in missing
    too_long = assert_error(post(client, ACCOUNT, audience="a", expiresInSeconds=10**12), 400)
    assert "expiresInSeconds" in too_long and "ttl_seconds" not in too_long
    wrong = assert_error(post(client, ACCOUNT, audience="a", expiresInSeconds=0), 400)
    assert "expiresInSeconds" in wrong and "-1" in wrong


def test_bad_json_and_bodies_that_are_not_objects(client: TestClient) -> None:
    account(client)
    token = create(client)
    for path in (tokens_path(), f"{token_path(token['id'])}/rename"):
        send = client.post if path == tokens_path() else client.put
        bad = send(path, content=b"{nope", headers={**ROOT_HEADERS, **JSON})
        assert assert_error(bad, 400) == "the request body is not valid JSON"
        for content in [b"[1, 2]", b'"audience"', b"", b"null"]:
            assert_error(send(path, content=content, headers={**ROOT_HEADERS, **JSON}), 400)
    assert_error(put(client, token["id"], "rename", json={"value": 5}), 400)
    assert [t["name"] for t in listed(client)] == ["Unnamed"]


@pytest.mark.parametrize(
    "content_type", [None, "application/x-www-form-urlencoded", "text/plain; charset=utf-8"]
)
def test_a_json_body_is_read_whatever_its_content_type(
    client: TestClient, content_type: str | None
) -> None:
    """The product's document names no media type, and `curl -d` sends a form type; the
    Boomerang and Query faces read the same bytes, so Devo does too."""
    account(client)
    headers = {**ROOT_HEADERS, **({"content-type": content_type} if content_type else {})}
    made = client.post(tokens_path(), content=b'{"audience": "apiv2"}', headers=headers)
    assert made.status_code == 201, made.text
    renamed = client.put(
        f"{token_path(made.json()['id'])}/rename", content=b'{"value": "x"}', headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    assert [t["name"] for t in listed(client)] == ["x"]
    assert_error(client.post(tokens_path(), content=b"audience=apiv2", headers=headers), 400)


@pytest.mark.parametrize(
    # 2**63 - 1 is the largest id the store holds (limits.MAX_TOKEN_ID): it is looked up; one
    # more is refused by the face, before the store could overflow on it.
    "token_id",
    ["424242", "abc", "1.5", "-1", "9" * 30, "0", str(2**63 - 1), str(2**63)],
)
def test_unknown_token_is_404(client: TestClient, token_id: str) -> None:
    account(client)
    create(client)
    one = token_path(token_id)
    for answer in [
        client.get(one, headers=ROOT_HEADERS),
        client.put(f"{one}/enable", headers=ROOT_HEADERS),
        client.put(f"{one}/disable", headers=ROOT_HEADERS),
        client.put(f"{one}/rename", json={"value": "x"}, headers=ROOT_HEADERS),
        client.put(f"{one}/rename", json={"value": None}, headers=ROOT_HEADERS),
        client.delete(one, headers=ROOT_HEADERS),
    ]:
        assert assert_error(answer, 404) == "token not found"
    assert len(listed(client)) == 1


def test_unknown_paths_and_methods_answer_in_the_product_format(client: TestClient) -> None:
    account(client)
    token = create(client)
    patched = client.patch(tokens_path(), headers=ROOT_HEADERS)
    assert_error(patched, 405)
    assert set(patched.headers["allow"].split(", ")) == {"GET", "POST"}
    assert_error(client.post(f"{token_path(token['id'])}/enable", headers=ROOT_HEADERS), 405)
    assert_error(client.get(f"{token_path(token['id'])}/rotate", headers=ROOT_HEADERS), 404)
    assert_error(client.get("/v2/accounts", headers=ROOT_HEADERS), 404)
    assert_error(client.get(f"/v2/accounts/{ACCOUNT}/other", headers=ROOT_HEADERS), 404)


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    account(client)
    token = create(client, name="kept")
    big = b'{"audience": "' + b"a" * (70 * 1024) + b'"}'
    answer = client.post(tokens_path(), content=big, headers={**ROOT_HEADERS, **JSON})
    assert "65536" in assert_error(answer, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming too
        for _ in range(80):
            yield b" " * 1024

    streamed = client.post(tokens_path(), content=chunks(), headers={**ROOT_HEADERS, **JSON})
    assert_error(streamed, 413)
    renamed = put(client, token["id"], "rename", content=big, headers={**ROOT_HEADERS, **JSON})
    assert_error(renamed, 413)
    assert [t["name"] for t in listed(client)] == ["kept"]


def _request() -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v2/accounts/a/tokens",
        "headers": [],
        "query_string": b"",
        "state": {"request_id": "rid-1"},
    }
    return Request(scope)


def test_every_domain_error_class_has_a_status() -> None:
    expected = {
        "Invalid": 400,
        "PolicyViolation": 400,
        "ExchangeRefused": 400,
        "Unauthenticated": 401,
        "Forbidden": 403,
        "NotFound": 404,
        "Conflict": 409,
        "RateLimited": 429,
        "Unavailable": 503,
        "SealError": 500,
    }
    assert {cls.__name__ for cls in ERROR_CLASSES} == set(expected)
    for cls in ERROR_CLASSES:
        response = translate(_request(), cls("said no"))
        status = expected[cls.__name__]
        assert response.status_code == status
        assert bytes(response.body).decode().startswith(f'{{"error":{{"code":{status},"message":"')
        assert response.headers[CID_HEADER] == "rid-1"
    assert b"secret-ish" not in bytes(translate(_request(), NotFound("tenant 'secret-ish'")).body)


def test_unexpected_errors_are_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="tokenward.api.devo"):
        response = translate(_request(), RuntimeError("boom"))
        sealed = translate(_request(), SealError("bad key"))
    for answer in (response, sealed):
        assert answer.status_code == 500
        assert bytes(answer.body).startswith(b'{"error":{"code":500,"message":')
        assert b"boom" not in bytes(answer.body) and b"bad key" not in bytes(answer.body)
        assert answer.headers[CID_HEADER] == "rid-1"
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
    too_large = translate(_request(), BodyTooLarge(10))
    assert too_large.status_code == 413 and bytes(too_large.body).startswith(
        b'{"error":{"code":413,'
    )
