"""The README tour through the ASGI app: tenant, token, verify, disable, verify again."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def test_tour(client: TestClient) -> None:
    created = client.post("/v1/tenants", json={"name": "acme"}, headers=ROOT_HEADERS)
    assert created.status_code == 201
    token = issue(client, "acme", name="ci", audience=["billing"], scopes=["read"])
    assert token["secret"].startswith("tw_")

    answer = client.post("/v1/verify", json={"token": token["secret"], "audience": "billing"})
    assert answer.status_code == 200
    assert answer.json()["valid"] is True
    assert answer.json()["token"]["id"] == token["id"]

    disabled = client.post(f"/v1/tenants/acme/tokens/{token['id']}/disable", headers=ROOT_HEADERS)
    assert disabled.json()["active"] is False

    again = client.post("/v1/verify", json={"token": token["secret"]}).json()
    assert again == {**again, "valid": False, "code": "DISABLED"}
