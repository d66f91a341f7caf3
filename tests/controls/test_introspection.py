"""RFC 7662 introspection of tokens with controls: ``active: false`` and nothing more for each
of the three new refusals, as for any other (no oracle of why)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue


def _introspect(client: TestClient, secret: str) -> dict[str, Any]:
    answer = client.post("/oauth2/introspect", data={"token": secret}, headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_introspection_is_inactive_for_ip_denied_usage_exceeded_and_rate_limited(
    client: TestClient,
) -> None:
    # Introspection has no client address: a token with an allowlist is never active there.
    fenced = issue(client, name="fenced", ip_allowlist=["10.0.0.0/8"])
    assert _introspect(client, fenced["secret"]) == {"active": False}
    inside = {"token": fenced["secret"], "client_ip": "10.1.2.3"}
    assert client.post("/v1/verify", json=inside).json()["code"] == "VALID"

    # Introspection spends one credit, as documented (docs/api.md): 2 credits, 2 active.
    spent = issue(client, name="spent", credits={"remaining": 2, "refill": None})
    assert [_introspect(client, spent["secret"])["active"] for _ in range(2)] == [True, True]
    assert _introspect(client, spent["secret"]) == {"active": False}
    verified = client.post("/v1/verify", json={"token": spent["secret"], "cost": 0}).json()
    assert verified["code"] == "VALID"  # cost 0 still passes: it was the credits
    assert verified["limits"]["credits_remaining"] == 0

    limited = issue(
        client, name="limited", rate_limits=[{"name": "hour", "limit": 2, "window_seconds": 3600}]
    )
    assert [_introspect(client, limited["secret"])["active"] for _ in range(2)] == [True, True]
    assert _introspect(client, limited["secret"]) == {"active": False}
    verified = client.post("/v1/verify", json={"token": limited["secret"]}).json()
    assert verified["code"] == "RATE_LIMITED"
