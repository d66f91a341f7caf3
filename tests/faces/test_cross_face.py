"""One core, five faces: a token made through any face is the same token through every other.

Each token is created through one face, then read through all five, verified through
/v1/verify, disabled through another face and deleted through a third; the views agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres

FACES = ["native", "boomerang", "query", "devo", "cedalo"]
EXPIRES = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
EXPIRES_MS = int(EXPIRES.timestamp() * 1000)


def create(client: TestClient, face: str, name: str) -> str:
    """Creates through ``face``; returns the secret."""
    h = ROOT_HEADERS
    if face == "native":
        body = {"name": name, "expires_at": EXPIRES.isoformat()}
        return str(client.post("/v1/tenants/default/tokens", json=body, headers=h).json()["secret"])
    if face == "boomerang":
        body = {
            "type": "global",
            "name": name,
            "permissions": ["workflow/read"],
            "expirationDate": EXPIRES.isoformat(),
        }
        answer = client.post("/api/v2/token", json=body, headers=h)
        return str(answer.json()["token"])
    if face == "query":
        answer = client.post(
            "/_/token", json={"name": name, "expiration_date": EXPIRES_MS}, headers=h
        )
        return str(answer.json()["data"][0]["token"])
    if face == "devo":
        body = {
            "name": name,
            "audience": "svc",
            "expiresInSeconds": int(EXPIRES.timestamp() - time.time()),
        }
        return str(client.post("/v2/accounts/default/tokens", json=body, headers=h).json()["token"])
    body = {"name": name, "role": "viewer", "valid_date": EXPIRES_MS}
    return str(client.post("/api/projects/default/tokens", json=body, headers=h).json()["token"])


def views(client: TestClient, name: str) -> dict[str, dict[str, Any]]:
    """The token named ``name`` as each face lists it."""
    h = ROOT_HEADERS
    lists: dict[str, list[dict[str, Any]]] = {
        "native": client.get(
            "/v1/tenants/default/tokens", params={"limit": 1000}, headers=h
        ).json()["items"],
        "boomerang": client.get("/api/v2/token/query", headers=h).json()["content"],
        "query": client.get("/_/token", headers=h).json()["data"],
        "devo": client.get("/v2/accounts/default/tokens", headers=h).json(),
        "cedalo": client.get("/api/projects/default/tokens", headers=h).json(),
    }
    found = {face: [t for t in items if t["name"] == name] for face, items in lists.items()}
    assert all(len(items) == 1 for items in found.values()), found
    return {face: items[0] for face, items in found.items()}


def expiry_ms(face: str, view: dict[str, Any]) -> int:
    parse: dict[str, Callable[[dict[str, Any]], int]] = {
        "native": lambda v: int(datetime.fromisoformat(v["expires_at"]).timestamp() * 1000),
        "boomerang": lambda v: int(datetime.fromisoformat(v["expirationDate"]).timestamp() * 1000),
        "query": lambda v: int(v["expiration_date"]),
        "devo": lambda v: int(
            datetime.strptime(v["expiration"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000
        ),
        "cedalo": lambda v: int(v["valid_date"]),
    }
    return parse[face](view)


def disable(client: TestClient, face: str, token_id: int) -> None:
    if face == "devo":
        path = f"/v2/accounts/default/tokens/{token_id}/disable"
        assert client.put(path, headers=ROOT_HEADERS).status_code == 200
    else:
        path = f"/v1/tenants/default/tokens/{token_id}/disable"
        assert client.post(path, headers=ROOT_HEADERS).status_code == 200


def delete(client: TestClient, face: str, token_id: int, name: str) -> None:
    h = ROOT_HEADERS
    if face == "native":
        answer = client.delete(f"/v1/tenants/default/tokens/{token_id}", headers=h)
    elif face == "boomerang":
        answer = client.delete(f"/api/v2/token/{token_id}", headers=h)
    elif face == "query":
        answer = client.request("DELETE", "/_/token", json={"name": name}, headers=h)
    elif face == "devo":
        answer = client.delete(f"/v2/accounts/default/tokens/{token_id}", headers=h)
    else:
        answer = client.delete(f"/api/projects/default/tokens/{token_id}", headers=h)
        assert answer.json() is True
    assert answer.status_code in (200, 204), (face, answer.text)


def verdict(client: TestClient, secret: str) -> str:
    return str(client.post("/v1/verify", json={"token": secret}).json()["code"])


@pytest.mark.parametrize("creator", FACES)
def test_a_token_is_the_same_token_through_every_face(client: TestClient, creator: str) -> None:
    name = f"made-by-{creator}"
    secret = create(client, creator, name)
    assert verdict(client, secret) == "VALID"

    seen = views(client, name)
    token_id = int(seen["native"]["id"])
    assert {int(seen[f]["id"]) for f in ("native", "boomerang", "devo", "cedalo")} == {token_id}
    for face, view in seen.items():
        assert abs(expiry_ms(face, view) - EXPIRES_MS) < 1000, (face, view)

    others = [f for f in FACES if f != creator]
    disabler = "devo" if creator != "devo" else "native"
    disable(client, disabler, token_id)
    assert verdict(client, secret) == "DISABLED"
    seen = views(client, name)
    assert seen["native"]["active"] is False and seen["devo"]["active"] is False
    assert seen["query"]["active"] == 0 and seen["boomerang"]["valid"] is False

    deleter = others[FACES.index(creator) % len(others)]
    delete(client, deleter, token_id, name)
    assert verdict(client, secret) == "NOT_FOUND"
    gone = client.get(f"/v1/tenants/default/tokens/{token_id}", headers=ROOT_HEADERS)
    assert gone.status_code == 404
