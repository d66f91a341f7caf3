"""One transaction per service call (cosmic python's unit of work, on SQLAlchemy Core).

On SQLite, writers queue and share transactions (``store/group_commit.py``); what a service
sees is unchanged: its writes are committed, or refused with the same errors, when
``commit()`` returns.
"""

from __future__ import annotations

import os
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from tokenward.domain.errors import Conflict
from tokenward.store.engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_file
from tokenward.store.errors import unavailable
from tokenward.store.group_commit import SqliteWriters, _Batch
from tokenward.store.replica import UNAVAILABLE, Replica
from tokenward.store.repositories import (
    SqlAuditRepository,
    SqlChangeLog,
    SqlCredentialRepository,
    SqlCreditRepository,
    SqlDispatchRepository,
    SqlNoticeRepository,
    SqlOutboxRepository,
    SqlPolicyRepository,
    SqlRetiredSecretRepository,
    SqlTenantRepository,
    SqlTokenRepository,
    SqlUsageRepository,
    SqlWebhookRepository,
)
from tokenward.store.sealed import SqlSealedRepository
from tokenward.store.signing import SqlIssuedJwtRepository, SqlSigningKeyRepository

#: Below this, a SQLite database is not ready: a write may fail (a create writes a few pages,
#: and a checkpoint more).
MIN_FREE_BYTES = 1024 * 1024


class SqlUnitOfWork:
    tokens: SqlTokenRepository
    tenants: SqlTenantRepository
    audit: SqlAuditRepository
    credentials: SqlCredentialRepository
    changes: SqlChangeLog
    signing_keys: SqlSigningKeyRepository
    issued_jwts: SqlIssuedJwtRepository
    outbox: SqlOutboxRepository
    webhooks: SqlWebhookRepository
    dispatch: SqlDispatchRepository
    policies: SqlPolicyRepository
    notices: SqlNoticeRepository
    retired_secrets: SqlRetiredSecretRepository
    sealed: SqlSealedRepository
    credits: SqlCreditRepository
    usage: SqlUsageRepository

    def __init__(
        self,
        engine: Engine,
        *,
        write: bool = False,
        writers: SqliteWriters | None = None,
        replica: Replica | None = None,
    ) -> None:
        """``replica``: a read that may lag reads there, or on ``engine`` when it fails."""
        self._engine = engine
        self._write = write
        self._writers = writers if write else None
        self._replica = None if write else replica
        self._conn: Connection | None = None
        self._batch: _Batch | None = None

    def __enter__(self) -> SqlUnitOfWork:
        if self._writers is not None:
            self._batch = self._writers.join()
            self._bind(self._batch.conn)
            return self
        try:
            conn = self._connect()
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

    def _connect(self) -> Connection:
        replica, self._replica = self._replica, None
        if replica is None:
            return self._engine.connect()
        if replica.usable():
            try:
                # The pool's pre-ping proves the connection: a replica that dies later in
                # this unit of work fails this read (``__exit__``), and the next goes to the
                # primary.
                conn = replica.engine.connect()
            except OperationalError as exc:
                replica.failed(unavailable(exc).message)
            else:
                replica.worked()
                self._replica = replica
                return conn
        replica.to_primary(UNAVAILABLE)
        return self._engine.connect()

    def _bind(self, conn: Connection) -> None:
        self._conn = conn
        self.tokens = SqlTokenRepository(conn)
        self.tenants = SqlTenantRepository(conn)
        self.audit = SqlAuditRepository(conn)
        self.credentials = SqlCredentialRepository(conn)
        self.changes = SqlChangeLog(conn)
        self.signing_keys = SqlSigningKeyRepository(conn)
        self.issued_jwts = SqlIssuedJwtRepository(conn)
        self.outbox = SqlOutboxRepository(conn)
        self.webhooks = SqlWebhookRepository(conn)
        self.dispatch = SqlDispatchRepository(conn)
        self.policies = SqlPolicyRepository(conn)
        self.notices = SqlNoticeRepository(conn)
        self.retired_secrets = SqlRetiredSecretRepository(conn)
        self.sealed = SqlSealedRepository(conn)
        self.credits = SqlCreditRepository(conn)
        self.usage = SqlUsageRepository(conn)

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
            if self._replica is not None:
                self._replica.failed(unavailable(exc).message)
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


class SqlUnitOfWorkFactory:
    def __init__(
        self,
        engine: Engine,
        *,
        write_timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000,
        replica: Replica | None = None,
    ) -> None:
        """``replica``: where reads that may lag go (lists), falling back to ``engine``."""
        self.engine = engine
        self._replica = replica
        self._writers = (
            SqliteWriters(engine, timeout=write_timeout)
            if engine.dialect.name == "sqlite"
            else None
        )

    def __call__(self, *, write: bool = False, may_lag: bool = False) -> SqlUnitOfWork:
        replica = self._replica if may_lag else None
        return SqlUnitOfWork(self.engine, write=write, writers=self._writers, replica=replica)

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
