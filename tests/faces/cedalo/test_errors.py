"""Every error of the Cedalo face in the product's body: message, code, status, info."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from tests.faces.cedalo.support import assert_error, create, listed, post, project, tokens_path
from tests.helpers import ROOT_HEADERS, bearer, issue, manager
from tokenward.api.dialects.cedalo.errors import translate
from tokenward.api.middleware import BodyTooLarge
from tokenward.domain.errors import ERROR_CLASSES, NotFound

JSON = {"content-type": "application/json"}


BAD_BODIES: list[dict[str, Any]] = [
    {},
    {"role": "viewer"},
    {"name": 5},
    {"name": None},
    {"name": ""},
    {"name": "   "},
    {"name": "x" * 201},
    {"name": "a", "role": "root"},
    {"name": "a", "role": "owner"},
    {"name": "a", "role": None},
    {"name": "a", "brokers": "b1"},
    {"name": "a", "brokers": [1]},
    {"name": "a", "brokers": [""]},
    {"name": "a", "brokers": None},
    {"name": "a", "brokers": [f"b{i}" for i in range(101)]},
    {"name": "a", "type": "partial"},
    {"name": "a", "type": True},
    {"name": "a", "valid_date": "tomorrow"},
    {"name": "a", "valid_date": "2100-01-01T12:00:00"},
    {"name": "a", "valid_date": "2100-13-01"},
    {"name": "a", "valid_date": "2001-01-01"},
    {"name": "a", "valid_date": "2001-01-01T00:00:00Z"},
    {"name": "a", "valid_date": 1000},
    {"name": "a", "valid_date": -5},
    {"name": "a", "valid_date": "-5"},
    {"name": "a", "valid_date": 10**20},
    {"name": "a", "valid_date": "9999-12-31T23:00:00-05:00"},
    {"name": "a", "valid_date": True},
    {"name": "a", "valid_date": []},
    {"name": "a", "valid_date": ""},
]


def test_bad_create_bodies_are_invalid(client: TestClient) -> None:
    # One app for all cases: the cases are many, and each must leave the project empty.
    project(client, "plant")
    for body in BAD_BODIES:
        answer = client.post(tokens_path("plant"), json=body, headers=ROOT_HEADERS)
        error = assert_error(answer, 400, "INVALID")
        # Whatever the caller sent stays out of the answer: it could be a pasted secret.
        assert "tomorrow" not in error["message"] and "2100-13-01" not in error["message"]
    assert listed(client, "plant") == []


def test_bad_json_and_bodies_that_are_not_objects(client: TestClient) -> None:
    project(client, "plant")
    path = tokens_path("plant")
    for content in [b'{"name": ', b"[1, 2]", b'"name"', b""]:
        answer = client.post(path, content=content, headers={**ROOT_HEADERS, **JSON})
        assert_error(answer, 400, "INVALID")
    bad = client.post(path, content=b"{nope", headers={**ROOT_HEADERS, **JSON})
    assert assert_error(bad, 400, "INVALID")["info"]["reason"] == "MALFORMED_JSON"
    missing = client.post(path, json={}, headers=ROOT_HEADERS)
    info = assert_error(missing, 400, "INVALID")["info"]
    assert info["reason"] == "VALIDATION_FAILED"
    assert any("name" in line for line in info["errors"])


@pytest.mark.parametrize(
    "content_type", [None, "application/x-www-form-urlencoded", "text/plain; charset=utf-8"]
)
def test_a_json_body_is_read_whatever_its_content_type(
    client: TestClient, content_type: str | None
) -> None:
    """The product's document names no media type, and `curl -d` sends a form type; the
    Boomerang and Query faces read the same bytes, so Cedalo does too."""
    project(client, "plant")
    headers = {**ROOT_HEADERS, **({"content-type": content_type} if content_type else {})}
    made = client.post(tokens_path("plant"), content=b'{"name": "ci"}', headers=headers)
    assert made.status_code == 200, made.text
    assert [t["name"] for t in listed(client, "plant")] == ["ci"]
    bad = client.post(tokens_path("plant"), content=b"name=ci", headers=headers)
    assert_error(bad, 400, "INVALID")


def test_other_methods_are_405_in_the_products_body(client: TestClient) -> None:
    project(client, "plant")
    for method, path, allow in (
        ("PUT", tokens_path("plant"), "GET, POST"),
        ("GET", f"{tokens_path('plant')}/1", "DELETE"),
    ):
        answer = client.request(method, path, headers=ROOT_HEADERS)
        assert assert_error(answer, 405, "METHOD_NOT_ALLOWED")["status"] == 405
        assert answer.headers["allow"] == allow


def test_unknown_fields_are_ignored(client: TestClient) -> None:
    project(client, "plant")
    body = {"name": "extra", "project_id": "elsewhere", "hash": "x", "id": "7", "token": "t"}
    answer = client.post(tokens_path("plant"), json=body, headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert token["project_id"] == "plant" and token["hash"] != "x" and token["token"] != "t"
    assert [t["name"] for t in listed(client, "plant")] == ["extra"]


def test_restricted_admin_is_invalid(client: TestClient) -> None:
    project(client, "plant")
    answer = post(client, "plant", name="a", role="admin", type="restricted", brokers=["b1"])
    assert assert_error(answer, 400, "INVALID")["info"]["reason"] == "RESTRICTED_ADMIN"
    assert create(client, "plant", name="b", role="admin", type="unrestricted")["role_id"] == (
        "admin"
    )


def test_taken_name_is_a_conflict(client: TestClient) -> None:
    project(client, "plant")
    secretish = "tw_looks-like-a-secret-pasted-as-name"
    create(client, "plant", name=secretish)
    answer = post(client, "plant", name=secretish)
    error = assert_error(answer, 409, "CONFLICT")
    assert error["info"]["reason"] == "NAME_TAKEN"
    assert secretish not in answer.text
    assert len(listed(client, "plant")) == 1


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    project(client, "plant")
    big = b'{"name": "' + b"a" * (70 * 1024) + b'"}'
    answer = client.post(tokens_path("plant"), content=big, headers={**ROOT_HEADERS, **JSON})
    error = assert_error(answer, 413, "PAYLOAD_TOO_LARGE")
    assert error["info"]["limit"] == 64 * 1024

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming too
        for _ in range(80):
            yield b" " * 1024

    streamed = client.post(tokens_path("plant"), content=chunks(), headers={**ROOT_HEADERS, **JSON})
    assert_error(streamed, 413, "PAYLOAD_TOO_LARGE")
    assert listed(client, "plant") == []


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), bearer("tw_" + "A" * 34), {"X": "y"}])
def test_missing_or_bad_credential_is_unauthorized(
    client: TestClient, headers: dict[str, str]
) -> None:
    project(client, "plant")
    token = create(client, "plant", name="kept")
    path = tokens_path("plant")
    for answer in [
        client.get(path, headers=headers),
        client.post(path, json={"name": "new"}, headers=headers),
        client.delete(f"{path}/{token['id']}", headers=headers),
        client.get(tokens_path("nowhere"), headers=headers),
    ]:
        assert_error(answer, 401, "UNAUTHORIZED")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert [t["name"] for t in listed(client, "plant")] == ["kept"]


def test_a_token_without_the_management_audience_is_unauthorized(client: TestClient) -> None:
    project(client, "plant")
    made_here = create(client, "plant", name="broker token", role="admin")
    answer = client.get(tokens_path("plant"), headers=bearer(made_here["token"]))
    assert_error(answer, 401, "UNAUTHORIZED")


def test_unknown_project_is_not_found(client: TestClient) -> None:
    path = tokens_path("nowhere")
    for answer in [
        client.get(path, headers=ROOT_HEADERS),
        client.post(path, json={"name": "a"}, headers=ROOT_HEADERS),
        client.delete(f"{path}/1", headers=ROOT_HEADERS),
        client.delete(f"{path}/abc", headers=ROOT_HEADERS),
    ]:
        error = assert_error(answer, 404, "NOT_FOUND")
        assert "nowhere" not in error["message"]


def test_another_tenants_project_is_not_found(client: TestClient) -> None:
    project(client, "tenant-a")
    project(client, "tenant-b")
    admin_a = bearer(manager(client, "tenant-a", role="admin")["secret"])
    theirs = create(client, "tenant-b", name="b's")
    path_b = tokens_path("tenant-b")

    answers = [
        client.get(path_b, headers=admin_a),
        client.post(path_b, json={"name": "intruder"}, headers=admin_a),
        client.delete(f"{path_b}/{theirs['id']}", headers=admin_a),
    ]
    unknown = [
        client.get(tokens_path("nowhere"), headers=admin_a),
        client.post(tokens_path("nowhere"), json={"name": "x"}, headers=admin_a),
        client.delete(f"{tokens_path('nowhere')}/{theirs['id']}", headers=admin_a),
    ]
    for seen, missing in zip(answers, unknown, strict=True):
        a, b = assert_error(seen, 404, "NOT_FOUND"), assert_error(missing, 404, "NOT_FOUND")
        # Exactly the answer for a project that does not exist: no existence oracle.
        assert {**a, "info": {}} == {**b, "info": {}}
        assert a["info"]["reason"] == b["info"]["reason"]
    assert [t["name"] for t in listed(client, "tenant-b")] == ["b's"]
    # The same admin works in its own project.
    assert create(client, "tenant-a", headers=admin_a, name="mine")["project_id"] == "tenant-a"


def test_a_viewer_may_list_but_not_create_or_delete(client: TestClient) -> None:
    project(client, "plant")
    viewer = bearer(manager(client, "plant", role="viewer")["secret"])
    token = create(client, "plant", name="target")
    assert len(listed(client, "plant", viewer)) == 2
    refused = post(client, "plant", viewer, name="by viewer")
    assert assert_error(refused, 403, "NOT_ALLOWED")["info"]["reason"] == "FORBIDDEN"
    deleting = client.delete(f"{tokens_path('plant')}/{token['id']}", headers=viewer)
    assert_error(deleting, 403, "NOT_ALLOWED")
    assert len(listed(client, "plant")) == 2


def test_only_those_who_handle_secrets_see_their_hashes(client: TestClient) -> None:
    """The product documents ``hash`` on the created token only, which a viewer never gets;
    docs/compat/cedalo.md gives the reason."""
    project(client, "plant")
    token = create(client, "plant", name="target")
    for role, shown in (("viewer", False), ("editor", True), ("admin", True)):
        caller = bearer(manager(client, "plant", role=role, name=role)["secret"])
        [item] = [t for t in listed(client, "plant", caller) if t["name"] == "target"]
        assert item["hash"] == (token["hash"] if shown else None)
    [item] = [t for t in listed(client, "plant") if t["name"] == "target"]
    assert item["hash"] == token["hash"]


@pytest.mark.parametrize(
    ("creator", "body", "reason"),
    [
        ({"role": "editor"}, {"role": "admin"}, "ROLE_ESCALATION"),
        ({"role": "viewer"}, {"role": "viewer"}, "FORBIDDEN"),
        # A restricted caller hands out only restricted tokens (an absent valid_date is no
        # escalation: the token gets the caller's expiry, docs/permissions.md).
        (
            {"role": "editor", "restricted": True, "resources": ["b1"]},
            {"role": "viewer"},
            "RESOURCE_ESCALATION",
        ),
        (
            {"role": "editor", "ttl_seconds": 3600},
            {"role": "viewer", "valid_date": "2100-01-01"},
            "EXPIRY_ESCALATION",
        ),
    ],
)
def test_escalation_is_not_allowed(
    client: TestClient, creator: dict[str, Any], body: dict[str, Any], reason: str
) -> None:
    project(client, "plant")
    headers = bearer(manager(client, "plant", **creator)["secret"])
    answer = post(client, "plant", headers, name="climber", **body)
    assert assert_error(answer, 403, "NOT_ALLOWED")["info"]["reason"] == reason
    assert [t["name"] for t in listed(client, "plant")] == [f"{creator['role']} manager"]


def test_an_editor_may_not_delete_an_admin_token(client: TestClient) -> None:
    project(client, "plant")
    editor = bearer(manager(client, "plant", role="editor")["secret"])
    admin_token = issue(client, "plant", name="boss", role="admin")
    answer = client.delete(f"{tokens_path('plant')}/{admin_token['id']}", headers=editor)
    assert_error(answer, 403, "NOT_ALLOWED")


def _request() -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/projects/p/tokens",
        "headers": [],
        "query_string": b"",
        "state": {"request_id": "rid-1"},
    }
    return Request(scope)


def test_every_domain_error_class_has_a_product_code() -> None:
    expected = {
        "Invalid": (400, "INVALID"),
        "PolicyViolation": (400, "INVALID"),
        "ExchangeRefused": (400, "INVALID"),
        "Unauthenticated": (401, "UNAUTHORIZED"),
        "Forbidden": (403, "NOT_ALLOWED"),
        "NotFound": (404, "NOT_FOUND"),
        "Conflict": (409, "CONFLICT"),
        "RateLimited": (429, "TOO_MANY_REQUESTS"),
        "Unavailable": (503, "UNAVAILABLE"),
        "SealError": (500, "INTERNAL_ERROR"),
    }
    assert {cls.__name__ for cls in ERROR_CLASSES} == set(expected)
    for cls in ERROR_CLASSES:
        response = translate(_request(), cls("tenant 'secret-ish' said no"))
        status, code = expected[cls.__name__]
        body = response.body.decode()
        assert response.status_code == status
        assert f'"code":"{code}"' in body and f'"status":{status}' in body
        assert '"reason":"' + cls.code + '"' in body and '"request_id":"rid-1"' in body
    assert "secret-ish" not in translate(_request(), NotFound("tenant 'secret-ish'")).body.decode()


def test_unexpected_errors_are_internal_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="tokenward.api.cedalo"):
        response = translate(_request(), RuntimeError("boom"))
    assert response.status_code == 500
    body = response.body.decode()
    assert '"code":"INTERNAL_ERROR"' in body and '"status":500' in body and "boom" not in body
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
    too_large = translate(_request(), BodyTooLarge(10))
    assert too_large.status_code == 413 and b'"PAYLOAD_TOO_LARGE"' in too_large.body
