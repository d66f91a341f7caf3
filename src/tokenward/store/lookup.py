"""The verification path's reads, on the database driver directly.

Building a SQLAlchemy statement, opening a unit of work and processing the row through the
column types cost many times the indexed join itself on the driver (the figures are in
bench/RESULTS.md). The lookups keep their own connections outside the engine's pool: on
SQLite its checkout and reset cost a share of a lookup; on PostgreSQL three round trips more
than the query (pre-ping, BEGIN, rollback), where an autocommit connection needs the query's
alone. On PostgreSQL the lookup also goes below psycopg's cursor, to libpq's prepared-statement
call: the cursor's machinery and its per-column loaders cost more client time than the round
trip itself.
These are the only queries written by hand:
the column list comes from ``tables.py``, so the two cannot drift apart.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import pq
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import PoolProxiedConnection

from tokenward.domain.clock import from_millis
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token, TokenType
from tokenward.store.controls import credits_of, rate_limits_of
from tokenward.store.engine import make_engine
from tokenward.store.errors import unavailable
from tokenward.store.tables import retired_secrets, token_secrets, tokens
from tokenward.store.wal_index import WalIndex

_FIELDS = Token.__dataclass_fields__
_COLUMNS = [column.name for column in tokens.c]
assert sorted(_COLUMNS) == sorted(_FIELDS), "tokens columns and Token fields must match"
# Names come from tables.py, never from input; the hash is a bound parameter. The columns are
# selected in the order of Token's fields, so that a row converts position by position.
_BY_HASH = (
    f" FROM {token_secrets.name} s JOIN {tokens.name} t ON t.id = s.token_id WHERE s.secret_hash = "
)
#: The token as one JSON array and its sealed secret, not as 23 columns: the drivers describe
#: and convert every column of every row, so one column costs fewer instructions than 23.
#: SQLite: the JSON columns travel in it as strings and are parsed here (SQLite's ``json()``
#: would parse and write each again, which measured slower).
_JSON_FIELDS = ("scopes", "audience", "resources", "metadata", "rate_limits", "ip_allowlist")
#: A JSON column that may be NULL (no credits): json_array holds it as null, not as text.
_NULLABLE_JSON_FIELDS = ("credits",)
_SEALED = list(_FIELDS).index("sealed_secret")
_IN_DOCUMENT = [name for name in _FIELDS if name != "sealed_secret"]
_JSON_IN_DOCUMENT = tuple(_IN_DOCUMENT.index(name) for name in _JSON_FIELDS)
_NULLABLE_JSON_IN_DOCUMENT = tuple(_IN_DOCUMENT.index(name) for name in _NULLABLE_JSON_FIELDS)
_DOCUMENT = ", ".join(f't."{name}"' for name in _IN_DOCUMENT) + ", s.retires_at"
_SQLITE_SQL = "SELECT json_array(" + _DOCUMENT + "), t.sealed_secret" + _BY_HASH + "?"
#: PostgreSQL: ``json_build_array`` nests the JSON columns as JSON, so one parse of the array
#: makes the whole row. Prepared under its own name on each of the lookups' connections.
_POSTGRES_SQL = "SELECT json_build_array(" + _DOCUMENT + "), t.sealed_secret" + _BY_HASH + "$1"
_POSTGRES_STATEMENT = b"tokenward_lookup"
_TEXT_OID = 25
#: Set in a lookup connection's pool record once the statement is prepared on it.
_PREPARED = "tokenward_lookup_prepared"
# The hashes for the known-secrets filter: those that open a token and those kept after a
# rotation retired them (reuse detection), so that a kept copy presented again is never
# refused by the filter alone but reaches the verification path that can recognise it.
_KEPT = f"SELECT secret_hash FROM {retired_secrets.name}"  # noqa: S608
_ALL_HASHES = (
    f"SELECT secret_hash FROM {token_secrets.name} UNION ALL {_KEPT} r WHERE NOT EXISTS"  # noqa: S608
    f" (SELECT 1 FROM {token_secrets.name} s WHERE s.secret_hash = r.secret_hash)"
)
_HASHES_OF = (
    f"SELECT secret_hash FROM {token_secrets.name} WHERE token_id IN ({{params}})"  # noqa: S608
    f" UNION ALL {_KEPT} WHERE token_id IN ({{params}})"
)
_COUNT_HASHES = (
    f"SELECT (SELECT count(*) FROM {token_secrets.name})"  # noqa: S608
    f" + (SELECT count(*) FROM {retired_secrets.name})"
)
_TYPES = {member.value: member for member in TokenType}
_ROLES = {member.value: member for member in Role}
_BATCH = 10_000
#: Lookup connections kept between lookups; more are opened for a burst and then closed. Each
#: has its own page cache, so one per thread of the pool would cost tens of MB at 1M tokens.
_IDLE_CONNECTIONS = 4
#: Per lookup connection: the index's upper levels; its leaves come from the OS's page cache.
_PAGE_CACHE_KIB = 1024
#: A SQLite lookup runs on the event loop (``reads_locally``). In WAL mode a reader waits for
#: no writer; a lock it cannot get within this is a 503, not a stalled worker.
_SQLITE_LOOKUP_BUSY_MS = 100
#: PostgreSQL: the lookups' own connections per process, all kept (a connection made for a
#: burst and closed after it costs a server process's start); more lookups at once wait.
_POSTGRES_CONNECTIONS = 8
#: Seconds a lookup waits for one of them before the database counts as unavailable.
_POSTGRES_WAIT = 5.0
#: A prepared statement gone stale: a migration changed a selected column's type, or a pooler
#: in transaction mode (PgBouncer) does not keep prepared statements across transactions.
_STALE_STATEMENT = (psycopg.errors.FeatureNotSupported, psycopg.errors.InvalidSqlStatementName)
_COMMAND_OK, _TUPLES_OK = pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK
_BINARY = pq.Format.BINARY


class SqlSecretLookup:
    def __init__(
        self,
        engine: Engine,
        *,
        postgres_connections: int = _POSTGRES_CONNECTIONS,
        postgres_wait: float = _POSTGRES_WAIT,
    ) -> None:
        """``postgres_connections`` and ``postgres_wait``: the bound on the lookups' own
        PostgreSQL connections and how long a lookup waits for one (a test of the bound
        makes it small)."""
        self._engine = engine
        self._postgres_connections = postgres_connections
        self._postgres_wait = postgres_wait
        self._postgres = engine.dialect.name == "postgresql"
        self._param = "%s" if self._postgres else "?"
        self._sql = _SQLITE_SQL
        database = engine.url.database
        self._sqlite_path = (
            None if self._postgres or database in (None, "", ":memory:") else database
        )
        #: A cursor on each connection: reusing one saves making one per lookup.
        self._idle: list[sqlite3.Cursor] = []
        #: PostgreSQL: made at the first lookup, so that a process that never verifies
        #: (a CLI command) opens no more connections than its unit of work needs.
        self._postgres_engine: Engine | None = None
        #: Guards what is opened once: the version connection and the PostgreSQL engine.
        self._open_lock = threading.Lock()
        self._version_connection: sqlite3.Connection | None = None
        self._wal_index: WalIndex | None = None
        if self._postgres:
            # Whoever disposes of the engine (a CLI command, a test) closes these too.
            event.listen(engine, "engine_disposed", self._close_postgres)

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        if self._sqlite_path is not None:
            # list.pop and list.append are atomic under the GIL: no lock on this path.
            cursor: sqlite3.Cursor | None
            try:
                cursor = self._idle.pop()
            except IndexError:
                cursor = None
            try:
                if cursor is None:
                    cursor = self._connect().cursor()
                found = cursor.execute(self._sql, (secret_hash,)).fetchone()
            except sqlite3.Error as exc:  # busy beyond the timeout, unreadable, missing
                if cursor is not None:
                    cursor.connection.close()
                raise unavailable(exc) from exc
            if len(self._idle) < _IDLE_CONNECTIONS:
                self._idle.append(cursor)
            else:
                cursor.connection.close()
        elif self._postgres:
            row = self._postgres_fetch((secret_hash,))
            if row is None:
                return None
            return _token(row), _instant(row[-1])
        else:
            found = self._pooled_fetch(self._sql, (secret_hash,))
        if found is None:
            return None
        row = _from_document(*found)
        return _token(row), _instant(row[-1])

    @property
    def reads_locally(self) -> bool:
        return self._sqlite_path is not None

    def changed(self, token_ids: Sequence[int | None]) -> None:
        """Nothing to do: these reads see every commit (``ReplicaLookup`` has work here)."""

    def hashes(self, token_ids: Sequence[int] | None = None) -> Iterator[str]:
        """Every stored secret hash, kept rotated-out ones included (``None``), or those of
        the given tokens, in batches."""
        if token_ids is not None and not token_ids:
            return
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            if token_ids is None:
                cursor.execute(_ALL_HASHES)
            else:
                params = ", ".join([self._param] * len(token_ids))
                cursor.execute(_HASHES_OF.format(params=params), (*token_ids, *token_ids))
            while rows := cursor.fetchmany(_BATCH):
                for (secret_hash,) in rows:
                    yield secret_hash
            cursor.close()
        finally:
            connection.close()

    def count_hashes(self) -> int:
        row = self._pooled_fetch(_COUNT_HASHES, ())
        return int(row[0])

    def version(self) -> Hashable | None:
        """A value that changes whenever another connection commits to the store, or None
        where no such value is cheap to read (PostgreSQL).

        On SQLite, the WAL index's header (see ``wal_index.py``), or else ``PRAGMA
        data_version`` on a connection that never writes (several times slower).
        """
        if self._sqlite_path is None:
            return None
        wal = self._wal_index
        if wal is not None:
            header = wal.header()
            if header is not None:
                return header
        return self._data_version()

    def _data_version(self) -> tuple[str, int]:
        assert self._sqlite_path is not None
        with self._open_lock:
            try:
                if self._version_connection is None:
                    self._version_connection = self._connect()
                    row = self._version_connection.execute("PRAGMA data_version").fetchone()
                    # The connection's first read has made and attached the WAL index.
                    if self._wal_index is None:
                        self._wal_index = WalIndex.open(self._sqlite_path)
                else:
                    row = self._version_connection.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error as exc:  # read on the event loop too: a 503, not a 500
                if self._version_connection is not None:
                    self._version_connection.close()
                    self._version_connection = None
                raise unavailable(exc) from exc
        return ("data_version", int(row[0]))

    def close(self) -> None:
        """Closes the lookups' connections, then releases the WAL index: its descriptor may
        close only once this process's SQLite connections are closed (see ``WalIndex``), so
        the owner of the engine disposes of it first."""
        idle, self._idle = self._idle, []
        opened = [cursor.connection for cursor in idle]
        self._close_postgres()
        with self._open_lock:
            wal_index, self._wal_index = self._wal_index, None
            if self._version_connection is not None:
                opened.append(self._version_connection)
                self._version_connection = None
        for connection in opened:
            connection.close()
        if wal_index is not None:
            wal_index.release()

    def _connect(self) -> sqlite3.Connection:
        assert self._sqlite_path is not None
        # Autocommit: each SELECT reads the latest committed state and holds no snapshot.
        connection = sqlite3.connect(
            self._sqlite_path, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout={_SQLITE_LOOKUP_BUSY_MS}")
        connection.execute("PRAGMA query_only=ON")
        connection.execute(f"PRAGMA cache_size=-{_PAGE_CACHE_KIB}")
        return connection

    def _postgres_fetch(self, params: tuple[Any, ...]) -> Any:
        """The row, on a kept connection. One that the server dropped, or whose prepared
        statement went stale, is not used again and the lookup moves to another: after a
        restart every kept connection is dead, and the try after them all makes a new one."""
        engine = self._postgres_engine or self._open_postgres()
        failure: psycopg.Error | None = None
        for _ in range(self._postgres_connections + 1):
            try:
                connection = engine.raw_connection()
            except (psycopg.Error, DBAPIError, PoolTimeout) as exc:  # no server, pool empty
                raise unavailable(exc) from exc
            try:
                return _postgres_row(connection, params[0])
            except psycopg.Error as exc:
                driver = connection.driver_connection
                lost = driver is None or driver.closed or driver.broken
                if not (lost or isinstance(exc, _STALE_STATEMENT)):
                    raise unavailable(exc) from exc
                connection.invalidate(exc)
                failure = exc
            finally:
                connection.close()
        assert failure is not None
        raise unavailable(failure) from failure

    def _open_postgres(self) -> Engine:
        """The lookups' own pool of autocommit connections without a pre-ping: the engine's
        pool pings, begins and rolls back each checkout, four round trips where a lookup
        needs one. Kept, they keep the lookup prepared (``_postgres_row``): planning the
        join was most of an unprepared lookup."""
        with self._open_lock:
            if self._postgres_engine is None:
                self._postgres_engine = make_engine(
                    self._engine.url.render_as_string(hide_password=False),
                    isolation_level="AUTOCOMMIT",
                    pool_pre_ping=False,
                    pool_reset_on_return=None,
                    pool_size=self._postgres_connections,
                    max_overflow=0,
                    pool_timeout=self._postgres_wait,
                )
            return self._postgres_engine

    def _close_postgres(self, *_: object) -> None:
        with self._open_lock:
            engine, self._postgres_engine = self._postgres_engine, None
        if engine is not None:
            engine.dispose()

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


def _postgres_row(connection: PoolProxiedConnection, secret_hash: str) -> list[Any] | None:
    """The row of ``_POSTGRES_SQL``, in the order of ``_token``, through libpq directly: one
    call that sends the prepared statement and waits for its result (with the GIL released),
    the two values read in binary (``json`` as its text, ``bytea`` as its bytes). Errors are
    psycopg's own classes, as a cursor would raise them. Autocommit: no transaction to end."""
    driver = connection.driver_connection
    assert driver is not None
    pgconn = driver.pgconn
    if not connection.info.get(_PREPARED):
        prepared = pgconn.prepare(_POSTGRES_STATEMENT, _POSTGRES_SQL.encode(), [_TEXT_OID])
        if prepared.status != _COMMAND_OK:
            raise psycopg.errors.error_from_result(prepared, encoding=driver.info.encoding)
        connection.info[_PREPARED] = True
    result = pgconn.exec_prepared(
        _POSTGRES_STATEMENT, [secret_hash.encode()], result_format=_BINARY
    )
    if result.status != _TUPLES_OK:
        raise psycopg.errors.error_from_result(result, encoding=driver.info.encoding)
    if not result.ntuples:
        return None
    document = result.get_value(0, 0)
    assert document is not None  # json_build_array is never NULL
    row: list[Any] = orjson.loads(document)
    row.insert(_SEALED, result.get_value(0, 1))
    return row


