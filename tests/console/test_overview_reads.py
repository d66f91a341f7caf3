"""The overview names its most verified tokens with one read, however many there are: the
statements that read tokens, counted on the app's own SQLite engine, are as many for ten
tokens as for one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.console.support import sign_in
from tests.helpers import ROOT_TOKEN
from tokenward.app import create_app
from tokenward.domain import clock
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tenants, tokens
from tokenward.service.core import Core
from tokenward.service.usage import TOP_TOKENS
from tokenward.settings import Settings


@contextmanager
def token_reads() -> Iterator[list[str]]:
    """The statements that read the tokens table, on any engine, while the block runs."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"\bFROM tokens\b", statement):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def verified_tokens(core: Core, tenant: str, count: int) -> list[str]:
    """``count`` tokens of a new tenant, each counted as verified today; their names."""
    root = Actor.root()
    tenants.create(core, root, name=tenant)
    names = [f"{tenant} token {n}" for n in range(count)]
    ids = [
        tokens.issue(core, root, tenant=tenant, spec=TokenSpec(name=name)).token.id
        for name in names
    ]
    now = clock.utcnow()
    day, hour = (
        now.replace(hour=0, minute=0, second=0, microsecond=0),
        now.replace(minute=0, second=0, microsecond=0),
    )
    with core.uow(write=True) as uow:
        uow.usage.add(
            [(tenant, i, "d", day, "VALID", 1) for i in ids]
            + [(tenant, i, "h", hour, "VALID", 1) for i in ids]
        )
        uow.commit()
    return names


def test_the_top_tokens_are_named_in_one_read(settings: Settings, core: Core) -> None:
    few = verified_tokens(core, "few", 1)
    many = verified_tokens(core, "many", TOP_TOKENS)
    with TestClient(create_app(settings)) as client:
        sign_in(client, ROOT_TOKEN)
        reads = {}
        for tenant, names in (("few", few), ("many", many)):
            with token_reads() as seen:
                page = client.get(f"/console/t/{tenant}/")
            assert page.status_code == 200
            assert all(name in page.text for name in names)
            reads[tenant] = seen
    assert len(reads["many"]) == len(reads["few"]), reads["many"]
