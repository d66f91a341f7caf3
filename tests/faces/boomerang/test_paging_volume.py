"""Paging over more than a thousand tokens: every token exactly once, in both orders, with the
right counts under every filter.

The tokens are issued straight through the service (the app's own core, on a clock that moves
one millisecond every third token, so creation times tie and the tie-break is tested too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.faces.boomerang.support import app_core, issue_fast, query, ticking
from tokenward.domain import clock
from tokenward.domain.tokens import Token, TokenSpec, TokenType

# SQLite alone in make test; its PostgreSQL half is make test-long's (the whole backend
# matrix): the face's share of PostgreSQL in make test is tests/faces/boomerang/test_delete.py.

COUNT = 1_020
KINDS = [TokenType.GLOBAL, TokenType.TEAM, TokenType.WORKFLOW, TokenType.USER, TokenType.SESSION]
START = datetime(2023, 3, 1, tzinfo=UTC)


def population() -> list[TokenSpec]:
    specs = []
    for i in range(COUNT):
        kind = KINDS[i % len(KINDS)]
        principal = None if kind is TokenType.GLOBAL else f"p{i % 7}"
        specs.append(
            TokenSpec(name=f"t{i:04}", type=kind, principal=principal, scopes=("workflow/read",))
        )
    return specs


def walk(client: TestClient, limit: int, **params: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page from 0 until `last`; the ids in the order served, and the pages."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    number = 0
    while True:
        page = query(client, limit=limit, page=number, **params)
        assert page["number"] == number and page["size"] == limit
        assert page["numberOfElements"] == len(page["content"])
        assert page["first"] is (number == 0)
        assert page["pageable"]["offset"] == number * limit
        ids += [t["id"] for t in page["content"]]
        pages.append(page)
        if page["last"]:
            return ids, pages
        assert page["numberOfElements"] == limit
        number += 1
        assert number <= COUNT, "the pages never end"


def check_filter(
    client: TestClient,
    made: list[Token],
    keep: Callable[[Token], bool],
    limit: int,
    **params: Any,
) -> None:
    expected = [str(t.id) for t in sorted(made, key=lambda t: (t.created_at, t.id)) if keep(t)]
    assert expected, "a filter that matches nothing tests little"
    for order, wanted in (("ASC", expected), ("DESC", expected[::-1])):
        ids, pages = walk(client, limit, order=order, **params)
        assert ids == wanted
        assert len(set(ids)) == len(ids)
        pages_needed = -(-len(expected) // limit)
        assert len(pages) == pages_needed
        for page in pages:
            assert page["totalElements"] == len(expected)
            assert page["totalPages"] == pages_needed


def test_paging_over_a_thousand_tokens(client: TestClient) -> None:
    made = issue_fast(app_core(client), ticking(START, per_tick=3), population())
    assert len({t.created_at for t in made}) == COUNT // 3  # ties, three by three

    # Everything, both orders, a page size that does not divide the count.
    check_filter(client, made, lambda t: True, 97)
    # Page size 1000: two pages, the second with 20.
    ids, pages = walk(client, 1000)
    assert len(ids) == COUNT and [p["numberOfElements"] for p in pages] == [1000, 20]

    # Unpaged: every match in one page.
    everything = query(client)
    assert everything["totalElements"] == COUNT and everything["numberOfElements"] == COUNT
    assert everything["totalPages"] == 1 and everything["pageable"]["unpaged"] is True
    assert [t["id"] for t in everything["content"]] == [str(t.id) for t in made]

    teams_and_workflows = {TokenType.TEAM, TokenType.WORKFLOW}
    check_filter(client, made, lambda t: t.type in teams_and_workflows, 50, types="team,workflow")
    check_filter(
        client, made, lambda t: t.type is TokenType.SESSION, 64, types=["session", "session"]
    )
    check_filter(client, made, lambda t: t.principal in {"p1", "p2"}, 40, principals=["p1,p2"])

    low, high = made[150].created_at, made[840].created_at
    window = {
        "fromDate": clock.to_millis(low),
        "toDate": clock.to_millis(high),
    }

    def in_window(t: Token) -> bool:
        return low <= t.created_at < high

    check_filter(client, made, in_window, 33, **window)
    check_filter(
        client,
        made,
        lambda t: in_window(t) and t.type is TokenType.USER and t.principal in {"p0", "p3"},
        7,
        types="user,global",
        principals="p0,p3",
        **window,
    )
    # A principals filter never matches the global tokens.
    check_filter(
        client,
        made,
        lambda t: t.type is TokenType.TEAM and t.principal == "p4",
        5,
        types="global,team",
        principals="p4",
    )
