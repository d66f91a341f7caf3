"""``tokens.get_many`` reads the tokens a list names in one statement, and only the tenant's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tenants, tokens
from tokenward.service.core import Core


@contextmanager
def selects(engine: Engine) -> Iterator[list[str]]:
    """The SELECT statements run on ``engine`` while the block runs."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_many_tokens_are_read_in_one_statement(core: Core, database: Engine) -> None:
    root = Actor.root()
    tenants.create(core, root, name="acme")
    tenants.create(core, root, name="other")
    mine = [
        tokens.issue(core, root, tenant="acme", spec=TokenSpec(name=f"t{n}")).token
        for n in range(6)
    ]
    theirs = tokens.issue(core, root, tenant="other", spec=TokenSpec(name="theirs")).token
    wanted = [t.id for t in mine] + [theirs.id, 10**9]

    with selects(database) as seen:
        found = tokens.get_many(core, root, tenant="acme", token_ids=wanted)

    assert len(seen) == 1, seen
    assert {i: t.name for i, t in found.items()} == {t.id: t.name for t in mine}
    assert tokens.get_many(core, root, tenant="acme", token_ids=[]) == {}
