"""Engines for the two backends, with the settings each needs to be safe under load."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from tokenward.files import tighten

SQLITE_BUSY_TIMEOUT_MS = 10_000


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{data_dir / 'tokenward.db'}"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here, not SQLAlchemy's default driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **options: Any) -> Engine:
    url = normalise_url(url)
    # Errors are logged; their SQL parameters (hashes, sealed secrets) must not be.
    options.setdefault("hide_parameters", True)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, **options)
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 10)
    return create_engine(url, **options)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, full fsync; and transactions that we begin.

    pysqlite begins transactions lazily and in DEFERRED mode: a read-then-write transaction
    can then fail with "database is locked" instead of waiting. Writers begin IMMEDIATE, so
    they queue on the write lock (bounded by the busy timeout) from their first statement.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("tokenward_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine; None for other backends, memory and URI names."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.query.get("uri") in ("true", "1"):
        return None
    if url.database in (None, "", ":memory:"):
        return None
    return Path(os.path.abspath(url.database))  # as SQLite opened it, whatever the cwd later


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def secure_sqlite_files(url: str) -> None:
    """The database file is created 0600 before SQLite opens it, so its ``-wal`` and ``-shm``
    (which SQLite creates with the database's mode) are too; an older installation's looser
    modes are tightened, and a log line says so. The files hold every token's hash and the
    sealed secrets: no other user of the host has business reading them."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri") in ("true", "1"):
        return
    if parsed.database in (None, "", ":memory:"):
        return
    database = Path(parsed.database)
    # Exists already, or cannot be made (a read-only file system): SQLite says what it finds.
    with contextlib.suppress(OSError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for path in (database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))):
        tighten(path, 0o600)
