"""Webhooks through the native API of an app whose lifespan runs the dispatcher: signed
deliveries (verified with ``standardwebhooks``) to a real receiver on 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.helpers import ROOT_HEADERS, bearer, issue, manager
from tests.lifecycle.receiver import Receiver, verified
from tokenward.settings import Settings
from tokenward.store.engine import make_engine

HOOKS = "/v1/tenants/default/webhooks"
ALL_TOKEN_EVENTS = [
    "token.created",
    "token.updated",
    "token.enabled",
    "token.disabled",
    "token.rotated",
    "token.deleted",
]


def register(
    client: TestClient, url: str, events: list[str] | None = None, tenant: str = "default"
) -> dict[str, Any]:
    response = client.post(
        f"/v1/tenants/{tenant}/webhooks",
        json={"url": url, "events": events or ALL_TOKEN_EVENTS, "description": "ci"},
        headers=ROOT_HEADERS,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def settled(client: TestClient, hook_id: int) -> dict[str, Any]:
    """The one delivery to the webhook, once the dispatcher has recorded its attempt (the
    receiver has it a moment before)."""
    deadline = time.monotonic() + 10
    while True:
        answer = client.get(f"{HOOKS}/{hook_id}/deliveries", headers=ROOT_HEADERS).json()
        [delivery] = answer["items"]
        if delivery["attempts"] or time.monotonic() > deadline:
            return dict(delivery)
        time.sleep(0.05)


def test_every_token_change_is_delivered_signed(client: TestClient, receiver: Receiver) -> None:
    hook = register(client, receiver.url)
    assert hook["secret"].startswith("whsec_")
    token = issue(client, name="watched", scopes=["read"])
    tid = token["id"]
    client.patch(
        f"/v1/tenants/default/tokens/{tid}", json={"description": "x"}, headers=ROOT_HEADERS
    )
    client.post(f"/v1/tenants/default/tokens/{tid}/disable", headers=ROOT_HEADERS)
    client.post(f"/v1/tenants/default/tokens/{tid}/enable", headers=ROOT_HEADERS)
    rotated = client.post(
        f"/v1/tenants/default/tokens/{tid}/rotate", json={}, headers=ROOT_HEADERS
    ).json()
    client.delete(f"/v1/tenants/default/tokens/{tid}", headers=ROOT_HEADERS)

    seen = receiver.wait_for(lambda got: len(got) >= 6)
    payloads = [verified(hook["secret"], item) for item in seen]
    # Sent concurrently: in any order (the payload's timestamp orders them).
    assert sorted(p["type"] for p in payloads) == sorted(ALL_TOKEN_EVENTS)
    by_type = {p["type"]: p for p in payloads}
    for p in payloads:
        assert p["data"]["tenant"] == "default"
        assert p["data"]["token"]["id"] == tid
        assert p["data"]["token"]["name"] == "watched"
    assert by_type["token.created"]["data"]["token"]["scopes"] == ["read"]
    assert by_type["token.disabled"]["data"]["token"]["active"] is False
    assert by_type["token.enabled"]["data"]["token"]["active"] is True
    # Never a secret: neither the token's (first or rotated) nor the webhook's own.
    for item in seen:
        for secret in (token["secret"], rotated["secret"], hook["secret"]):
            assert secret not in item.body
            assert secret not in str(item.headers)
    assert len({item.id for item in seen}) == 6
    assert receiver.received[0].headers["content-type"] == "application/json"


def test_a_wrong_secret_does_not_verify(client: TestClient, receiver: Receiver) -> None:
    register(client, receiver.url)
    other = register(client, receiver.url + "?other")
    issue(client)
    seen = receiver.wait_for(lambda got: len(got) >= 2)
    mine = next(item for item in seen if "other" not in item.path)
    try:
        verified(other["secret"], mine)
    except Exception as exc:  # the library's own error
        assert type(exc).__name__ == "WebhookVerificationError"
    else:
        raise AssertionError("a signature verified under another secret")


def test_only_subscribed_events_and_only_own_tenant(client: TestClient, receiver: Receiver) -> None:
    client.post("/v1/tenants", json={"name": "acme"}, headers=ROOT_HEADERS)
    register(client, receiver.url, ["token.deleted"])
    other = Receiver()
    try:
        register(client, other.url, ["token.created"], tenant="acme")
        token = issue(client)
        issue(client, "acme", name="theirs")
        client.delete(f"/v1/tenants/default/tokens/{token['id']}", headers=ROOT_HEADERS)
        assert [r.payload["type"] for r in receiver.wait_for(lambda got: len(got) >= 1)] == [
            "token.deleted"
        ]
        got = other.wait_for(lambda got: len(got) >= 1)
        assert [(r.payload["type"], r.payload["data"]["tenant"]) for r in got] == [
            ("token.created", "acme")
        ]
    finally:
        other.close()


def test_the_secret_is_shown_once_and_sealed_at_rest(
    client: TestClient, receiver: Receiver, settings: Settings
) -> None:
    hook = register(client, receiver.url)
    listed = client.get(HOOKS, headers=ROOT_HEADERS).json()["items"]
    one = client.get(f"{HOOKS}/{hook['id']}", headers=ROOT_HEADERS).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    for shown in (listed[0], one):
        assert "secret" not in shown
        assert hook["secret"] not in str(shown)
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM webhooks")).one()
    engine.dispose()
    raw = hook["secret"].removeprefix("whsec_")
    assert hook["secret"] not in str(tuple(row))
    assert raw.encode() not in bytes(row.sealed_secret)


def test_admins_and_root_only(client: TestClient, receiver: Receiver) -> None:
    hook = register(client, receiver.url)
    for role in ("viewer", "editor"):
        caller = bearer(manager(client, role=role)["secret"])
        assert client.get(HOOKS, headers=caller).status_code == 403
        answer = client.post(
            HOOKS, json={"url": receiver.url, "events": ["token.created"]}, headers=caller
        )
        assert answer.status_code == 403
    admin = bearer(manager(client, role="admin")["secret"])
    assert client.get(f"{HOOKS}/{hook['id']}", headers=admin).status_code == 200
    client.post("/v1/tenants", json={"name": "acme"}, headers=ROOT_HEADERS)
    stranger = bearer(manager(client, "acme", role="admin")["secret"])
    # Another tenant's webhook reads as one that does not exist.
    assert client.get(f"{HOOKS}/{hook['id']}", headers=stranger).status_code == 404
    assert (
        client.get(f"/v1/tenants/acme/webhooks/{hook['id']}", headers=stranger).status_code == 404
    )
    assert client.get(HOOKS, headers=stranger).status_code == 404


def test_bad_input_is_a_clear_4xx(client: TestClient) -> None:
    cases = [
        ({"url": "ftp://example.com/x", "events": ["token.created"]}, 400),
        ({"url": "http://user:pw@example.com/x", "events": ["token.created"]}, 400),
        ({"url": "not a url", "events": ["token.created"]}, 400),
        ({"url": "https://example.com/x", "events": []}, 400),
        ({"url": "https://example.com/x", "events": ["token.nope"]}, 422),
        ({"url": "https://example.com/x"}, 422),
    ]
    for body, status in cases:
        answer = client.post(HOOKS, json=body, headers=ROOT_HEADERS)
        assert answer.status_code == status, (body, answer.text)
        assert "error" in answer.json()
    assert client.get(f"{HOOKS}/99", headers=ROOT_HEADERS).status_code == 404


def test_patch_delete_deliveries_and_retry(client: TestClient, receiver: Receiver) -> None:
    hook = register(client, receiver.url)
    issue(client)
    first = receiver.wait_for(lambda got: len(got) >= 1)[0]
    delivery = settled(client, hook["id"])
    assert delivery["status"] == "delivered"
    assert delivery["event_id"] == first.id
    assert delivery["event_type"] == "token.created"
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["duration_ms"] >= 0

    retried = client.post(
        f"{HOOKS}/{hook['id']}/deliveries/{delivery['id']}/retry", headers=ROOT_HEADERS
    )
    assert retried.status_code == 200, retried.text
    again = receiver.wait_for(lambda got: len(got) >= 2)[1]
    assert again.id == first.id and again.body == first.body  # the same event, the same id
    verified(hook["secret"], again)

    changed = client.patch(
        f"{HOOKS}/{hook['id']}",
        json={"events": ["token.deleted"], "active": False},
        headers=ROOT_HEADERS,
    ).json()
    assert changed["events"] == ["token.deleted"] and changed["active"] is False
    assert client.delete(f"{HOOKS}/{hook['id']}", headers=ROOT_HEADERS).status_code == 204
    assert client.get(f"{HOOKS}/{hook['id']}", headers=ROOT_HEADERS).status_code == 404
    audit = client.get("/v1/audit", headers=ROOT_HEADERS).json()["items"]
    actions = {entry["action"] for entry in audit}
    assert {"webhook.create", "webhook.retry", "webhook.update", "webhook.delete"} <= actions


def test_deliveries_come_in_pages_newest_first(client: TestClient, receiver: Receiver) -> None:
    hook = register(client, receiver.url, events=["token.created"])
    for _ in range(3):
        issue(client)
    receiver.wait_for(lambda got: len(got) >= 3)
    url = f"{HOOKS}/{hook['id']}/deliveries"
    first = client.get(url, params={"limit": 2}, headers=ROOT_HEADERS).json()
    second = client.get(url, params={"limit": 2, "page": 1}, headers=ROOT_HEADERS).json()
    assert (first["total"], first["page"], first["limit"]) == (3, 0, 2)
    assert (second["total"], second["page"], len(second["items"])) == (3, 1, 1)
    ids = [d["id"] for d in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
    assert client.get(url, params={"page": 5}, headers=ROOT_HEADERS).json()["items"] == []
    for bad in ({"page": -1}, {"limit": 0}, {"limit": 101}):
        assert client.get(url, params=bad, headers=ROOT_HEADERS).status_code == 422


def test_a_payloads_token_is_the_token_as_the_api_shows_it(
    client: TestClient, receiver: Receiver
) -> None:
    hook = register(client, receiver.url, events=["token.created", "token.updated"])
    token = issue(
        client,
        name="shown alike",
        description="every field set",
        scopes=["read"],
        audience=["billing"],
        resources=["invoices/*"],
        expires_at="2031-01-02T03:04:05.678Z",
        recoverable=True,
        metadata={"team": "a", "n": 1},
        rate_limits=[{"name": "per-minute", "limit": 60, "window_seconds": 60}],
        credits={"remaining": 5, "refill": {"amount": 5, "interval": "daily"}},
        ip_allowlist=["10.0.0.0/8"],
    )
    changed = client.patch(
        f"/v1/tenants/default/tokens/{token['id']}",
        json={"description": "changed"},
        headers=ROOT_HEADERS,
    )
    assert changed.status_code == 200, changed.text
    shown = client.get(f"/v1/tenants/default/tokens/{token['id']}", headers=ROOT_HEADERS).json()

    got = receiver.wait_for(lambda got: len(got) >= 2)
    by_type = {p["type"]: p for p in (verified(hook["secret"], item) for item in got)}
    # The API's answer to the change and to a read alike: every field, in the same form.
    assert by_type["token.updated"]["data"]["token"] == shown == changed.json()
    created = {key: value for key, value in token.items() if key != "secret"}
    assert by_type["token.created"]["data"]["token"] == created
