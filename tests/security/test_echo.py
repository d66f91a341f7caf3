"""Error answers never repeat the request's input (issue 13): a secret-looking string sent
as a tenant name, as the name of an unknown field, and as a field value, to every face, is
found in no answer's body or headers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue, tenant
from tokenward.domain import secrets as secret_format

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres

#: What the compatible faces accept as their products do: unknown fields ignored, a delete of
#: nothing answered as done, Query's ``/value`` of an unknown name, a repeated form field.
PRODUCTS_ACCEPT = {
    "boomerang field",
    "query delete field",
    "devo field",
    "cedalo field",
    "query value",
    "query delete",
    "cedalo delete",
    "oauth2 hint",
}


def _requests(secret: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, method, path, request arguments)."""
    unknown = {secret: 1}
    return [
        # A tenant name in the path.
        ("native tenant", "GET", f"/v1/tenants/{secret}", {}),
        ("native tenant delete", "DELETE", f"/v1/tenants/{secret}", {}),
        ("native tokens", "GET", f"/v1/tenants/{secret}/tokens", {}),
        ("native create", "POST", f"/v1/tenants/{secret}/tokens", {"json": {"name": "n"}}),
        ("native one", "GET", f"/v1/tenants/{secret}/tokens/1", {}),
        ("native patch", "PATCH", f"/v1/tenants/{secret}/tokens/1", {"json": {"name": "n"}}),
        ("native rotate", "POST", f"/v1/tenants/{secret}/tokens/1/rotate", {"json": {}}),
        ("devo list", "GET", f"/v2/accounts/{secret}/tokens", {}),
        ("devo create", "POST", f"/v2/accounts/{secret}/tokens", {"json": {"audience": "a"}}),
        ("devo get", "GET", f"/v2/accounts/{secret}/tokens/1", {}),
        ("cedalo list", "GET", f"/api/projects/{secret}/tokens", {}),
        ("cedalo create", "POST", f"/api/projects/{secret}/tokens", {"json": {"name": "n"}}),
        ("audit tenant", "GET", "/v1/audit", {"params": {"tenant": secret, "limit": 0}}),
        # An unknown field's name.
        (
            "native create field",
            "POST",
            "/v1/tenants/default/tokens",
            {"json": {"name": "n", **unknown}},
        ),
        ("native patch field", "PATCH", "/v1/tenants/default/tokens/1", {"json": unknown}),
        ("native tenant field", "POST", "/v1/tenants", {"json": {"name": "t", **unknown}}),
        ("native rotate field", "POST", "/v1/tenants/default/tokens/1/rotate", {"json": unknown}),
        ("verify field", "POST", "/v1/verify", {"json": {"token": "x", **unknown}}),
        (
            "verify field too",
            "POST",
            "/v1/verify",
            {"json": {"token": "x", "scopes": [], **unknown}},
        ),
        (
            "boomerang field",
            "POST",
            "/api/v2/token",
            {"json": {"type": "global", "name": "n", "permissions": ["a/read"], **unknown}},
        ),
        ("query field", "POST", "/_/token", {"json": {"name": "n", **unknown}}),
        ("query delete field", "DELETE", "/_/token", {"json": {"name": "n", **unknown}}),
        (
            "devo field",
            "POST",
            "/v2/accounts/default/tokens",
            {"json": {"audience": "a", **unknown}},
        ),
        (
            "cedalo field",
            "POST",
            "/api/projects/default/tokens",
            {"json": {"name": "n", **unknown}},
        ),
        ("oauth2 field", "POST", "/oauth2/introspect", {"data": {secret: "x"}}),
        # A field's value.
        (
            "native role",
            "POST",
            "/v1/tenants/default/tokens",
            {"json": {"name": "n", "role": secret}},
        ),
        (
            "native type",
            "POST",
            "/v1/tenants/default/tokens",
            {"json": {"name": "n", "type": secret}},
        ),
        (
            "native expiry",
            "POST",
            "/v1/tenants/default/tokens",
            {"json": {"name": "n", "expires_at": secret}},
        ),
        (
            "native ttl",
            "POST",
            "/v1/tenants/default/tokens",
            {"json": {"name": "n", "ttl_seconds": secret}},
        ),
        ("native name list", "POST", "/v1/tenants/default/tokens", {"json": {"name": [secret]}}),
        ("native id", "GET", f"/v1/tenants/default/tokens/{secret}", {}),
        ("native sort", "GET", "/v1/tenants/default/tokens", {"params": {"sort": secret}}),
        ("native limit", "GET", "/v1/tenants/default/tokens", {"params": {"limit": secret}}),
        ("native tenant name", "POST", "/v1/tenants", {"json": {"name": secret + "!"}}),
        ("audit since", "GET", "/v1/audit", {"params": {"since": secret}}),
        ("verify scopes", "POST", "/v1/verify", {"json": {"token": "x", "scopes": secret}}),
        ("verify audience", "POST", "/v1/verify", {"json": {"token": "x", "audience": [secret]}}),
        ("verify token", "POST", "/v1/verify", {"json": {"token": [secret]}}),
        (
            "boomerang type",
            "POST",
            "/api/v2/token",
            {"json": {"type": secret, "name": "n", "permissions": ["a/read"]}},
        ),
        (
            "boomerang date",
            "POST",
            "/api/v2/token",
            {
                "json": {
                    "type": "global",
                    "name": "n",
                    "permissions": ["a/read"],
                    "expirationDate": secret,
                }
            },
        ),
        (
            "boomerang permission",
            "POST",
            "/api/v2/token",
            {"json": {"type": "global", "name": "n", "permissions": [secret]}},
        ),
        ("boomerang query", "GET", "/api/v2/token/query", {"params": {"limit": secret}}),
        ("boomerang delete", "DELETE", f"/api/v2/token/{secret}", {}),
        ("query value", "GET", "/_/token/value", {"params": {"name": secret}}),
        ("query lifetime", "POST", "/_/token", {"json": {"name": "n", "lifetime": secret}}),
        ("query delete", "DELETE", "/_/token", {"json": {"name": secret}}),
        (
            "devo expiry",
            "POST",
            "/v2/accounts/default/tokens",
            {"json": {"audience": "a", "expiresInSeconds": secret}},
        ),
        ("devo get id", "GET", f"/v2/accounts/default/tokens/{secret}", {}),
        (
            "devo rename",
            "PUT",
            "/v2/accounts/default/tokens/999/rename",
            {"json": {"name": secret}},
        ),
        (
            "cedalo date",
            "POST",
            "/api/projects/default/tokens",
            {"json": {"name": "n", "valid_date": secret}},
        ),
        (
            "cedalo role",
            "POST",
            "/api/projects/default/tokens",
            {"json": {"name": "n", "role": secret}},
        ),
        ("cedalo delete", "DELETE", f"/api/projects/default/tokens/{secret}", {}),
        ("oauth2 hint", "POST", "/oauth2/introspect", {"data": {"token": [secret, secret]}}),
        ("oauth2 revoke", "POST", "/oauth2/revoke", {"data": {"token_type_hint": secret}}),
    ]


