"""The FastAPI example app, driven in-process, protected by a real ``tokenward serve``."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.e2e.server import Server
from tests.helpers import free_port
from tests.integrations.support import (
    Issue,
    bearer,
    challenge_params,
    wait_until_expired,
)
from tokenward.client import Client
from tokenward.integrations import AsyncVerifier, MissingConfiguration
from tokenward.integrations import fastapi as integration


def build(server_url: str, cache_ttl: float = 5.0, credential: str | None = None) -> FastAPI:
    import fastapi_app

    return fastapi_app.create_app(AsyncVerifier(server_url, credential, cache_ttl=cache_ttl))


@pytest.fixture
def http(server: Server) -> Iterator[TestClient]:
    with TestClient(build(server.url)) as client:
        yield client


def test_a_valid_token_reaches_the_handler_with_its_identity(
    http: TestClient, issue: Issue
) -> None:
    token = issue(type="user", principal="u-42", user="alice", role="editor")
    answer = http.get("/whoami", headers=bearer(token.secret))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "tenant": "default",
        "principal": "u-42",
        "user": "alice",
        "role": "editor",
        "scopes": ["invoices:read"],
        "token_id": token.id,
    }
    assert http.get("/invoices", headers=bearer(token.secret)).status_code == 200


def test_a_missing_token_is_401_without_an_error_code(http: TestClient) -> None:
    for headers in ({}, {"Authorization": ""}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        answer = http.get("/invoices", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_malformed_header_is_400_invalid_request(http: TestClient) -> None:
    for value in ("Bearer", "Bearer two parts"):
        answer = http.get("/invoices", headers={"Authorization": value})
        assert answer.status_code == 400, value
        assert challenge_params(answer.headers["WWW-Authenticate"])["error"] == "invalid_request"


def test_a_malformed_token_is_401_invalid_token(http: TestClient, issue: Issue) -> None:
    secret = issue().secret
    typo = secret[:-1] + ("x" if secret[-1] != "x" else "y")  # a wrong checksum, always
    for secret in ("not-a-token", typo):
        answer = http.get("/invoices", headers=bearer(secret))
        assert answer.status_code == 401
        params = challenge_params(answer.headers["WWW-Authenticate"])
        assert params == {
            "error": "invalid_token",
            "error_description": "The token is malformed",
        }


def test_an_expired_token_is_401(http: TestClient, issue: Issue) -> None:
    token = issue(ttl_seconds=1)
    wait_until_expired(token)
    answer = http.get("/invoices", headers=bearer(token.secret))
    assert answer.status_code == 401
    params = challenge_params(answer.headers["WWW-Authenticate"])
    assert params["error"] == "invalid_token" and "expired" in params["error_description"]


def test_a_disabled_token_is_401(http: TestClient, issue: Issue, root: Client) -> None:
    token = issue(active=False)
    answer = http.get("/invoices", headers=bearer(token.secret))
    assert answer.status_code == 401
    assert "disabled" in challenge_params(answer.headers["WWW-Authenticate"])["error_description"]
    # Refusals are not cached: enabled again, it passes at once.
    root.enable_token("default", token.id)
    assert http.get("/invoices", headers=bearer(token.secret)).status_code == 200


def test_a_token_for_another_audience_is_401(http: TestClient, issue: Issue) -> None:
    for audience in (["crm"], []):
        token = issue(audience=audience)
        answer = http.get("/whoami", headers=bearer(token.secret))
        assert answer.status_code == 401
        params = challenge_params(answer.headers["WWW-Authenticate"])
        assert params["error"] == "invalid_token"
        assert params["error_description"] == "The token is not for this service"


def test_a_missing_scope_is_403_insufficient_scope(http: TestClient, issue: Issue) -> None:
    token = issue(scopes=["invoices:read"])
    answer = http.post("/invoices", headers=bearer(token.secret))
    assert answer.status_code == 403
    params = challenge_params(answer.headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_scope" and params["scope"] == "invoices:write"
    writer = issue(scopes=["invoices:read", "invoices:write"], user="bob")
    created = http.post("/invoices", headers=bearer(writer.secret))
    assert created.status_code == 201 and created.json()["created_by"] == "bob"


def test_a_restricted_token_passes_only_for_its_resources(http: TestClient, issue: Issue) -> None:
    token = issue(restricted=True, resources=["b1"])
    assert http.get("/brokers/b1", headers=bearer(token.secret)).status_code == 200
    denied = http.get("/brokers/b2", headers=bearer(token.secret))
    assert denied.status_code == 403
    assert challenge_params(denied.headers["WWW-Authenticate"])["error"] == "insufficient_scope"


def test_revocation_takes_effect_within_the_cache_bound(
    server: Server, issue: Issue, root: Client
) -> None:
    ttl = 0.5
    with TestClient(build(server.url, cache_ttl=ttl)) as http:
        token = issue()
        assert http.get("/invoices", headers=bearer(token.secret)).status_code == 200
        cached_at = time.monotonic()
        root.disable_token("default", token.id)
        answer = http.get("/invoices", headers=bearer(token.secret))
        if time.monotonic() - cached_at < ttl * 0.8:
            # Within the bound the cached positive answer may still let it through: it does.
            assert answer.status_code == 200
        while http.get("/invoices", headers=bearer(token.secret)).status_code == 200:
            assert time.monotonic() - cached_at <= ttl + 0.25, "passed beyond the cache bound"
            time.sleep(0.02)
        assert time.monotonic() - cached_at >= ttl * 0.8  # it was the cache, not chance
        # Deleted outright, a token is refused alike once the bound has passed.
        other = issue()
        assert http.get("/invoices", headers=bearer(other.secret)).status_code == 200
        root.delete_token("default", other.id)
        time.sleep(ttl)
        refused = http.get("/invoices", headers=bearer(other.secret))
        assert refused.status_code == 401
        assert "revoked" in refused.headers["WWW-Authenticate"]


def test_an_unreachable_tokenward_is_503_not_401(issue: Issue) -> None:
    token = issue()
    with TestClient(build(f"http://127.0.0.1:{free_port()}")) as http:
        answer = http.get("/invoices", headers=bearer(token.secret))
    assert answer.status_code == 503 and "WWW-Authenticate" not in answer.headers


def test_the_environment_configures_the_default_verifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that requires a credential for verify; the app takes both from the env."""
    admin = "verify-auth-root-credential-0123456789abcdef"
    locked = Server(
        tmp_path / "locked",
        {"TOKENWARD_ADMIN_TOKEN": admin, "TOKENWARD_VERIFY_REQUIRES_AUTH": "true"},
    )
    try:
        with Client(locked.url, admin) as tw:
            token = tw.create_token(name="t", audience=["billing"], scopes=["invoices:read"])
            checker = tw.create_token(name="checker", audience=["tokenward"])
        import fastapi_app

        monkeypatch.setenv("TOKENWARD_URL", locked.url)
        monkeypatch.delenv("TOKENWARD_TOKEN", raising=False)
        integration.set_default_verifier(None)
        with TestClient(fastapi_app.create_app()) as http:
            # Without a credential tokenward refuses to answer: the app says 503, not 401.
            assert http.get("/invoices", headers=bearer(token.secret)).status_code == 503
        monkeypatch.setenv("TOKENWARD_TOKEN", checker.secret)
        integration.set_default_verifier(None)
        with TestClient(fastapi_app.create_app()) as http:
            assert http.get("/invoices", headers=bearer(token.secret)).status_code == 200
    finally:
        integration.set_default_verifier(None)
        locked.stop()


