"""Helpers for the Cedalo face's tests: projects, tokens, and the product's error body."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, tenant

TOKEN_FIELDS = {
    "id",
    "project_id",
    "role_id",
    "issuer",
    "name",
    "hash",
    "issue_date",
    "valid_date",
    "last_used_date",
    "brokers",
    "type",
}


def tokens_path(project: str) -> str:
    return f"/api/projects/{project}/tokens"


def project(client: TestClient, name: str) -> str:
    """A project is a tenant, created through the native API."""
    return tenant(client, name)


def post(
    client: TestClient, project_id: str, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return client.post(tokens_path(project_id), json=body, headers=headers or ROOT_HEADERS)


def create(
    client: TestClient, project_id: str, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    """Creates a token through the Cedalo face and returns the 200 body (with ``token``)."""
    body.setdefault("name", "cedalo token")
    answer = post(client, project_id, headers, **body)
    assert answer.status_code == 200, answer.text
    created: dict[str, Any] = answer.json()
    return created


def listed(
    client: TestClient, project_id: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    answer = client.get(tokens_path(project_id), headers=headers or ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    body: list[dict[str, Any]] = answer.json()
    return body


def assert_error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The product's error body, exactly: message, code, status, info (with our request id)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert set(body) == {"message", "code", "status", "info"}
    assert body["code"] == code
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["info"], dict)
    assert body["info"]["request_id"] == answer.headers["x-request-id"]
    return body
