"""Listing and searching tokens: filters, sorts and pages through the native API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue

BASE = "/v1/tenants/default/tokens"


def names(client: TestClient, **params: Any) -> list[str]:
    answer = client.get(BASE, params=params, headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    return [t["name"] for t in answer.json()["items"]]


@pytest.fixture
def population(client: TestClient) -> dict[str, dict[str, Any]]:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    made = {
        "alpha": issue(
            client, name="alpha", type="user", principal="u1", role="editor", expires_at=later
        ),
        "Beta": issue(
            client, name="Beta", type="team", principal="t1", user="bob", expires_at=soon
        ),
        "gamma": issue(client, name="gamma", active=False),
        "delta_%": issue(client, name="delta_%", type="user", principal="u2", role="admin"),
    }
    return made


def test_filters(client: TestClient, population: dict[str, dict[str, Any]]) -> None:
    assert names(client, type="user") == ["alpha", "delta_%"]
    assert names(client, type=["user", "team"]) == ["alpha", "Beta", "delta_%"]
    assert names(client, principal="u1") == ["alpha"]
    assert names(client, user="bob") == ["Beta"]
    assert names(client, owner="root") == ["alpha", "Beta", "gamma", "delta_%"]
    assert names(client, role="admin") == ["delta_%"]
    assert names(client, active="false") == ["gamma"]
    assert names(client, active="true", type="user") == ["alpha", "delta_%"]
    assert names(client, name="ET") == ["Beta"]
    assert names(client, name="_%") == ["delta_%"]
    assert names(client, name="%") == ["delta_%"]
    assert names(client, expired="false") == ["alpha", "Beta", "gamma", "delta_%"]
    assert names(client, expired="true") == []
    in_a_day = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert names(client, expires_before=in_a_day) == ["Beta"]
    assert names(client, expires_after=in_a_day) == ["alpha"]
    first = population["alpha"]["created_at"]
    assert names(client, created_before=first) == []
    assert "alpha" in names(client, created_after=first)


def test_expired_filter(client: TestClient) -> None:
    issue(client, name="brief", ttl_seconds=1)
    issue(client, name="lasting")
    import time

    time.sleep(1.05)
    assert names(client, expired="true") == ["brief"]
    assert names(client, expired="false") == ["lasting"]


def test_sorts(client: TestClient, population: dict[str, dict[str, Any]]) -> None:
    assert names(client) == ["alpha", "Beta", "gamma", "delta_%"]
    assert names(client, order="desc") == ["delta_%", "gamma", "Beta", "alpha"]
    by_name = names(client, sort="name")
    assert sorted(by_name) == sorted(population) and len(by_name) == 4
    assert names(client, sort="name", order="desc") == list(reversed(by_name))
    # Permanent tokens (no expiry) come last in either order.
    assert names(client, sort="expires") == ["Beta", "alpha", "gamma", "delta_%"]
    assert names(client, sort="expires", order="desc") == ["alpha", "Beta", "delta_%", "gamma"]


def test_last_used_sort(client: TestClient, population: dict[str, dict[str, Any]]) -> None:
    for name in ("gamma", "alpha", "Beta"):
        if name != "gamma":
            client.post("/v1/verify", json={"token": population[name]["secret"]})
    client.app_state["engine"].flush_usage()
    assert client.app_state["engine"].flush() == 2  # the last-use times alone
    used = client.get(BASE, params={"sort": "last_used"}, headers=ROOT_HEADERS).json()["items"]
    assert [t["name"] for t in used][:2] == ["alpha", "Beta"]
    assert used[0]["last_used_at"] is not None and used[2]["last_used_at"] is None


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_cover_every_token_once(client: TestClient, order: str) -> None:
    made = {issue(client, name=f"t{i:02d}")["id"] for i in range(23)}
    seen: list[int] = []
    page = 0
    while True:
        body = client.get(
            BASE, params={"limit": 5, "page": page, "order": order}, headers=ROOT_HEADERS
        ).json()
        assert body["total"] == 23 and body["limit"] == 5 and body["page"] == page
        if not body["items"]:
            break
        seen += [t["id"] for t in body["items"]]
        page += 1
    assert page == 5
    assert len(seen) == len(set(seen)) == 23 and set(seen) == made
    assert seen == sorted(seen, reverse=order == "desc")


def test_total_counts_matches_not_page(client: TestClient) -> None:
    for i in range(7):
        issue(
            client,
            name=f"n{i}",
            type="user" if i % 2 else "global",
            principal="p" if i % 2 else None,
        )
    body = client.get(BASE, params={"type": "user", "limit": 2}, headers=ROOT_HEADERS).json()
    assert body["total"] == 3 and len(body["items"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"page": -1},
        {"sort": "owner"},
        {"order": "up"},
        {"type": "robot"},
        {"active": "maybe"},
        {"created_after": "yesterday"},
        {"created_after": "2020-01-01T00:00:00"},
    ],
)
def test_bad_parameters(client: TestClient, params: dict[str, Any]) -> None:
    answer = client.get(BASE, params=params, headers=ROOT_HEADERS)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "VALIDATION_FAILED"
