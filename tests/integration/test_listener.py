"""PostgreSQL LISTEN/NOTIFY: a committed change wakes every listener, and it reconnects."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.store.engine import make_engine
from tokenward.store.notifications import CHANNEL, ChangeListener

ROOT = Actor.root()


# LISTEN/NOTIFY is PostgreSQL's; SQLite processes poll the change log (test_revocation.py).
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_commit_wakes_the_listener_and_it_reconnects(core: Core, database_url: str) -> None:
    woken = threading.Event()
    listener = ChangeListener(database_url, woken.set)
    listener.start()
    try:
        assert listener.connected.wait(5)
        woken.clear()
        token = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="n")).token
        tokens.disable(core, ROOT, tenant="default", token_id=token.id)
        assert woken.wait(2), "no notification after a committed change"

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