# Why ``_token`` does not call ``Token(...)``: a frozen dataclass's __init__ sets each of the
# 22 fields through object.__setattr__, a noticeable share of a whole miss; the slots' own
# descriptors, called one by one, set them in well under half of that (bench/RESULTS.md).
# ``_token`` is the one place that does this, and it makes exactly what ``Token(...)`` would:
# valid only while __init__ does nothing else (no __post_init__, no defaults; asserted
# below), and a new field needs its setter here. The lookup tests compare every field with
# the repository's ``Token(...)`` (tests/integration/test_store.py).
assert not hasattr(Token, "__post_init__")


def _setter(field: str) -> Callable[[Token, Any], None]:
    """The slot descriptor's setter of one of Token's fields, by name."""
    setter: Callable[[Token, Any], None] = Token.__dict__[field].__set__
    return setter


_set_id = _setter("id")
_set_tenant = _setter("tenant")
_set_name = _setter("name")
_set_description = _setter("description")
_set_type = _setter("type")
_set_principal = _setter("principal")
_set_owner = _setter("owner")
_set_user = _setter("user")
_set_role = _setter("role")
_set_scopes = _setter("scopes")
_set_audience = _setter("audience")
_set_resources = _setter("resources")
_set_restricted = _setter("restricted")
_set_active = _setter("active")
_set_expires_at = _setter("expires_at")
_set_created_at = _setter("created_at")
_set_updated_at = _setter("updated_at")
_set_last_used_at = _setter("last_used_at")
_set_secret_hash = _setter("secret_hash")
_set_secret_hint = _setter("secret_hint")
_set_sealed_secret = _setter("sealed_secret")
_set_metadata = _setter("metadata")
_set_rate_limits = _setter("rate_limits")
_set_credits = _setter("credits")
_set_ip_allowlist = _setter("ip_allowlist")
_new_object = object.__new__


