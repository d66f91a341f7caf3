"""RFC 7662 introspection and RFC 7009 revocation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.helpers import ROOT_HEADERS, bearer, issue, manager, tenant
from tokenward.domain import secrets
from tokenward.settings import Settings
from tokenward.store.engine import make_engine
from tokenward.store.tables import token_secrets

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def introspect(client: TestClient, token: str, headers: dict[str, str] = ROOT_HEADERS) -> dict:
    answer = client.post("/oauth2/introspect", data={"token": token}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict = answer.json()
    return body


def test_active_token_claims(client: TestClient) -> None:
    token = issue(
        client,
        type="user",
        principal="u-9",
        user="alice",
        scopes=["read", "write"],
        audience=["billing", "shop"],
        ttl_seconds=600,
    )
    claims = introspect(client, token["secret"])
    assert claims["active"] is True
    assert claims["scope"] == "read write"
    assert claims["client_id"] == str(token["id"])
    assert claims["username"] == "alice" and claims["sub"] == "u-9"
    assert claims["token_type"] == "Bearer" and claims["iss"] == "tokenward"
    assert claims["aud"] == ["billing", "shop"]
    assert claims["exp"] - claims["iat"] in (599, 600, 601)
    permanent = introspect(client, issue(client)["secret"])
    assert "exp" not in permanent and permanent["active"] is True


def test_anything_not_valid_is_only_inactive(client: TestClient) -> None:
    disabled = issue(client, active=False)
    for secret in ["garbage", secrets.generate(), disabled["secret"]]:
        assert introspect(client, secret) == {"active": False}


def test_another_tenants_token_is_inactive(client: TestClient) -> None:
    tenant(client, "acme")
    theirs = issue(client, "default")
    acme = bearer(manager(client, "acme")["secret"])
    assert introspect(client, theirs["secret"], acme) == {"active": False}
    assert introspect(client, theirs["secret"])["active"] is True


def test_callers_authenticate(client: TestClient) -> None:
    token = issue(client)
    for path in ("/oauth2/introspect", "/oauth2/revoke"):
        answer = client.post(path, data={"token": token["secret"]})
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"
        missing = client.post(path, data={}, headers=ROOT_HEADERS)
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_revoke(client: TestClient) -> None:
    token = issue(client)
    answer = client.post(
        "/oauth2/revoke",
        data={"token": token["secret"], "token_type_hint": "access_token"},
        headers=ROOT_HEADERS,
    )
    assert answer.status_code == 200
    assert introspect(client, token["secret"]) == {"active": False}
    verdict = client.post("/v1/verify", json={"token": token["secret"]}).json()
    assert verdict["code"] == "DISABLED"
    for unknown in [secrets.generate(), "nonsense", token["secret"]]:
        again = client.post("/oauth2/revoke", data={"token": unknown}, headers=ROOT_HEADERS)
        assert again.status_code == 200


def test_revoke_is_tenant_and_role_bound(client: TestClient) -> None:
    tenant(client, "acme")
    theirs = issue(client, "default")
    acme_admin = bearer(manager(client, "acme", role="admin")["secret"])
    answer = client.post("/oauth2/revoke", data={"token": theirs["secret"]}, headers=acme_admin)
    assert answer.status_code == 200
    assert introspect(client, theirs["secret"])["active"] is True

    viewer = bearer(manager(client, "default")["secret"])
    refused = client.post("/oauth2/revoke", data={"token": theirs["secret"]}, headers=viewer)
    assert refused.status_code == 403
    assert introspect(client, theirs["secret"])["active"] is True


def _end_grace(settings: Settings, secret: str) -> None:
    """Moves a rotated-out secret's retirement into the past, as time passing would."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(token_secrets)
                .where(token_secrets.c.secret_hash == secrets.hash_secret(secret))
                .values(retires_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
    finally:
        engine.dispose()


def test_revoke_with_a_retired_secret_leaves_the_live_one(
    client: TestClient, settings: Settings
) -> None:
    token = issue(client)
    rotated = client.post(
        f"/v1/tenants/default/tokens/{token['id']}/rotate",
        json={"grace_seconds": 3600},
        headers=ROOT_HEADERS,
    ).json()
    _end_grace(settings, token["secret"])
    answer = client.post("/oauth2/revoke", data={"token": token["secret"]}, headers=ROOT_HEADERS)
    assert answer.status_code == 200
    assert introspect(client, rotated["secret"])["active"] is True


def test_revoke_with_a_secret_in_its_grace_disables_the_token(client: TestClient) -> None:
    token = issue(client)
    rotated = client.post(
        f"/v1/tenants/default/tokens/{token['id']}/rotate",
        json={"grace_seconds": 3600},
        headers=ROOT_HEADERS,
    ).json()
    answer = client.post("/oauth2/revoke", data={"token": token["secret"]}, headers=ROOT_HEADERS)
    assert answer.status_code == 200
    assert introspect(client, rotated["secret"]) == {"active": False}
