"""Helpers for the Devo face's tests: accounts, tokens, dates and the product's error body."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, manager, tenant

ACCOUNT = "acme@multitenant"

TOKEN_FIELDS = {
    "name",
    "id",
    "scope",
    "owner",
    "user",
    "audience",
    "token_type",
    "active",
    "expiration",
    "account",
    "created",
    "updated",
    "expires_in_seconds",
}
WITH_SECRET = TOKEN_FIELDS | {"token"}

DEVO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\+0000")


def tokens_path(account: str = ACCOUNT) -> str:
    return f"/v2/accounts/{account}/tokens"


def token_path(token_id: int | str, account: str = ACCOUNT) -> str:
    return f"{tokens_path(account)}/{token_id}"


def account(client: TestClient, name: str = ACCOUNT) -> str:
    """An account is a tenant, created through the native API (root only)."""
    return tenant(client, name)


def manager_headers(client: TestClient, tenant: str = ACCOUNT, **fields: Any) -> dict[str, str]:
    # An editor grants only audiences it holds (docs/permissions.md): the managers of these
    # tests make tokens for `apiv2`, the face's default audience in the tests.
    fields.setdefault("audience", ["tokenward", "apiv2"])
    return {"Authorization": f"Bearer {manager(client, tenant, **fields)['secret']}"}


def assert_cid(answer: httpx.Response) -> None:
    """Every answer of the face carries the request id in ``x-devo-cid`` too."""
    assert answer.headers["x-devo-cid"], answer.headers
    assert answer.headers["x-devo-cid"] == answer.headers["x-request-id"]


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert_cid(answer)
    return answer.json()


def post(
    client: TestClient,
    account_name: str = ACCOUNT,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    answer: httpx.Response = client.post(
        tokens_path(account_name), json=body, headers=headers or ROOT_HEADERS
    )
    return answer


def create(
    client: TestClient,
    account_name: str = ACCOUNT,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    """Creates a token through the Devo face; returns the 201 body (with ``token``)."""
    body.setdefault("audience", "apiv2")
    created: dict[str, Any] = ok(post(client, account_name, headers, **body), 201)
    return created


def get(
    client: TestClient,
    token_id: int,
    headers: dict[str, str] | None = None,
    account_name: str = ACCOUNT,
) -> dict[str, Any]:
    answer = client.get(token_path(token_id, account_name), headers=headers or ROOT_HEADERS)
    body: dict[str, Any] = ok(answer)
    return body


def listed(
    client: TestClient, headers: dict[str, str] | None = None, account_name: str = ACCOUNT
) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = ok(
        client.get(tokens_path(account_name), headers=headers or ROOT_HEADERS)
    )
    return body


def put(
    client: TestClient,
    token_id: int | str,
    action: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    path = f"{token_path(token_id)}/{action}"
    answer: httpx.Response = client.put(path, headers=headers or ROOT_HEADERS, **kwargs)
    return answer


def parse_date(text: str) -> datetime:
    assert DEVO_DATE.fullmatch(text), text
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def assert_error(answer: httpx.Response, status: int) -> str:
    """The product's error body, exactly ``{"error": {"code": <status>, "message": ...}}``,
    with ``x-devo-cid``; returns the message."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert_cid(answer)
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == status
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    return str(message)
