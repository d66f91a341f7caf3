"""PostgreSQL LISTEN/NOTIFY: a committed change wakes every listener, and it reconnects."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import text

from tokenward import app
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.store.engine import make_engine
from tokenward.store.notifications import (
    CHANNEL,
    ChangeListener,
    changed_tokens,
    notify_statement,
)
from tokenward.verification import Engine

ROOT = Actor.root()


# LISTEN/NOTIFY is PostgreSQL's; SQLite processes poll the change log (test_revocation.py).
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_commit_wakes_the_listener_and_it_reconnects(core: Core, database_url: str) -> None:
    woken = threading.Event()
    named: list[list[int | None]] = []

    def on_change(token_ids: list[int | None]) -> None:
        named.append(token_ids)
        woken.set()

    listener = ChangeListener(database_url, on_change)
    listener.start()
    try:
        assert listener.connected.wait(5)
        woken.clear()
        token = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="n")).token
        tokens.disable(core, ROOT, tenant="default", token_id=token.id)
        assert woken.wait(2), "no notification after a committed change"
        deadline = time.monotonic() + 2
        while [token.id] not in named and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [token.id] in named, named  # the payload names the changed token

        engine = make_engine(database_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE :q AND pid <> pg_backend_pid()"
                ),
                {"q": f"%LISTEN {CHANNEL}%"},
            )
        engine.dispose()
        deadline = time.monotonic() + 10
        while listener.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert listener.connected.wait(10), "the listener did not reconnect"
        woken.clear()
        tokens.enable(core, ROOT, tenant="default", token_id=token.id)
        assert woken.wait(2), "no notification after reconnecting"
    finally:
        listener.stop()


@pytest.mark.parametrize(
    ("token_ids", "named"),
    [([3, 41], [3, 41]), ([None], [None]), ([7, None], [None]), (list(range(2000)), [])],
)
def test_the_payload_names_the_changed_tokens(
    token_ids: list[int | None], named: list[int | None]
) -> None:
    """Every token, or none past PostgreSQL's payload limit: the read of the log applies it."""
    statement = notify_statement(token_ids)
    payload = statement.split(", ", 1)[1].strip("'")
    assert len(payload) < 8000
    assert changed_tokens(payload) == named


def test_a_foreign_payload_names_nothing() -> None:
    assert changed_tokens("hello") == []
    assert changed_tokens("") == []


def test_the_poll_only_backs_up_a_connected_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the listener is connected the change-log poll runs once a
    ``LISTENING_POLL_SECONDS``; without it, whenever changes may be pending."""
    now = [100.0]
    monkeypatch.setattr(app, "time", SimpleNamespace(monotonic=lambda: now[0]))
    pending = threading.Event()
    verifier = SimpleNamespace(changes_may_be_pending=pending.is_set)
    listener = SimpleNamespace(connected=threading.Event())
    due = app._sync_due(cast(Engine, verifier), cast(ChangeListener, listener))
    assert not due()
    pending.set()
    assert due() and due()  # not connected: every tick that may find something
    listener.connected.set()
    assert not due()  # connected: the notifications do the work
    now[0] += app.LISTENING_POLL_SECONDS
    assert due()
    assert not due()
    listener.connected.clear()
    assert due()  # lost: back to every tick