def test_the_app_s_openapi_declares_a_bearer_scheme_for_the_protected_routes() -> None:
    """So that the app's own /docs has an "Authorize" button."""
    spec = build(f"http://127.0.0.1:{free_port()}").openapi()
    assert spec["components"]["securitySchemes"] == {
        "tokenward": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token issued by tokenward",
        }
    }
    for path in ("/whoami", "/invoices", "/brokers/{broker}"):
        for operation in spec["paths"][path].values():
            assert operation["security"] == [{"tokenward": []}], path


def test_without_tokenward_url_the_app_fails_as_it_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fastapi_app

    monkeypatch.delenv("TOKENWARD_URL", raising=False)
    integration.set_default_verifier(None)
    with pytest.raises(MissingConfiguration, match="TOKENWARD_URL"):
        fastapi_app.create_app()
    with pytest.raises(MissingConfiguration, match="TOKENWARD_URL"):
        integration.require_token(audience="billing")
    # A verifier given, or made default, says where tokenward is.
    given = AsyncVerifier("http://127.0.0.1:8080")
    integration.require_token(verifier=given)
    integration.set_default_verifier(given)
    try:
        integration.require_token()
    finally:
        integration.set_default_verifier(None)
    monkeypatch.setenv("TOKENWARD_URL", "http://127.0.0.1:8080")
    fastapi_app.create_app()


def test_a_plain_starlette_app_needs_no_fastapi() -> None:
    """The security scheme is FastAPI's; without FastAPI installed the guard still guards."""
    code = "\n".join(
        [
            "import sys",
            "sys.modules['fastapi'] = None  # as if not installed: importing it fails",
            "from tokenward.integrations import AsyncVerifier",
            "from tokenward.integrations.fastapi import require_token",
            "guard = require_token(verifier=AsyncVerifier('http://127.0.0.1:9'))",
            "assert not hasattr(guard, 'model') and type(guard).__mro__[1:] == (object,)",
        ]
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
