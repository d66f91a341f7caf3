"""Tenants through the native API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, bearer, issue, manager, tenant

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def test_create_list_get_delete(client: TestClient) -> None:
    created = client.post("/v1/tenants", json={"name": "acme@multitenant"}, headers=ROOT_HEADERS)
    assert created.status_code == 201
    assert created.json()["name"] == "acme@multitenant"

    names = [t["name"] for t in client.get("/v1/tenants", headers=ROOT_HEADERS).json()["items"]]
    assert names == ["acme@multitenant", "default"]
    assert client.get("/v1/tenants/acme@multitenant", headers=ROOT_HEADERS).status_code == 200

    token = issue(client, "acme@multitenant")
    assert client.delete("/v1/tenants/acme@multitenant", headers=ROOT_HEADERS).status_code == 204
    assert client.get("/v1/tenants/acme@multitenant", headers=ROOT_HEADERS).status_code == 404
    verdict = client.post("/v1/verify", json={"token": token["secret"]}).json()
    assert verdict["code"] == "NOT_FOUND"


def test_duplicate_and_bad_names(client: TestClient) -> None:
    assert client.post("/v1/tenants", json={"name": "a"}, headers=ROOT_HEADERS).status_code == 201
    again = client.post("/v1/tenants", json={"name": "a"}, headers=ROOT_HEADERS)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "TENANT_EXISTS"
    for bad in ["", "has space", "a/b", "x" * 129, "-lead", "nul\x00"]:
        answer = client.post("/v1/tenants", json={"name": bad}, headers=ROOT_HEADERS)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_default_tenant_cannot_be_deleted(client: TestClient) -> None:
    answer = client.delete("/v1/tenants/default", headers=ROOT_HEADERS)
    assert answer.status_code == 409
    assert client.get("/v1/tenants/default", headers=ROOT_HEADERS).status_code == 200


def test_tokens_see_only_their_tenant_and_cannot_manage_tenants(client: TestClient) -> None:
    tenant(client, "acme")
    admin = bearer(manager(client, "acme", role="admin")["secret"])
    assert [t["name"] for t in client.get("/v1/tenants", headers=admin).json()["items"]] == ["acme"]
    assert client.get("/v1/tenants/default", headers=admin).status_code == 404
    assert client.post("/v1/tenants", json={"name": "b"}, headers=admin).status_code == 403
    assert client.delete("/v1/tenants/acme", headers=admin).status_code == 403
    assert client.delete("/v1/tenants/default", headers=admin).status_code == 404
