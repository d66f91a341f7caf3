"""Token management through the native API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue

BASE = "/v1/tenants/default/tokens"


def verify(client: TestClient, secret: str, **asked: Any) -> dict[str, Any]:
    answer = client.post("/v1/verify", json={"token": secret, **asked})
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_defaults(client: TestClient) -> None:
    token = issue(client, name="plain")
    assert token["type"] == "global"
    assert token["principal"] is None
    assert token["role"] == "viewer"
    assert token["scopes"] == [] and token["audience"] == [] and token["resources"] == []
    assert token["expires_at"] is None and token["expired"] is False
    assert token["active"] is True and token["restricted"] is False
    assert token["owner"] == "root" and token["user"] == "root"
    assert token["recoverable"] is False
    assert token["secret_hint"] == f"tw_...{token['secret'][-5:]}"


def test_all_fields_round_trip(client: TestClient) -> None:
    expires = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=123000)
    token = issue(
        client,
        name="worker",
        description="nightly job",
        type="workflow",
        principal="wf-7",
        user="carol",
        role="editor",
        scopes=["read", "write", "read"],
        audience=["billing"],
        resources=["broker-1"],
        restricted=True,
        active=False,
        expires_at=expires.isoformat(),
        metadata={"team": "data", "n": 1},
    )
    shown = client.get(f"{BASE}/{token['id']}", headers=ROOT_HEADERS).json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in token.items() if k != "secret"}
    assert shown["scopes"] == ["read", "write"]
    assert datetime.fromisoformat(shown["expires_at"]) == expires


def test_ttl_seconds(client: TestClient) -> None:
    token = issue(client, ttl_seconds=60)
    expires = datetime.fromisoformat(token["expires_at"])
    created = datetime.fromisoformat(token["created_at"])
    assert expires - created == timedelta(seconds=60)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"name": ""}, 400),
        ({"name": "x" * 201}, 400),
        ({"name": "a", "type": "user"}, 400),
        ({"name": "a", "principal": "p"}, 400),
        ({"name": "a", "role": "root"}, 400),
        ({"name": "a", "role": "emperor"}, 422),
        ({"name": "a", "expires_at": "2001-01-01T00:00:00Z"}, 400),
        ({"name": "a", "expires_at": "2999-01-01T00:00:00"}, 422),
        ({"name": "a", "expires_at": "2999-01-01T00:00:00Z", "ttl_seconds": 5}, 400),
        ({"name": "a", "ttl_seconds": 0}, 400),
        ({"name": "a", "ttl_seconds": 10**12}, 400),
        ({"name": "a", "scopes": "read"}, 422),
        ({"name": "a", "scopes": [""]}, 400),
        ({"name": "a", "scopes": ["s"] * 101}, 400),
        ({"name": "a", "metadata": {"big": "x" * 9000}}, 400),
        ({"name": "a", "restricted": True, "role": "admin"}, 400),
        ({"name": "a", "unknown": 1}, 422),
        ({"name": "nul\x00"}, 400),
        ({}, 422),
    ],
)
def test_bad_input(client: TestClient, fields: dict[str, Any], status: int) -> None:
    answer = client.post(BASE, json=fields, headers=ROOT_HEADERS)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] and error["message"] and error["request_id"]
    assert client.get(BASE, headers=ROOT_HEADERS).json()["total"] == 0


def test_unknown_tenant_and_token(client: TestClient) -> None:
    assert (
        client.post("/v1/tenants/nope/tokens", json={"name": "a"}, headers=ROOT_HEADERS).status_code
        == 404
    )
    assert client.get("/v1/tenants/nope/tokens", headers=ROOT_HEADERS).status_code == 404
    for method, suffix in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/enable"),
        ("post", "/disable"),
        ("post", "/rotate"),
        ("get", "/secret"),
    ]:
        kwargs: dict[str, Any] = {"json": {}} if method == "patch" else {}
        answer = client.request(method, f"{BASE}/999{suffix}", headers=ROOT_HEADERS, **kwargs)
        assert answer.status_code == 404, (method, suffix)
        assert answer.json()["error"]["code"] == "NOT_FOUND"
    assert client.get(f"{BASE}/abc", headers=ROOT_HEADERS).status_code == 422


def test_patch_changes_only_given_fields(client: TestClient) -> None:
    token = issue(client, name="old", scopes=["a"], ttl_seconds=600, description="d")
    changed = client.patch(
        f"{BASE}/{token['id']}", json={"name": "new", "expires_at": None}, headers=ROOT_HEADERS
    )
    assert changed.status_code == 200
    body = changed.json()
    assert body["name"] == "new" and body["expires_at"] is None
    assert body["scopes"] == ["a"] and body["description"] == "d"
    assert body["updated_at"] >= token["updated_at"]
    refused = client.patch(f"{BASE}/{token['id']}", json={"name": None}, headers=ROOT_HEADERS)
    assert refused.status_code == 400
    past = client.patch(
        f"{BASE}/{token['id']}", json={"expires_at": "2000-01-01T00:00:00Z"}, headers=ROOT_HEADERS
    )
    assert past.status_code == 400
    assert client.get(f"{BASE}/{token['id']}", headers=ROOT_HEADERS).json()["name"] == "new"


def test_enable_disable(client: TestClient) -> None:
    token = issue(client)
    for action, active, code in [
        ("disable", False, "DISABLED"),
        ("disable", False, "DISABLED"),
        ("enable", True, "VALID"),
    ]:
        answer = client.post(f"{BASE}/{token['id']}/{action}", headers=ROOT_HEADERS)
        assert answer.status_code == 200 and answer.json()["active"] is active
        assert verify(client, token["secret"])["code"] == code


def test_rotate_without_grace(client: TestClient) -> None:
    token = issue(client)
    rotated = client.post(f"{BASE}/{token['id']}/rotate", headers=ROOT_HEADERS)
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["id"] == token["id"] and new["secret"] != token["secret"]
    assert new["secret_hint"] != token["secret_hint"]
    assert verify(client, token["secret"])["code"] == "NOT_FOUND"
    assert verify(client, new["secret"])["code"] == "VALID"


def test_rotate_with_grace_keeps_old_secret_until_it_retires(client: TestClient) -> None:
    token = issue(client)
    first = client.post(
        f"{BASE}/{token['id']}/rotate", json={"grace_seconds": 1}, headers=ROOT_HEADERS
    ).json()
    assert verify(client, token["secret"])["code"] == "VALID"
    assert verify(client, first["secret"])["code"] == "VALID"
    time.sleep(1.1)
    assert verify(client, token["secret"])["code"] == "NOT_FOUND"
    assert verify(client, first["secret"])["code"] == "VALID"


def test_rotate_grace_bounds(client: TestClient) -> None:
    token = issue(client)
    for grace in (-1, 10**9):
        answer = client.post(
            f"{BASE}/{token['id']}/rotate", json={"grace_seconds": grace}, headers=ROOT_HEADERS
        )
        assert answer.status_code == 400


def test_delete(client: TestClient) -> None:
    token = issue(client)
    assert client.delete(f"{BASE}/{token['id']}", headers=ROOT_HEADERS).status_code == 204
    assert client.get(f"{BASE}/{token['id']}", headers=ROOT_HEADERS).status_code == 404
    assert client.delete(f"{BASE}/{token['id']}", headers=ROOT_HEADERS).status_code == 404
    assert verify(client, token["secret"])["code"] == "NOT_FOUND"


def test_reveal_recoverable_only(client: TestClient) -> None:
    kept = issue(client, recoverable=True)
    shown = client.get(f"{BASE}/{kept['id']}/secret", headers=ROOT_HEADERS)
    assert shown.status_code == 200 and shown.json()["secret"] == kept["secret"]
    rotated = client.post(f"{BASE}/{kept['id']}/rotate", headers=ROOT_HEADERS).json()
    again = client.get(f"{BASE}/{kept['id']}/secret", headers=ROOT_HEADERS).json()
    assert again["secret"] == rotated["secret"]

    once = issue(client)
    refused = client.get(f"{BASE}/{once['id']}/secret", headers=ROOT_HEADERS)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "NOT_RECOVERABLE"


def test_list_never_contains_a_secret(client: TestClient) -> None:
    secrets = [issue(client, recoverable=True, name=f"t{i}")["secret"] for i in range(3)]
    text = client.get(BASE, headers=ROOT_HEADERS).text
    assert all(secret not in text for secret in secrets)
