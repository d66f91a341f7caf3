"""Devo tokens are ordinary tokenward tokens: they verify, and the native API sees them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.faces.devo.support import (
    ACCOUNT,
    account,
    create,
    get,
    listed,
    ok,
    parse_date,
    put,
    token_path,
)
from tests.helpers import ROOT_HEADERS, issue


def verify(client: TestClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/v1/verify", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def native(client: TestClient, token_id: int) -> dict[str, Any]:
    answer = client.get(f"/v1/tenants/{ACCOUNT}/tokens/{token_id}", headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_devo_token_verifies(client: TestClient) -> None:
    account(client)
    created = create(client, audience="apiv2 aggregations", scopes="table://*.** level://admin")
    secret = created["token"]
    result = verify(client, token=secret, audience="aggregations", scopes=["level://admin"])
    assert result["valid"] is True and result["code"] == "VALID"
    assert result["token"]["id"] == created["id"]
    assert verify(client, token=secret, audience="alerts")["code"] == "AUDIENCE_MISMATCH"
    assert verify(client, token=secret, scopes=["other"])["code"] == "INSUFFICIENT_SCOPE"


def test_the_native_api_sees_the_same_token(client: TestClient) -> None:
    account(client)
    created = create(
        client,
        name="reporting",
        owner="ops@devo.com",
        user="analyst@devo.com",
        audience="apiv2 alerts",
        scopes="a b",
        expiresInSeconds=7200,
    )
    seen = native(client, created["id"])
    assert seen["tenant"] == created["account"] == ACCOUNT
    assert seen["name"] == "reporting"
    assert seen["owner"] == "ops@devo.com" and seen["user"] == "analyst@devo.com"
    assert seen["audience"] == ["apiv2", "alerts"] and seen["scopes"] == ["a", "b"]
    assert seen["active"] is True and seen["recoverable"] is True
    assert seen["role"] == "viewer" and seen["type"] == "global"
    assert datetime.fromisoformat(seen["created_at"]) == parse_date(created["created"])
    assert datetime.fromisoformat(seen["updated_at"]) == parse_date(created["updated"])
    assert datetime.fromisoformat(seen["expires_at"]) == parse_date(created["expiration"])
    assert seen["secret_hint"].endswith(created["token"][-5:])
    # The native reveal opens the same sealed secret.
    revealed = client.get(
        f"/v1/tenants/{ACCOUNT}/tokens/{created['id']}/secret", headers=ROOT_HEADERS
    )
    assert revealed.json()["secret"] == created["token"]
    permanent = create(client, expiresInSeconds=-1)
    assert native(client, permanent["id"])["expires_at"] is None


def test_disabling_through_devo_stops_verification(client: TestClient) -> None:
    account(client)
    created = create(client)
    secret = created["token"]
    assert verify(client, token=secret)["code"] == "VALID"
    ok(put(client, created["id"], "disable"))
    assert verify(client, token=secret)["code"] == "DISABLED"
    assert native(client, created["id"])["active"] is False
    ok(put(client, created["id"], "enable"))
    assert verify(client, token=secret)["code"] == "VALID"
    ok(put(client, created["id"], "rename", json={"value": "renamed"}))
    assert native(client, created["id"])["name"] == "renamed"
    ok(client.delete(token_path(created["id"]), headers=ROOT_HEADERS))
    assert verify(client, token=secret)["code"] == "NOT_FOUND"


def test_tokens_of_other_faces_are_listed(client: TestClient) -> None:
    account(client)
    made_natively = issue(
        client, ACCOUNT, name="native", audience=["x", "y"], scopes=["s"], ttl_seconds=600
    )
    devo = create(client, name="devo")
    found = listed(client)
    assert [t["name"] for t in found] == ["native", "devo"]
    first = found[0]
    assert first["id"] == made_natively["id"] and first["audience"] == "x y"
    assert first["scope"] == "s" and first["expires_in_seconds"] == 600
    assert get(client, devo["id"])["token"] == devo["token"]
    # A change through the native API shows here.
    client.post(f"/v1/tenants/{ACCOUNT}/tokens/{devo['id']}/disable", headers=ROOT_HEADERS)
    assert get(client, devo["id"])["active"] is False
