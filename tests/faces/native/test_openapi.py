"""The OpenAPI document says what each operation does, what it can answer and what it needs.

The answers themselves are checked against the document by tests/fuzz/test_schema.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tokenward.app import create_app
from tokenward.settings import Settings

OWN_PATHS = ("/v1/", "/oauth2/", "/metrics", "/healthz", "/readyz")
BEARER = [{"HTTPBearer": []}]


@pytest.fixture
def backend() -> str:
    """The document reads no database: one backend is enough."""
    return "sqlite"


def document(settings: Settings, **changes: Any) -> dict[str, Any]:
    app = create_app(settings.model_copy(update=changes))
    answer = TestClient(app).get("/openapi.json")
    assert answer.status_code == 200
    spec: dict[str, Any] = answer.json()
    return spec


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, methods in spec["paths"].items()
        if path.startswith(OWN_PATHS)
        for method, operation in methods.items()
    }


def test_every_operation_has_a_summary_and_a_description(settings: Settings) -> None:
    found = operations(document(settings))
    assert len(found) >= 20
    for name, operation in found.items():
        assert operation.get("summary"), name
        assert len(operation.get("description", "")) > 20, name


def test_verification_is_open_by_default_and_needs_a_credential_when_set(
    settings: Settings,
) -> None:
    verify = operations(document(settings))["POST /v1/verify"]
    assert "security" not in verify
    locked = operations(document(settings, verify_requires_auth=True))["POST /v1/verify"]
    assert locked["security"] == BEARER


def test_metrics_need_a_credential_unless_public(settings: Settings) -> None:
    assert operations(document(settings))["GET /metrics"]["security"] == BEARER
    public = operations(document(settings, metrics_public=True))["GET /metrics"]
    assert "security" not in public


#: The token exchange's operations: the subject token is the credential, the keys, the
#: metadata and the revocation list are public (docs/offline.md).
EXCHANGE_OPERATIONS = (
    "POST /oauth2/token",
    "GET /.well-known/jwks.json",
    "GET /.well-known/oauth-authorization-server",
    "GET /oauth2/revoked",
)


def test_management_calls_need_a_credential_and_health_does_not(settings: Settings) -> None:
    for name, operation in operations(document(settings)).items():
        if name in ("GET /healthz", "GET /readyz"):
            assert "security" not in operation, name
        elif name not in ("POST /v1/verify", *EXCHANGE_OPERATIONS):
            assert operation["security"] == BEARER, name


def test_each_operation_lists_the_errors_it_can_answer(settings: Settings) -> None:
    found = operations(document(settings))
    statuses = {name: {int(s) for s in op["responses"]} for name, op in found.items()}
    for name, answers in statuses.items():
        if name.startswith("GET "):
            assert not answers & {400, 413}, f"{name}: a read has no body"
            # A read conflicts with nothing; only the reveal of a secret that was not kept.
            assert 409 not in answers or name.endswith("/secret"), name
    # Verification answers 200 for every verdict; no 403, no 404, no rate limit.
    assert statuses["POST /v1/verify"] == {200, 400, 401, 413, 422, 503}
    assert statuses["GET /healthz"] == {200}
    assert statuses["GET /readyz"] == {200, 503}
    assert 409 in statuses["POST /v1/tenants"] and 409 in statuses["DELETE /v1/tenants/{tenant}"]
    assert 409 in statuses["GET /v1/tenants/{tenant}/tokens/{token_id}/secret"]
    assert 409 not in statuses["POST /v1/tenants/{tenant}/tokens/{token_id}/enable"]
    # Every authenticated call can be refused, rate limited, and find the database away.
    for name, answers in statuses.items():
        if "security" in found[name]:
            assert {401, 429, 503} <= answers, name


def test_error_answers_name_the_face_s_own_body(settings: Settings) -> None:
    for name, operation in operations(document(settings)).items():
        for status, answer in operation["responses"].items():
            if int(status) < 400:
                continue
            schema = answer["content"]["application/json"]["schema"]["$ref"]
            expected = "OAuthError" if name.startswith("POST /oauth2/") else "ErrorBody"
            assert schema.endswith("/" + expected), f"{name} {status}: {schema}"
            assert answer["description"], f"{name} {status}"
