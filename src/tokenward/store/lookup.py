"""The verification path's reads, on the database driver directly.

Building a SQLAlchemy statement, opening a unit of work and processing the row through the
column types cost about 200 µs a lookup; the same indexed join on the driver costs about
10 µs on SQLite. On SQLite each thread keeps a connection of its own, outside the pool
(whose checkout and reset cost another 6 µs). These are the only queries written by hand:
the column list comes from ``tables.py``, so the two cannot drift apart.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine

from tokenward.domain.clock import from_millis
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token, TokenType
from tokenward.store.engine import SQLITE_BUSY_TIMEOUT_MS
from tokenward.store.tables import token_secrets, tokens

_FIELDS = Token.__dataclass_fields__
_COLUMNS = [column.name for column in tokens.c]
assert sorted(_COLUMNS) == sorted(_FIELDS), "tokens columns and Token fields must match"
# Names come from tables.py, never from input; the hash is a bound parameter. The columns are
# selected in the order of Token's fields, so that a row converts position by position.
_SQL = (
    "SELECT "  # noqa: S608
    + ", ".join(f't."{name}"' for name in _FIELDS)
    + f", s.retires_at FROM {token_secrets.name} s JOIN {tokens.name} t ON t.id = s.token_id"
    " WHERE s.secret_hash = {param}"
)
_ALL_HASHES = f"SELECT secret_hash FROM {token_secrets.name}"  # noqa: S608
_HASHES_OF = _ALL_HASHES + " WHERE token_id IN ({params})"
_COUNT_HASHES = f"SELECT count(*) FROM {token_secrets.name}"  # noqa: S608
_TYPES = {member.value: member for member in TokenType}
_ROLES = {member.value: member for member in Role}
_BATCH = 10_000


class SqlSecretLookup:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._param = "%s" if self._postgres else "?"
        self._sql = _SQL.format(param=self._param)
        database = engine.url.database
        self._sqlite_path = (
            None if self._postgres or database in (None, "", ":memory:") else database
        )
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._version_lock = threading.Lock()
        self._version_connection: sqlite3.Connection | None = None

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        if self._sqlite_path is not None:
            row = self._own_connection().execute(self._sql, (secret_hash,)).fetchone()
        else:
            row = self._pooled_fetch(self._sql, (secret_hash,))
        if row is None:
            return None
        retires_at = row[-1]
        return _token(row), None if retires_at is None else from_millis(int(retires_at))

    def hashes(self, token_ids: Sequence[int] | None = None) -> Iterator[str]:
        """Every stored secret hash (``None``), or those of the given tokens, in batches."""
        if token_ids is not None and not token_ids:
            return
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            if token_ids is None:
                cursor.execute(_ALL_HASHES)
            else:
                params = ", ".join([self._param] * len(token_ids))
                cursor.execute(_HASHES_OF.format(params=params), tuple(token_ids))
            while rows := cursor.fetchmany(_BATCH):
                for (secret_hash,) in rows:
                    yield secret_hash
            cursor.close()
        finally:
            connection.close()

    def count_hashes(self) -> int:
        row = self._pooled_fetch(_COUNT_HASHES, ())
        return int(row[0])

    def version(self) -> int | None:
        """A number that changes whenever another connection commits to the store, or None
        where no such number is cheap to read (PostgreSQL).

        SQLite's ``PRAGMA data_version`` on a connection that never writes: about 3 µs.
        """
        if self._sqlite_path is None:
            return None
        with self._version_lock:
            if self._version_connection is None:
                self._version_connection = self._connect()
            row = self._version_connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        with self._version_lock:
            if self._version_connection is not None:
                opened.append(self._version_connection)
                self._version_connection = None
        for connection in opened:
            connection.close()

    def _own_connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            with self._opened_lock:
                self._opened.append(connection)
                self._local.connection = connection
        return connection

    def _connect(self) -> sqlite3.Connection:
        assert self._sqlite_path is not None
        # Autocommit: each SELECT reads the latest committed state and holds no snapshot.
        connection = sqlite3.connect(
            self._sqlite_path, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA query_only=ON")
        return connection

    def _pooled_fetch(self, sql: str, params: tuple[Any, ...]) -> Any:
        # The pool hands out a checked connection and rolls it back when it returns.
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            row = cursor.fetchone()
            cursor.close()
        finally:
            connection.close()
        return row


def _token(row: Sequence[Any]) -> Token:
    (
        id_,
        tenant,
        name,
        description,
        type_,
        principal,
        owner,
        user,
        role,
        scopes,
        audience,
        resources,
        restricted,
        active,
        expires_at,
        created_at,
        updated_at,
        last_used_at,
        secret_hash,
        secret_hint,
        sealed_secret,
        metadata,
        _retires_at,
    ) = row
    return Token(
        id=int(id_),
        tenant=tenant,
        name=name,
        description=description,
        type=_TYPES[type_],
        principal=principal,
        owner=owner,
        user=user,
        role=_ROLES[role],
        scopes=tuple(_json(scopes)),
        audience=tuple(_json(audience)),
        resources=tuple(_json(resources)),
        restricted=bool(restricted),
        active=bool(active),
        expires_at=_instant(expires_at),
        created_at=from_millis(int(created_at)),
        updated_at=from_millis(int(updated_at)),
        last_used_at=_instant(last_used_at),
        secret_hash=secret_hash,
        secret_hint=secret_hint,
        sealed_secret=None if sealed_secret is None else bytes(sealed_secret),
        metadata=_json(metadata),
    )


def _json(value: Any) -> Any:
    """SQLite hands JSON columns back as text; psycopg has already parsed them."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _instant(millis: Any) -> datetime | None:
    return None if millis is None else from_millis(int(millis))
