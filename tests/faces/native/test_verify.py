"""POST /v1/verify: every code, last-use times, and the setting that requires a credential."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, ROOT_TOKEN, bearer, issue, manager
from tokenward.app import create_app
from tokenward.domain import secrets
from tokenward.settings import Settings

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def code_of(client: TestClient, **body: object) -> str:
    answer = client.post("/v1/verify", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["code"])


def test_every_code(client: TestClient) -> None:
    token = issue(
        client, audience=["billing"], scopes=["read", "write"], resources=["b1"], restricted=True
    )
    secret = token["secret"]
    assert code_of(client, token=secret) == "VALID"
    assert (
        code_of(client, token=secret, audience="billing", scopes=["read"], resource="b1") == "VALID"
    )
    assert code_of(client, token=secret, audience="shop") == "AUDIENCE_MISMATCH"
    assert code_of(client, token=secret, scopes=["admin"]) == "INSUFFICIENT_SCOPE"
    assert code_of(client, token=secret, resource="b2") == "RESOURCE_DENIED"
    assert code_of(client, token="not-a-token") == "MALFORMED"
    assert code_of(client, token=secret[:-1] + ("A" if secret[-1] != "A" else "B")) == "MALFORMED"
    assert code_of(client, token=secrets.generate()) == "NOT_FOUND"
    assert code_of(client, token="x" * 100_00) == "MALFORMED"
    client.post(f"/v1/tenants/default/tokens/{token['id']}/disable", headers=ROOT_HEADERS)
    assert code_of(client, token=secret) == "DISABLED"


def test_expired(client: TestClient) -> None:
    token = issue(client, ttl_seconds=1)
    import time

    time.sleep(1.05)
    assert code_of(client, token=token["secret"]) == "EXPIRED"


def test_answer_carries_metadata_never_the_secret(client: TestClient) -> None:
    token = issue(client, name="svc", recoverable=True, scopes=["read"])
    body = client.post("/v1/verify", json={"token": token["secret"]}).json()
    assert body["valid"] is True
    assert body["token"]["name"] == "svc" and body["token"]["scopes"] == ["read"]
    assert token["secret"] not in str(body)
    unknown = client.post("/v1/verify", json={"token": secrets.generate()}).json()
    assert unknown == {
        "valid": False,
        "code": "NOT_FOUND",
        "token": None,
        "limits": None,
        "retry_after_ms": None,
    }


def test_root_credential_is_not_a_token(client: TestClient) -> None:
    assert code_of(client, token=ROOT_TOKEN) == "MALFORMED"


def test_valid_verification_records_last_use(client: TestClient) -> None:
    token = issue(client)
    assert token["last_used_at"] is None
    code_of(client, token=token["secret"], audience="elsewhere")  # refused: not a use
    verifier = client.app_state["engine"]
    verifier.flush_usage()  # usage counts every verification, refused ones too
    assert verifier.flush() == 0
    code_of(client, token=token["secret"])
    verifier.flush_usage()
    assert verifier.flush() == 1
    shown = client.get(f"/v1/tenants/default/tokens/{token['id']}", headers=ROOT_HEADERS).json()
    assert shown["last_used_at"] is not None


def test_last_use_flushed_at_shutdown(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        token = issue(client)
        code_of(client, token=token["secret"])
    with TestClient(create_app(settings)) as client:
        shown = client.get(f"/v1/tenants/default/tokens/{token['id']}", headers=ROOT_HEADERS).json()
        assert shown["last_used_at"] is not None


def test_bad_bodies(client: TestClient) -> None:
    assert client.post("/v1/verify", json={}).status_code == 422
    assert client.post("/v1/verify", json={"token": 5}).status_code == 422
    assert client.post("/v1/verify", json={"token": "a", "scopes": "read"}).status_code == 422
    bad = client.post("/v1/verify", content=b"{", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "MALFORMED_JSON"


@pytest.fixture
def guarded(settings: Settings) -> Iterator[TestClient]:
    strict = settings.model_copy(update={"verify_requires_auth": True})
    with TestClient(create_app(strict)) as client:
        yield client


def test_setting_requires_a_credential(guarded: TestClient) -> None:
    token = issue(guarded)
    refused = guarded.post("/v1/verify", json={"token": token["secret"]})
    assert refused.status_code == 401
    caller = bearer(manager(guarded)["secret"])
    allowed = guarded.post("/v1/verify", json={"token": token["secret"]}, headers=caller)
    assert allowed.status_code == 200 and allowed.json()["code"] == "VALID"
    with_root = guarded.post("/v1/verify", json={"token": token["secret"]}, headers=ROOT_HEADERS)
    assert with_root.json()["valid"] is True
