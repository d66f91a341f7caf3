"""Deleting a tenant while tokens are created in it, on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from tests.helpers import tenant
from tokenward.domain.actors import Actor
from tokenward.domain.errors import NotFound, TokenwardError
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tenants, tokens
from tokenward.service.core import Core
from tokenward.store.tables import token_secrets
from tokenward.store.tables import tokens as tokens_table

ROOT = Actor.root(client="test")
ROUNDS = 6
CREATORS = 4


def test_creates_racing_a_tenant_delete_succeed_or_find_no_tenant(core: Core) -> None:
    """Every create is stored before the delete, or answered NotFound: no deadlock
    (Unavailable), no Conflict, and nothing of the deleted tenant left behind."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    for round_ in range(ROUNDS):
        name = f"doomed-{round_}"
        tenant(core, name)
        start = threading.Barrier(CREATORS + 1)
        stop = threading.Event()

        def create(
            name: str = name, start: threading.Barrier = start, stop: threading.Event = stop
        ) -> None:
            start.wait()
            while not stop.is_set():
                try:
                    tokens.issue(core, ROOT, tenant=name, spec=TokenSpec(name="racer"))
                    outcome = "created"
                except NotFound:
                    outcome = "not found"
                    stop.set()
                except TokenwardError as exc:
                    outcome = f"{type(exc).__name__}: {exc.message}"
                with lock:
                    outcomes[outcome] += 1

        threads = [threading.Thread(target=create) for _ in range(CREATORS)]
        for thread in threads:
            thread.start()
        start.wait()
        while outcomes["created"] < (round_ + 1) * 5:  # creates are under way
            threading.Event().wait(0.001)
        tenants.delete(core, ROOT, name=name)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a create is stuck"
        with core.uow.engine.connect() as conn:  # type: ignore[attr-defined]
            left = conn.execute(
                select(func.count()).select_from(tokens_table).where(tokens_table.c.tenant == name)
            ).scalar_one()
            orphans = conn.execute(
                select(func.count())
                .select_from(token_secrets)
                .where(token_secrets.c.token_id.not_in(select(tokens_table.c.id)))
            ).scalar_one()
        assert (left, orphans) == (0, 0)
    assert set(outcomes) <= {"created", "not found"}, outcomes
