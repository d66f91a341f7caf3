"""Small helpers for tests that drive the native API."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tokenward.domain.actors import Actor
from tokenward.service import tenants
from tokenward.service.core import Core

#: The ``tokenward`` command of the interpreter running the tests.
TOKENWARD = Path(sys.executable).parent / "tokenward"
ROOT_TOKEN = "test-root-credential-0123456789abcdefghij"
ROOT_HEADERS = {"Authorization": f"Bearer {ROOT_TOKEN}"}
#: The PostgreSQL server where the tests make their databases (tests/conftest.py).
PG_ADMIN_URL = os.environ.get(
    "TOKENWARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def issue(
    client: TestClient,
    tenant: str = "default",
    *,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Issues a token through the native API and returns the 201 body (with ``secret``)."""
    fields.setdefault("name", "test token")
    response = client.post(
        f"/v1/tenants/{tenant}/tokens", json=fields, headers=headers or ROOT_HEADERS
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def manager(client: TestClient, tenant: str = "default", **fields: Any) -> dict[str, Any]:
    """A management token (audience ``tokenward``) of ``tenant``, issued by root."""
    fields.setdefault("audience", ["tokenward"])
    fields.setdefault("name", f"{fields.get('role', 'viewer')} manager")
    return issue(client, tenant, **fields)


def tenant(
    via: httpx.Client | Core,
    name: str = "acme",
    *,
    headers: dict[str, str] | None = None,
    exist_ok: bool = False,
) -> str:
    """Creates the tenant ``name`` as root and returns its name: through the native API of a
    test client or a real server's ``httpx.Client`` (``headers``: root's, ``ROOT_HEADERS`` by
    default), or through the service on a ``Core``. ``exist_ok``: one that already exists is
    no failure (a test that comes back to it)."""
    if isinstance(via, Core):
        if not (exist_ok and _exists(via, name)):
            tenants.create(via, Actor.root(), name=name)
        return name
    answer = via.post("/v1/tenants", json={"name": name}, headers=headers or ROOT_HEADERS)
    assert answer.status_code == 201 or (exist_ok and answer.status_code == 409), answer.text
    return name


def _exists(core: Core, name: str) -> bool:
    return any(found.name == name for found in tenants.list_all(core, Actor.root()))


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now, for a real server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: Every table a test may leave rows in; the others are emptied by the cascade.
_TABLES = (
    "tokens, token_secrets, tenants, audit, root_credential, token_changes, signing_keys, "
    "issued_jwts, token_usage, console_sessions, outbox_events"
)


def empty_postgres(url: str) -> str:
    """Empties the shared PostgreSQL test database (but for the ``default`` tenant): what
    another test sealed with its own key must not stop a server started on it.

    What ``TRUNCATE {_TABLES} RESTART IDENTITY CASCADE`` would empty, by DELETE with the
    foreign-key triggers off (``session_replication_role``): a TRUNCATE makes new files for
    every table it touches, a third of a second more per test, and nearly every table here
    holds a few rows."""
    from sqlalchemy import text

    from tokenward.store.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        tables, sequences = _emptied_by_truncate(conn, url)
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
        for sequence in sequences:
            conn.execute(text(f"SELECT setval('\"{sequence}\"', 1, false)"))
        conn.execute(text("SET LOCAL session_replication_role = origin"))
        conn.execute(text("INSERT INTO tenants (name, created_at) VALUES ('default', 0)"))
    engine.dispose()
    return url


_EMPTIED: dict[str, tuple[list[str], list[str]]] = {}


def _emptied_by_truncate(conn: Any, url: str) -> tuple[list[str], list[str]]:
    """The tables a ``TRUNCATE ... CASCADE`` of ``_TABLES`` reaches (those and every table
    that refers to one of them, transitively) and the sequences their columns own."""
    if url not in _EMPTIED:
        from sqlalchemy import text

        refers = conn.execute(
            text(
                "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text "
                "FROM pg_constraint c WHERE c.contype = 'f'"
            )
        ).all()
        reached = {name.strip() for name in _TABLES.split(",")}
        while True:
            more = {child for child, parent in refers if parent in reached} - reached
            if not more:
                break
            reached |= more
        owned = conn.execute(
            text(
                "SELECT s.relname, t.relname FROM pg_class s "
                "JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a' "
                "JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S'"
            )
        ).all()
        _EMPTIED[url] = (
            sorted(reached),
            sorted(sequence for sequence, table in owned if table in reached),
        )
    return _EMPTIED[url]
