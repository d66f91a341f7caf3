"""Tenant policies: defaults that change nothing, enforcement on create, PATCH, enable and
rotate through the native face and a compatible one, tokens shortened when a maximum
lifetime is set (audited, announced), admins and root only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.faces.devo.support import ACCOUNT, account, post
from tests.helpers import ROOT_HEADERS, bearer, issue, manager
from tests.lifecycle.receiver import Receiver, verified

POLICY = "/v1/tenants/default/policy"
TOKENS = "/v1/tenants/default/tokens"
MAX = "max_lifetime_seconds"


def put_policy(client: TestClient, tenant: str = "default", **fields: Any) -> dict[str, Any]:
    answer = client.put(f"/v1/tenants/{tenant}/policy", json=fields, headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def refused(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "POLICY_VIOLATION"
    assert field in error["message"]


def when(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_defaults_change_nothing(client: TestClient) -> None:
    policy = client.get(POLICY, headers=ROOT_HEADERS).json()
    assert policy == {
        "max_lifetime_seconds": None,
        "require_expiry": False,
        "allowed_scopes": None,
        "allowed_audiences": None,
        "allow_recoverable": True,
        "inactivity_disable_seconds": None,
        "expiry_notice_seconds": [2592000, 604800, 86400],
        "on_reuse": "disable",
        "on_leak": "disable",
    }
    made = issue(client, recoverable=True, scopes=["any"], audience=["svc"])
    assert made["expires_at"] is None


def test_max_lifetime_on_create_patch_and_rotate(client: TestClient) -> None:
    put_policy(client, max_lifetime_seconds=3600)
    made = issue(client)
    left = when(made["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=59) < left <= timedelta(hours=1)
    within = issue(client, ttl_seconds=600)
    assert when(within["expires_at"]) < when(made["expires_at"])
    refused(
        client.post(TOKENS, json={"name": "x", "ttl_seconds": 7200}, headers=ROOT_HEADERS),
        "max_lifetime_seconds",
    )
    refused(
        client.post(TOKENS, json={"name": "x", "expires_at": None}, headers=ROOT_HEADERS),
        "max_lifetime_seconds",
    )
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    path = f"{TOKENS}/{made['id']}"
    refused(
        client.patch(path, json={"expires_at": later}, headers=ROOT_HEADERS), "max_lifetime_seconds"
    )
    refused(
        client.patch(path, json={"expires_at": None}, headers=ROOT_HEADERS), "max_lifetime_seconds"
    )
    assert client.patch(path, json={"description": "fine"}, headers=ROOT_HEADERS).status_code == 200
    assert client.post(f"{path}/rotate", json={}, headers=ROOT_HEADERS).status_code == 200


def test_setting_a_max_lifetime_shortens_longer_tokens(
    client: TestClient, receiver: Receiver
) -> None:
    hook = client.post(
        "/v1/tenants/default/webhooks",
        json={"url": receiver.url, "events": ["token.updated", "policy.updated"]},
        headers=ROOT_HEADERS,
    ).json()
    permanent = issue(client, name="forever")
    long = issue(client, name="long", ttl_seconds=30 * 86400)
    short = issue(client, name="short", ttl_seconds=60)
    put_policy(client, max_lifetime_seconds=86400)
    for token in (permanent, long):
        shown = client.get(f"{TOKENS}/{token['id']}", headers=ROOT_HEADERS).json()
        left = when(shown["expires_at"]) - datetime.now(UTC)
        assert timedelta(hours=23) < left <= timedelta(days=1)
    kept = client.get(f"{TOKENS}/{short['id']}", headers=ROOT_HEADERS).json()
    assert kept["expires_at"] == short["expires_at"]

    audit = client.get("/v1/audit", headers=ROOT_HEADERS).json()["items"]
    shortened = [e for e in audit if e["detail"].get("reason") == "policy.max_lifetime_seconds"]
    assert sorted(e["token_id"] for e in shortened) == sorted([permanent["id"], long["id"]])
    assert any(e["action"] == "policy.update" for e in audit)

    got = receiver.wait_for(lambda got: len(got) >= 3)
    payloads = [verified(hook["secret"], item) for item in got]
    assert sorted(p["type"] for p in payloads) == [
        "policy.updated",
        "token.updated",
        "token.updated",
    ]
    policy_event = next(p for p in payloads if p["type"] == "policy.updated")
    assert policy_event["data"]["policy"]["max_lifetime_seconds"] == 86400


def test_scopes_audiences_recoverable_and_expiry(client: TestClient) -> None:
    before = issue(client, scopes=["old"])
    client.post(f"{TOKENS}/{before['id']}/disable", headers=ROOT_HEADERS)
    put_policy(
        client,
        require_expiry=True,
        allowed_scopes=["read", "write"],
        allowed_audiences=["svc", "tokenward"],
        allow_recoverable=False,
    )
    ok = {"name": "ok", "ttl_seconds": 60, "scopes": ["read"], "audience": ["svc"]}
    assert client.post(TOKENS, json=ok, headers=ROOT_HEADERS).status_code == 201
    refused(client.post(TOKENS, json={"name": "p"}, headers=ROOT_HEADERS), "require_expiry")
    for field, change in (
        ("allowed_scopes", {"scopes": ["admin"]}),
        ("allowed_audiences", {"audience": ["other"]}),
        ("allow_recoverable", {"recoverable": True}),
    ):
        refused(client.post(TOKENS, json={**ok, **change}, headers=ROOT_HEADERS), field)
    # Putting a token that breaks the policy back in force is refused; narrowing never is.
    path = f"{TOKENS}/{before['id']}"
    refused(client.post(f"{path}/enable", headers=ROOT_HEADERS), "require_expiry")
    assert client.post(f"{path}/disable", headers=ROOT_HEADERS).status_code == 200


def test_every_face_refuses_in_its_own_format(client: TestClient) -> None:
    account(client)
    put_policy(client, ACCOUNT, require_expiry=True)
    answer = post(client, audience="apiv2", expiresInSeconds=-1)  # Devo's permanent token
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == 400 and "require_expiry" in error["message"]
    assert post(client, audience="apiv2").status_code == 201  # Devo's default: a day


def test_admins_and_root_only_and_bad_input(client: TestClient) -> None:
    for role in ("viewer", "editor"):
        caller = bearer(manager(client, role=role)["secret"])
        assert client.get(POLICY, headers=caller).status_code == 403
        assert client.put(POLICY, json={}, headers=caller).status_code == 403
    admin = bearer(manager(client, role="admin")["secret"])
    assert client.put(POLICY, json={"require_expiry": True}, headers=admin).status_code == 200
    assert client.get(POLICY, headers=admin).json()["require_expiry"] is True
    client.post("/v1/tenants", json={"name": "acme"}, headers=ROOT_HEADERS)
    stranger = bearer(manager(client, "acme", role="admin", ttl_seconds=600)["secret"])
    assert client.get(POLICY, headers=stranger).status_code == 404
    for body, status in (
        ({"max_lifetime_seconds": 0}, 400),
        ({"max_lifetime_seconds": -5}, 400),
        ({"expiry_notice_seconds": [0]}, 400),
        ({"on_reuse": "explode"}, 422),
        ({"unknown": 1}, 422),
        ({"allowed_scopes": "read"}, 422),
    ):
        answer = client.put(POLICY, json=body, headers=ROOT_HEADERS)
        assert answer.status_code == status, (body, answer.text)
    assert client.put("/v1/tenants/nope/policy", json={}, headers=ROOT_HEADERS).status_code == 404


def test_boomerang_cedalo_and_query_refuse_in_their_formats(client: TestClient) -> None:
    put_policy(client, require_expiry=True)  # root acts in `default` on Boomerang and Query
    client.post("/v1/tenants", json={"name": "proj"}, headers=ROOT_HEADERS)
    put_policy(client, "proj", require_expiry=True)
    boomerang = client.post(
        "/api/v2/token",
        json={"type": "global", "name": "b", "permissions": ["flow/read"]},
        headers=ROOT_HEADERS,
    )
    assert boomerang.status_code == 400, boomerang.text
    assert {"timestamp", "code", "reason", "message", "status"} <= set(boomerang.json())
    assert "require_expiry" in boomerang.json()["message"]
    cedalo = client.post("/api/projects/proj/tokens", json={"name": "c"}, headers=ROOT_HEADERS)
    assert cedalo.status_code == 400, cedalo.text
    assert cedalo.json()["status"] == 400 and "require_expiry" in cedalo.text
    query = client.post("/_/token", json={"name": "q"}, headers=ROOT_HEADERS)
    assert query.status_code == 400, query.text
    assert "require_expiry" in query.text
