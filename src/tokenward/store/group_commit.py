"""The group commit of SQLite writers: the scheduler behind ``SqlUnitOfWork`` on SQLite.

SQLite writes one transaction at a time, and every commit waits for an fsync. Its writers
therefore queue, threads of a process on a lock and processes on a file lock, and those of a
process that queue together share one transaction (group commit): each runs in a savepoint
of it, so that its failure undoes its own work only, and each returns from ``commit()`` once
the shared transaction is durable.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from tokenward.domain.errors import Conflict, TokenwardError, Unavailable
from tokenward.store.engine import sqlite_file
from tokenward.store.errors import unavailable
from tokenward.store.write_lock import FileWriteLock

#: Writers in one shared transaction at most: bounds the wait of the first of them, and how
#: long the other processes wait for the file lock.
MAX_BATCH = 32


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
