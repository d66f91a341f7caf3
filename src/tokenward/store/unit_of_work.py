"""One transaction per service call (cosmic python's unit of work, on SQLAlchemy Core)."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from tokenward.domain.errors import Conflict, Unavailable
from tokenward.store.repositories import (
    SqlAuditRepository,
    SqlChangeLog,
    SqlCredentialRepository,
    SqlTenantRepository,
    SqlTokenRepository,
)


class SqlUnitOfWork:
    tokens: SqlTokenRepository
    tenants: SqlTenantRepository
    audit: SqlAuditRepository
    credentials: SqlCredentialRepository
    changes: SqlChangeLog

    def __init__(self, engine: Engine, *, write: bool = False) -> None:
        self._engine = engine
        self._write = write
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        try:
            conn = self._engine.connect()
        except OperationalError as exc:
            raise _unavailable(exc) from exc
        if self._write:
            conn = conn.execution_options(tokenward_write=True)
        try:
            conn.begin()  # SQLite's BEGIN IMMEDIATE can time out waiting for the write lock
        except OperationalError as exc:
            conn.close()
            raise _unavailable(exc) from exc
        self._conn = conn
        self.tokens = SqlTokenRepository(conn)
        self.tenants = SqlTenantRepository(conn)
        self.audit = SqlAuditRepository(conn)
        self.credentials = SqlCredentialRepository(conn)
        self.changes = SqlChangeLog(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            self._conn.rollback()  # a no-op after commit
        finally:
            self._conn.close()
            self._conn = None
        if isinstance(exc, IntegrityError):
            raise Conflict("the change conflicts with the stored state") from exc
        if isinstance(exc, OperationalError):
            raise _unavailable(exc) from exc

    def commit(self) -> None:
        assert self._conn is not None
        try:
            self._conn.commit()
        except IntegrityError as exc:
            raise Conflict("the change conflicts with the stored state") from exc
        except OperationalError as exc:
            raise _unavailable(exc) from exc


def _unavailable(exc: OperationalError) -> Unavailable:
    """A lost connection, a server gone away, a lock not granted in time: retry later."""
    return Unavailable(f"the database is not available ({type(exc.orig).__name__})")


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write)
