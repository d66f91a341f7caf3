"""The web console's sessions in SQL: the store side of ``tokenward.console.sessions``'s
``SessionStore`` port, which this module implements without importing it.

Each call is its own short transaction on the engine. A session is written at sign-in, when
its last use is refreshed (at most about once a minute, not on every page) and at its end.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, or_, select, update
from sqlalchemy.exc import OperationalError

from tokenward.store.errors import unavailable
from tokenward.store.tables import console_sessions as table


class SqlConsoleSessions:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, id_hash: str, *, sealed_credential: bytes, actor: str, now: datetime) -> None:
        self._write(
            insert(table).values(
                id_hash=id_hash,
                sealed_credential=sealed_credential,
                actor=actor,
                created_at=now,
                last_seen_at=now,
            )
        )

    def get(self, id_hash: str) -> tuple[bytes, datetime, datetime] | None:
        """The sealed credential, the sign-in time and the last use; None if unknown."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(
                        table.c.sealed_credential, table.c.created_at, table.c.last_seen_at
                    ).where(table.c.id_hash == id_hash)
                ).one_or_none()
        except OperationalError as exc:
            raise unavailable(exc) from exc
        if row is None:
            return None
        return bytes(row.sealed_credential), row.created_at, row.last_seen_at

    def touch(self, id_hash: str, now: datetime) -> None:
        self._write(update(table).where(table.c.id_hash == id_hash).values(last_seen_at=now))

    def remove(self, id_hash: str) -> None:
        self._write(delete(table).where(table.c.id_hash == id_hash))

    def remove_stale(self, *, idle_before: datetime, created_before: datetime) -> None:
        self._write(
            delete(table).where(
                or_(table.c.last_seen_at < idle_before, table.c.created_at < created_before)
            )
        )

    def _write(self, statement: object) -> None:
        try:
            with self._engine.connect() as conn:
                conn = conn.execution_options(tokenward_write=True)  # SQLite: BEGIN IMMEDIATE
                with conn.begin():
                    conn.execute(statement)  # type: ignore[call-overload]
        except OperationalError as exc:
            raise unavailable(exc) from exc
