"""GET /api/v2/token/query: filters, sorts, pages and the Spring Data page shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.faces.boomerang.support import (
    DATE,
    QUERY,
    app_core,
    assert_error,
    created,
    issue_fast,
    names,
    query,
    spec,
    ticking,
)
from tests.helpers import ROOT_HEADERS, issue
from tokenward.domain import clock
from tokenward.domain.tokens import TokenSpec, TokenType

SORTED = {"empty": False, "sorted": True, "unsorted": False}
PAGE_KEYS = {
    "content",
    "pageable",
    "last",
    "totalElements",
    "totalPages",
    "size",
    "number",
    "sort",
    "first",
    "numberOfElements",
    "empty",
}
TOKEN_KEYS = {
    "id",
    "type",
    "name",
    "description",
    "creationDate",
    "expirationDate",
    "valid",
    "principal",
    "permissions",
}


@pytest.fixture
def population(client: TestClient) -> dict[str, Any]:
    """Five tokens of every kind, made in this order through the face."""
    return {
        "g1": created(client, name="g1", type="global", permissions=["**/**"]),
        "t1": created(client, name="t1", type="team", principal="p1"),
        "w1": created(client, name="w1", type="workflow", principal="p2"),
        "u1": created(client, name="u1", type="user", principal="p1"),
        "t2": created(client, name="t2", type="team", principal="p3"),
    }


def test_defaults_unpaged_creation_order(client: TestClient, population: dict[str, Any]) -> None:
    page = query(client)
    assert set(page) == PAGE_KEYS
    assert [t["name"] for t in page["content"]] == ["g1", "t1", "w1", "u1", "t2"]
    assert page["totalElements"] == 5
    assert page["totalPages"] == 1
    assert page["size"] == 5
    assert page["number"] == 0
    assert page["numberOfElements"] == 5
    assert page["first"] is True and page["last"] is True and page["empty"] is False
    assert page["sort"] == SORTED
    assert page["pageable"] == {
        "offset": 0,
        "pageNumber": 0,
        "pageSize": 5,
        "paged": False,
        "unpaged": True,
        "sort": SORTED,
    }


def test_token_fields(client: TestClient, population: dict[str, Any]) -> None:
    expiry = "2099-03-04T05:06:07.089+00:00"
    made = created(
        client,
        name="full",
        type="team",
        principal="p9",
        description="about it",
        permissions=["workflow/read", "team/write"],
        expirationDate=expiry,
    )
    page = query(client, principals="p9")
    assert page["totalElements"] == 1
    token = page["content"][0]
    assert set(token) == TOKEN_KEYS
    native = client.get(f"/v1/tenants/default/tokens/{made['id']}", headers=ROOT_HEADERS).json()
    assert token["id"] == made["id"] == str(native["id"])
    assert token["type"] == "team"
    assert token["name"] == "full"
    assert token["description"] == "about it"
    assert DATE.fullmatch(token["creationDate"])
    assert datetime.fromisoformat(token["creationDate"]) == datetime.fromisoformat(
        native["created_at"]
    )
    assert token["expirationDate"] == expiry
    assert token["valid"] is True
    assert token["principal"] == "p9"
    # The product's ResolvedPermissions (boomerang-io/docs flow/apis/models).
    assert token["permissions"] == [
        {"scope": "team", "principal": "p9", "actions": ["workflow/read", "team/write"]}
    ]
    assert made["token"] not in str(page)

    global_token = query(client, types="global")["content"][0]
    assert global_token["principal"] is None
    assert global_token["expirationDate"] is None
    assert global_token["description"] is None


def test_valid_is_false_when_disabled_or_expired(client: TestClient) -> None:
    disabled = created(client, name="disabled")
    client.post(f"/v1/tenants/default/tokens/{disabled['id']}/disable", headers=ROOT_HEADERS)
    # Made on a clock of 2020 with an expiry in 2021: expired now.
    past = datetime(2020, 1, 1, tzinfo=UTC)
    issue_fast(
        app_core(client),
        ticking(past),
        [TokenSpec(name="expired", expires_at=past + timedelta(days=400))],
    )
    created(client, name="fine")
    valid = {t["name"]: t["valid"] for t in query(client)["content"]}
    assert valid == {"expired": False, "disabled": False, "fine": True}


def test_tokens_of_every_face_are_listed(client: TestClient) -> None:
    issue(client, name="native", scopes=["a"])
    created(client, name="boomerang")
    page = query(client)
    assert [t["name"] for t in page["content"]] == ["native", "boomerang"]
    assert page["content"][0]["type"] == "global"
    assert page["content"][0]["permissions"] == [
        {"scope": "global", "principal": "**", "actions": ["a"]}
    ]


def test_type_and_principal_filters(client: TestClient, population: dict[str, Any]) -> None:
    assert names(client, types="team") == ["t1", "t2"]
    assert names(client, types="team,user") == ["t1", "u1", "t2"]
    assert names(client, types=["team", "global"]) == ["g1", "t1", "t2"]
    assert names(client, types=["team,workflow", "global"]) == ["g1", "t1", "w1", "t2"]
    assert names(client, types="session") == []
    assert names(client, principals="p1") == ["t1", "u1"]
    assert names(client, principals="p1,p3") == ["t1", "u1", "t2"]
    assert names(client, principals=["p2", "p3"]) == ["w1", "t2"]
    # A principals filter never matches a global token.
    assert names(client, principals="p1", types="global,team") == ["t1"]
    assert names(client, types="team", principals="p1") == ["t1"]
    assert names(client, types="user", principals="p3") == []
    # Empty filters, as in the product's own example, filter nothing.
    assert names(client, types="", principals="") == ["g1", "t1", "w1", "u1", "t2"]
    assert names(client, types=" , ") == ["g1", "t1", "w1", "u1", "t2"]


def test_order_and_sort(client: TestClient, population: dict[str, Any]) -> None:
    assert names(client, order="DESC") == ["t2", "u1", "w1", "t1", "g1"]
    assert names(client, order="desc") == ["t2", "u1", "w1", "t1", "g1"]
    assert names(client, order="ASC") == ["g1", "t1", "w1", "u1", "t2"]
    assert names(client, sort="name") == ["g1", "t1", "t2", "u1", "w1"]
    assert names(client, sort="name", order="DESC") == ["w1", "u1", "t2", "t1", "g1"]
    assert names(client, sort="creationDate", order="DESC") == ["t2", "u1", "w1", "t1", "g1"]
    # The product's own example sends `sort=0`: creation order, as in the product.
    assert names(client, sort="0") == ["g1", "t1", "w1", "u1", "t2"]


def test_sort_by_expiration_date(client: TestClient) -> None:
    created(client, name="late", expirationDate="2099-01-01T00:00:00Z")
    created(client, name="never")
    created(client, name="early", expirationDate="2098-01-01T00:00:00Z")
    assert names(client, sort="expirationDate") == ["early", "late", "never"]
    # Tokens without an expiry come last in either order.
    assert names(client, sort="expirationDate", order="DESC") == ["late", "early", "never"]


def test_date_range_is_inclusive_from_and_exclusive_to(client: TestClient) -> None:
    start = datetime(2023, 3, 1, tzinfo=UTC)
    made = issue_fast(app_core(client), ticking(start), [spec(f"n{i}") for i in range(5)])
    millis = [clock.to_millis(t.created_at) for t in made]
    assert millis == [millis[0] + i for i in range(5)]
    assert names(client, fromDate=millis[1]) == ["n1", "n2", "n3", "n4"]
    assert names(client, toDate=millis[3]) == ["n0", "n1", "n2"]
    assert names(client, fromDate=millis[1], toDate=millis[3]) == ["n1", "n2"]
    assert names(client, fromDate=millis[2], toDate=millis[2]) == []
    assert names(client, fromDate=millis[4] + 1) == []
    assert names(client, fromDate=0, toDate=10**13) == [f"n{i}" for i in range(5)]
    page = query(client, fromDate=millis[1], toDate=millis[4], limit=2)
    assert page["totalElements"] == 3 and page["totalPages"] == 2


def test_pages(client: TestClient, population: dict[str, Any]) -> None:
    first = query(client, limit=2, page=0)
    assert [t["name"] for t in first["content"]] == ["g1", "t1"]
    assert first["totalElements"] == 5 and first["totalPages"] == 3
    assert first["size"] == 2 and first["number"] == 0 and first["numberOfElements"] == 2
    assert first["first"] is True and first["last"] is False and first["empty"] is False
    assert first["pageable"] == {
        "offset": 0,
        "pageNumber": 0,
        "pageSize": 2,
        "paged": True,
        "unpaged": False,
        "sort": SORTED,
    }
    middle = query(client, limit=2, page=1)
    assert [t["name"] for t in middle["content"]] == ["w1", "u1"]
    assert middle["first"] is False and middle["last"] is False
    assert middle["pageable"]["offset"] == 2 and middle["pageable"]["pageNumber"] == 1
    last = query(client, limit=2, page=2)
    assert [t["name"] for t in last["content"]] == ["t2"]
    assert last["numberOfElements"] == 1 and last["size"] == 2
    assert last["first"] is False and last["last"] is True
    beyond = query(client, limit=2, page=7)
    assert beyond["content"] == [] and beyond["empty"] is True
    assert beyond["totalElements"] == 5 and beyond["totalPages"] == 3
    assert beyond["number"] == 7 and beyond["last"] is True
    assert beyond["pageable"]["offset"] == 14
    exact = query(client, limit=5)
    assert exact["totalPages"] == 1 and exact["last"] is True and exact["first"] is True
    # Without a limit the page number changes nothing: every match, one page.
    assert names(client, page=3) == ["g1", "t1", "w1", "u1", "t2"]


def test_empty_results(client: TestClient) -> None:
    unpaged = query(client)
    assert unpaged["content"] == [] and unpaged["empty"] is True
    assert unpaged["totalElements"] == 0 and unpaged["numberOfElements"] == 0
    paged = query(client, limit=10)
    assert paged["totalElements"] == 0 and paged["totalPages"] == 0
    assert paged["first"] is True and paged["last"] is True and paged["empty"] is True


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": -3},
        {"limit": 1001},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"page": -1},
        {"page": "first"},
        {"page": 10**9, "limit": 10},
        {"order": "UP"},
        {"types": "galaxy"},
        {"types": "team,GLOBAL"},
        {"fromDate": "yesterday"},
        {"toDate": "2023-01-01"},
        {"fromDate": 10**18},
        {"toDate": "9" * 30},
    ],
)
def test_bad_parameters(client: TestClient, params: dict[str, Any]) -> None:
    answer = client.get(QUERY, params=params, headers=ROOT_HEADERS)
    body = assert_error(answer, 400, 1001, "QUERY_INVALID_FILTERS")
    for value in params.values():
        if len(str(value)) > 3:
            assert str(value) not in body["message"]


def test_large_limit_and_session_tokens(client: TestClient) -> None:
    core = app_core(client)
    issue_fast(
        core,
        clock.utcnow,
        [TokenSpec(name="login", type=TokenType.SESSION, principal="u1")],
    )
    page = query(client, limit=1000, types="session", principals="u1")
    assert [t["name"] for t in page["content"]] == ["login"]
    assert page["content"][0]["type"] == "session"
