"""The lock that lets one webhook dispatcher run at a time across a deployment.

PostgreSQL: a session advisory lock on a connection of its own, which the server frees when
the holder's connection ends (a ``kill -9`` included). SQLite: an exclusive ``flock`` on a file
beside the database, which the kernel frees when the holder dies. Either way no lease has to
run out before another process takes over.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from tokenward.store.engine import sqlite_file

log = logging.getLogger("tokenward")

#: The advisory lock's key: any constant that no other lock of tokenward uses.
DISPATCH_LOCK_KEY = 7_032_018
LOCK_SUFFIX = ".dispatch-lock"


class PostgresDispatchLock:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._conn is not None:
                try:  # still ours while the session lives
                    self._conn.execute(text("SELECT 1"))
                    return True
                except DBAPIError:
                    log.warning("the dispatch lock's connection ended; taking it again")
                    self._drop()
            try:
                conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                held = conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": DISPATCH_LOCK_KEY}
                ).scalar()
            except DBAPIError:
                return False
            if held:
                self._conn = conn
                return True
            conn.close()
            return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.invalidate()  # a broken session: never back to the pool

    def release(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": DISPATCH_LOCK_KEY})
                conn.close()
            except DBAPIError:
                with contextlib.suppress(DBAPIError):
                    conn.invalidate()


class FileDispatchLock:
    """For SQLite files; a database in memory has one process, which always holds it."""

    def __init__(self, engine: Engine) -> None:
        database = sqlite_file(engine)
        self.path = None if database is None else database.with_name(database.name + LOCK_SUFFIX)
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def try_acquire(self) -> bool:
        with self._mutex:
            if self.path is None or self._fd is not None:
                return True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
            return True

    def release(self) -> None:
        with self._mutex:
            fd, self._fd = self._fd, None
            if fd is not None:
                os.close(fd)  # closing the descriptor releases the flock


def dispatch_lock(engine: Engine) -> PostgresDispatchLock | FileDispatchLock:
    if engine.dialect.name == "postgresql":
        return PostgresDispatchLock(engine)
    return FileDispatchLock(engine)
