"""One transaction per service call (cosmic python's unit of work, on SQLAlchemy Core).

SQLite writes one transaction at a time, and every commit waits for an fsync. Its writers
therefore queue, threads of a process on a lock and processes on a file lock, and those of a
process that queue together share one transaction (group commit): each runs in a savepoint
of it, so that its failure undoes its own work only, and each returns from ``commit()`` once
the shared transaction is durable. What a service sees is unchanged: its writes are
committed, or refused with the same errors, when ``commit()`` returns.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tokenward.domain.errors import Conflict, TokenwardError, Unavailable
from tokenward.store.engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_file
from tokenward.store.repositories import (
    SqlAuditRepository,
    SqlChangeLog,
    SqlCredentialRepository,
    SqlTenantRepository,
    SqlTokenRepository,
)
from tokenward.store.write_lock import FileWriteLock

#: Writers in one shared transaction at most: bounds the wait of the first of them, and how
#: long the other processes wait for the file lock.
MAX_BATCH = 32

#: Below this, a SQLite database is not ready: a write may fail (a create writes a few pages,
#: and a checkpoint more).
MIN_FREE_BYTES = 1024 * 1024


class SqlUnitOfWork:
    tokens: SqlTokenRepository
    tenants: SqlTenantRepository
    audit: SqlAuditRepository
    credentials: SqlCredentialRepository
    changes: SqlChangeLog

    def __init__(
        self, engine: Engine, *, write: bool = False, writers: SqliteWriters | None = None
    ) -> None:
        self._engine = engine
        self._write = write
        self._writers = writers if write else None
        self._conn: Connection | None = None
        self._batch: _Batch | None = None

    def __enter__(self) -> SqlUnitOfWork:
        if self._writers is not None:
            self._batch = self._writers.join()
            self._bind(self._batch.conn)
            return self
        try:
            conn = self._engine.connect()
        except OperationalError as exc:
            raise unavailable(exc) from exc
        if self._write:
            conn = conn.execution_options(tokenward_write=True)
        try:
            conn.begin()
        except OperationalError as exc:
            conn.close()
            raise unavailable(exc) from exc
        self._bind(conn)
        return self

    def _bind(self, conn: Connection) -> None:
        self._conn = conn
        self.tokens = SqlTokenRepository(conn)
        self.tenants = SqlTenantRepository(conn)
        self.audit = SqlAuditRepository(conn)
        self.credentials = SqlCredentialRepository(conn)
        self.changes = SqlChangeLog(conn)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        conn, self._conn = self._conn, None
        batch, self._batch = self._batch, None
        if batch is not None:  # not committed: undo this writer's part
            assert self._writers is not None
            self._writers.leave(batch, ok=False)
        elif self._writers is None:
            try:
                conn.rollback()  # a no-op after commit
            finally:
                conn.close()
        if isinstance(exc, IntegrityError):
            raise Conflict("the change conflicts with the stored state") from exc
        if isinstance(exc, OperationalError):
            raise unavailable(exc) from exc

    def commit(self) -> None:
        """Returns once the writes are durable. On SQLite it ends the unit of work: the
        connection goes on to other writers, so no statement may follow."""
        if self._writers is not None:
            batch, self._batch = self._batch, None
            assert batch is not None, "committed twice"
            self._writers.leave(batch, ok=True)
            return
        assert self._conn is not None
        try:
            self._conn.commit()
        except IntegrityError as exc:
            raise Conflict("the change conflicts with the stored state") from exc
        except OperationalError as exc:
            raise unavailable(exc) from exc


class _Batch:
    """One SQLite write transaction, shared by the writers of a process that queued for it."""

    __slots__ = ("conn", "done", "driver", "error", "members")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        #: For the savepoints, a tenth of the cost through SQLAlchemy (they are not its own).
        self.driver: Any = conn.connection.driver_connection
        self.members = 0
        self.done = threading.Event()
        #: What sank the transaction: then no writer of the batch has its writes stored.
        self.error: BaseException | None = None


class SqliteWriters:
    """The writers of one SQLite database in this process, and their group commit.

    A writer waits for its turn (``threading.Lock``: it wakes the moment the turn is free,
    unlike in SQLite's busy handler, which polls with sleeps of up to 100 ms). The first of a
    batch takes the file lock that orders the processes and begins the transaction; each
    then works in a savepoint. One that ends while others are queued hands the open
    transaction on and waits; the last one (or the ``MAX_BATCH``-th) commits it for all.
    """

    def __init__(self, engine: Engine, *, timeout: float, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self.timeout = timeout
        database = sqlite_file(engine)
        self._file_lock = FileWriteLock(database) if database is not None else None
        # The connections of a memory database may not pass to another thread.
        self._max_batch = max_batch if database is not None else 1
        self._turn = threading.Lock()
        self._queued = 0
        self._queued_lock = threading.Lock()
        self._batch: _Batch | None = None

    def join(self) -> _Batch:
        """This thread's turn, in the open transaction (begun if none is), in a savepoint."""
        deadline = time.monotonic() + self.timeout
        with self._queued_lock:
            self._queued += 1
        try:
            got = self._turn.acquire(timeout=self.timeout)
        except BaseException:  # interrupted, maybe after a writer counted on this one
            with self._queued_lock:
                self._queued -= 1
                rescue = self._turn.acquire(blocking=False)
            if rescue:
                if self._batch is not None:
                    self._finish(self._batch)
                else:
                    self._turn.release()
            raise
        with self._queued_lock:
            # A writer that hands the batch on does so under this lock, counting on a queued
            # one to take the turn: one whose wait timed out just then takes it here.
            self._queued -= 1
            got = got or self._turn.acquire(blocking=False)
        if not got:
            raise Unavailable("the database is busy; try again")
        if self._batch is None:
            try:
                self._batch = self._begin(deadline)
            except BaseException:
                self._turn.release()
                raise
        batch = self._batch
        batch.members += 1
        try:
            batch.driver.execute(_SAVEPOINT)
        except BaseException as exc:
            batch.error = exc
            self._finish(batch)
            raise _failure(exc) from exc
        return batch

    def leave(self, batch: _Batch, *, ok: bool) -> None:
        """Keeps (``ok``) or undoes this writer's part, then hands the transaction on to the
        next writer queued, or commits it; returns once it is committed, raises if it was not.
        """
        try:
            if not ok:
                batch.driver.execute(_ROLLBACK)
            batch.driver.execute(_RELEASE)
        except BaseException as exc:  # e.g. SQLite rolled the whole transaction back
            batch.error = exc
        with self._queued_lock:
            hand_on = batch.error is None and batch.members < self._max_batch and self._queued > 0
            if hand_on:
                self._turn.release()
        if hand_on:
            batch.done.wait()
        else:
            self._finish(batch)
        if batch.error is not None:
            raise _failure(batch.error) from batch.error

    def _begin(self, deadline: float) -> _Batch:
        lock = self._file_lock
        if lock is not None and not lock.acquire(deadline - time.monotonic()):
            raise Unavailable("the database is busy; try again")
        try:
            conn = self._engine.connect().execution_options(tokenward_write=True)
            try:
                conn.begin()  # BEGIN IMMEDIATE waits (busy timeout) for writers that lock nothing
            except BaseException:
                conn.close()
                raise
        except OperationalError as exc:
            if lock is not None:
                lock.release()
            raise unavailable(exc) from exc
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return _Batch(conn)

    def _finish(self, batch: _Batch) -> None:
        """Commits the batch (rolls it back if it failed), and frees the locks."""
        try:
            try:
                if batch.error is None:
                    batch.conn.commit()
            except BaseException as exc:
                batch.error = exc
            if batch.error is not None:
                with contextlib.suppress(Exception):  # closing discards a broken connection
                    batch.conn.rollback()
        finally:
            try:
                batch.conn.close()
            finally:
                self._batch = None
                if self._file_lock is not None:
                    self._file_lock.release()
                batch.done.set()
                self._turn.release()


_SAVEPOINT = "SAVEPOINT tokenward_writer"
_RELEASE = "RELEASE tokenward_writer"
_ROLLBACK = "ROLLBACK TO tokenward_writer"


def _failure(exc: BaseException) -> TokenwardError:
    """A new error for each writer of a failed batch (one exception object is not raised in
    several threads at once)."""
    if isinstance(exc, IntegrityError):
        return Conflict("the change conflicts with the stored state")
    if isinstance(exc, OperationalError | sqlite3.Error):
        return unavailable(exc)
    return Unavailable("the database did not store the change; try again")


def unavailable(exc: BaseException) -> Unavailable:
    """A lost connection, a server gone away, a lock not granted in time: retry later. The
    message names the driver's error, never its parameters."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return Unavailable(f"the database is not available ({type(cause).__name__})")


class SqlUnitOfWorkFactory:
    def __init__(
        self, engine: Engine, *, write_timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000
    ) -> None:
        self.engine = engine
        self._writers = (
            SqliteWriters(engine, timeout=write_timeout)
            if engine.dialect.name == "sqlite"
            else None
        )

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, writers=self._writers)

    def write_problem(self) -> str | None:
        """Why a write would fail now, or None. Asks the file system (SQLite) or the server
        (PostgreSQL); writes nothing and waits for no writer's lock."""
        if self.engine.dialect.name == "postgresql":
            try:
                with self.engine.connect() as conn:
                    recovering, read_only = conn.execute(
                        text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
                    ).one()
            except OperationalError as exc:
                raise unavailable(exc) from exc
            if recovering:
                return "the database is a standby in recovery: it takes no writes"
            if read_only == "on":
                return "the database is read-only (transaction_read_only is on)"
            return None
        database = sqlite_file(self.engine)
        if database is None:
            return None
        try:
            space = os.statvfs(database.parent)
        except OSError as exc:
            return f"the database's directory cannot be examined ({exc.strerror})"
        if space.f_flag & os.ST_RDONLY or not (
            os.access(database, os.W_OK) and os.access(database.parent, os.W_OK)
        ):
            return "the database is read-only"
        # Root may use the blocks kept for it; others may not.
        blocks = space.f_bfree if os.geteuid() == 0 else space.f_bavail
        if blocks * space.f_frsize < MIN_FREE_BYTES:
            return f"the database's disk is full (less than {MIN_FREE_BYTES // 1024} KiB free)"
        return None
