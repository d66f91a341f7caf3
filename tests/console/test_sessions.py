"""Console sessions on both stores: time limits, the credential's own fate, tampering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.helpers import ROOT_TOKEN
from tokenward.app import build_core, build_verifier, open_engine
from tokenward.console import sessions
from tokenward.domain import clock
from tokenward.domain.actors import Actor
from tokenward.domain.roles import Role
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.settings import Settings
from tokenward.store.console_sessions import SqlConsoleSessions
from tokenward.store.tables import console_sessions

LIFETIMES = sessions.Lifetimes(idle=timedelta(minutes=30), max_age=timedelta(hours=12))


class Clock:
    def __init__(self) -> None:
        self.now = clock.utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(settings: Settings) -> Iterator[tuple[Core, SqlConsoleSessions, Clock]]:
    engine = open_engine(settings)
    ticking = Clock()
    verifier = build_verifier(settings, engine)
    core = build_core(settings, engine, verifier)
    core.clock = ticking
    try:
        yield core, SqlConsoleSessions(engine), ticking
    finally:
        engine.dispose()
        verifier.close()


def test_the_store_keeps_a_hash_of_the_id_and_the_credential_sealed(
    world: tuple[Core, SqlConsoleSessions, Clock],
) -> None:
    core, store, _ = world
    session = sessions.sign_in(core, store, ROOT_TOKEN, client="192.0.2.1")
    assert session.actor.is_root
    with store._engine.connect() as conn:
        rows = conn.execute(select(console_sessions)).all()
    assert all(row.id_hash != session.id for row in rows)
    (row,) = [row for row in rows if row.id_hash == sessions.id_hash(session.id)]
    assert ROOT_TOKEN.encode() not in bytes(row.sealed_credential)
    assert row.actor == "root"
    resumed = sessions.resume(core, store, session.id, LIFETIMES, client="192.0.2.1")
    assert resumed is not None and resumed.actor.is_root


def test_idle_and_maximum_age_end_a_session(
    world: tuple[Core, SqlConsoleSessions, Clock],
) -> None:
    core, store, ticking = world
    idle = sessions.sign_in(core, store, ROOT_TOKEN, client=None)
    ticking.now += LIFETIMES.idle
    assert sessions.resume(core, store, idle.id, LIFETIMES, client=None) is None

    busy = sessions.sign_in(core, store, ROOT_TOKEN, client=None)
    for _ in range(int(LIFETIMES.max_age / LIFETIMES.idle) * 2):
        ticking.now += LIFETIMES.idle - timedelta(minutes=1)
        if sessions.resume(core, store, busy.id, LIFETIMES, client=None) is None:
            break
    else:
        pytest.fail("a session in constant use outlived its maximum age")
    assert store.get(sessions.id_hash(busy.id)) is None


def test_a_disabled_deleted_or_expired_token_ends_its_session_at_once(
    world: tuple[Core, SqlConsoleSessions, Clock],
) -> None:
    core, store, ticking = world
    root = Actor.root()

    def manager(ttl_seconds: int | None = None) -> tuple[int, str]:
        spec = TokenSpec(
            name="manager", role=Role.ADMIN, audience=("tokenward",), ttl_seconds=ttl_seconds
        )
        issued = tokens.issue(core, root, tenant="default", spec=spec)
        return issued.token.id, issued.secret

    disabled_id, disabled_secret = manager()
    deleted_id, deleted_secret = manager()
    _, expiring_secret = manager(ttl_seconds=3600)
    opened = {
        secret: sessions.sign_in(core, store, secret, client=None).id
        for secret in (disabled_secret, deleted_secret, expiring_secret)
    }
    for session_id in opened.values():
        assert sessions.resume(core, store, session_id, LIFETIMES, client=None) is not None

    tokens.disable(core, root, tenant="default", token_id=disabled_id)
    tokens.delete(core, root, tenant="default", token_id=deleted_id)
    for secret in (disabled_secret, deleted_secret):
        assert sessions.resume(core, store, opened[secret], LIFETIMES, client=None) is None
    assert sessions.resume(core, store, opened[expiring_secret], LIFETIMES, client=None)
    ticking.now += timedelta(hours=1)
    assert sessions.resume(core, store, opened[expiring_secret], LIFETIMES, client=None) is None


def test_a_sealed_credential_moved_to_another_session_opens_nothing(
    world: tuple[Core, SqlConsoleSessions, Clock],
) -> None:
    core, store, _ = world
    mine = sessions.sign_in(core, store, ROOT_TOKEN, client=None)
    other = sessions.sign_in(core, store, ROOT_TOKEN, client=None)
    with store._engine.begin() as conn:
        sealed = conn.execute(
            select(console_sessions.c.sealed_credential).where(
                console_sessions.c.id_hash == sessions.id_hash(mine.id)
            )
        ).scalar_one()
        conn.execute(
            update(console_sessions)
            .where(console_sessions.c.id_hash == sessions.id_hash(other.id))
            .values(sealed_credential=sealed)
        )
    assert sessions.resume(core, store, other.id, LIFETIMES, client=None) is None
    assert sessions.resume(core, store, mine.id, LIFETIMES, client=None) is not None


def test_signing_out_removes_the_session(world: tuple[Core, SqlConsoleSessions, Clock]) -> None:
    core, store, _ = world
    session = sessions.sign_in(core, store, ROOT_TOKEN, client=None)
    sessions.sign_out(store, session.id)
    assert sessions.resume(core, store, session.id, LIFETIMES, client=None) is None