def _token(row: Sequence[Any]) -> Token:
    """A Token from a lookup row (its columns in field order, then ``retires_at``), equal to
    what ``Token(...)`` would make of the converted values."""
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
        rate_limits,
        credits,
        ip_allowlist,
        _retires_at,
    ) = row
    token: Token = _new_object(Token)
    # Both drivers hand back integer columns as int: no int() around them.
    created = from_millis(created_at)
    _set_id(token, id_)
    _set_tenant(token, tenant)
    _set_name(token, name)
    _set_description(token, description)
    _set_type(token, _TYPES[type_])
    _set_principal(token, principal)
    _set_owner(token, owner)
    _set_user(token, user)
    _set_role(token, _ROLES[role])
    _set_scopes(token, tuple(scopes))
    _set_audience(token, tuple(audience))
    _set_resources(token, tuple(resources))
    _set_restricted(token, bool(restricted))
    _set_active(token, bool(active))
    _set_expires_at(token, _instant(expires_at))
    _set_created_at(token, created)
    _set_updated_at(token, created if updated_at == created_at else from_millis(updated_at))
    _set_last_used_at(token, _instant(last_used_at))
    _set_secret_hash(token, secret_hash)
    _set_secret_hint(token, secret_hint)
    _set_sealed_secret(token, None if sealed_secret is None else bytes(sealed_secret))
    _set_metadata(token, metadata)
    # Most tokens have no controls: an empty list or NULL, mapped without a call.
    _set_rate_limits(token, rate_limits_of(rate_limits) if rate_limits else ())
    _set_credits(token, None if credits is None else credits_of(credits))
    _set_ip_allowlist(token, tuple(ip_allowlist) if ip_allowlist else ())
    return token


def _from_document(document: str, sealed: bytes | None) -> list[Any]:
    """The row of ``_SQLITE_SQL``: its JSON array, with the JSON columns parsed and the
    sealed secret put back in place."""
    row: list[Any] = orjson.loads(document)
    for index in _JSON_IN_DOCUMENT:
        row[index] = orjson.loads(row[index])
    for index in _NULLABLE_JSON_IN_DOCUMENT:
        if row[index] is not None:
            row[index] = orjson.loads(row[index])
    row.insert(_SEALED, sealed)
    return row


def _instant(millis: int | None) -> datetime | None:
    return None if millis is None else from_millis(millis)