def _conflicts(client: TestClient, secret: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Input that is only refused once a first request made it exist: 409s."""
    tenant(client, secret)
    issue(client, name=secret)
    issue(client, name=secret)  # native names need not be unique; two make a name ambiguous
    return [
        ("tenant exists", "POST", "/v1/tenants", {"json": {"name": secret}}),
        ("query name taken", "POST", "/_/token", {"json": {"name": secret}}),
        ("query name ambiguous", "GET", "/_/token/value", {"params": {"name": secret}}),
        ("query name ambiguous delete", "DELETE", "/_/token", {"json": {"name": secret}}),
    ]


def _echoes(answer: Any, needles: tuple[str, ...]) -> bool:
    headers = " ".join(f"{k}: {v}" for k, v in answer.headers.items())
    seen = f"{headers}\n{answer.text}"
    return any(needle in seen for needle in needles)


def test_no_error_repeats_the_input_on_any_face(client: TestClient) -> None:
    secret, taken = secret_format.generate(), secret_format.generate()
    needles = tuple(n for s in (secret, taken) for n in (s, s.split("_", 1)[1][:20]))
    calls = _requests(secret) + _conflicts(client, taken)
    echoed = []
    accepted: set[str] = set()
    for label, method, path, kwargs in calls:
        answer = client.request(method, path, headers=ROOT_HEADERS, **kwargs)
        # Refused, or accepted by a face that ignores unknown fields as its product does.
        assert answer.status_code < 500, (label, answer.status_code, answer.text[:300])
        if answer.status_code < 400:
            accepted.add(label)
        if _echoes(answer, needles):
            echoed.append((label, answer.status_code, answer.text[:300]))
    assert echoed == []
    assert accepted == PRODUCTS_ACCEPT
