"""A PostgreSQL read replica for the read paths (``TOKENWARD_DATABASE_REPLICA_URL``).

Verification lookups and the management lists read from the replica; every write, and every
read inside a write, stays on the primary. Two things keep that safe:

- Lag never undoes a change this process knows of. A streaming replica replays the primary's
  write-ahead log some time after the commit. Whenever the change feed (or this process's own
  commit) reports tokens as changed, ``ReplicaLookup.changed`` reads the primary's WAL insert
  position: the change's commit record ends at or before it. Until the replica's replay
  position (``pg_last_wal_replay_lsn()``, read at each sync of the change feed) has passed
  that position, a lookup that finds one of these tokens on the replica reads it again on the
  primary; so does a lookup the replica answers "no such secret" while anything is pending (a
  token just created elsewhere). A process starting up treats every token as changed at the
  primary's position then, so that nothing older slips through either.
- A replica that is down or failing costs no request: the read goes to the primary, the
  outage is logged once when it begins and once when it ends, and every read sent to the
  primary instead is counted (``/metrics``: ``tokenward_replica_primary_reads_total``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Hashable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tokenward.domain.errors import Unavailable
from tokenward.domain.tokens import Token
from tokenward.store.engine import make_engine, normalise_url
from tokenward.store.errors import unavailable
from tokenward.store.lookup import SqlSecretLookup

log = logging.getLogger("tokenward.store.replica")

#: After a failure, reads skip the replica for this long, then one read tries it again: an
#: outage costs each read nothing more than the primary's answer, not a refused connection.
RETRY_SECONDS = 1.0
#: A replica host that does not answer must not hold a read for the driver's default (none).
CONNECT_TIMEOUT_SECONDS = 2
#: Reads that went to the primary instead, by reason (``/metrics``).
UNAVAILABLE = "unavailable"
LAGGING = "lagging"
#: Above any LSN: a change whose position is not known yet (the primary could not be asked),
#: numbered by when that was noticed (``_UNKNOWN + mark``). Later than any replay position.
_UNKNOWN = 1 << 64
_REPLAYED = text("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
_INSERTED = text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")


def replica_url(url: str) -> str:
    """The replica's URL for psycopg, with a connect timeout unless it names one."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("TOKENWARD_DATABASE_REPLICA_URL must be a postgresql:// URL")
    if "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_SECONDS)})
    return parsed.render_as_string(hide_password=False)


class Replica:
    """The replica's engine and health, shared by a process's lookups and units of work."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(replica_url(url))
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        #: Reads sent to the primary instead, by reason: read by ``/metrics``.
        self.primary_reads = {UNAVAILABLE: 0, LAGGING: 0}

    def usable(self) -> bool:
        """False while an outage's retry interval runs: the read goes to the primary."""
        return self._down_since is None or time.monotonic() >= self._retry_at

    def failed(self, reason: str) -> None:
        """A read could not use the replica (it goes to the primary): logged once per outage."""
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + RETRY_SECONDS
            began = self._down_since is None
            if began:
                self._down_since = now
        if began:
            log.warning("the read replica is not available (%s); reading from the primary", reason)

    def worked(self) -> None:
        if self._down_since is None:  # the usual case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            lasted, self._down_since = time.monotonic() - self._down_since, None
        log.warning("the read replica is available again, after %.1f s", lasted)

    def to_primary(self, reason: str) -> None:
        self.primary_reads[reason] += 1  # a lost increment under a race costs one count

    def replayed(self) -> int | None:
        """The replica's replay position; None when it is not in recovery (no lag to mind)."""
        with self.engine.connect() as conn:
            value = conn.execute(_REPLAYED).scalar()
        return None if value is None else int(value)

    def close(self) -> None:
        self.engine.dispose()


class ReplicaLookup:
    """The verification path's reads (``SecretLookup``) with ``find`` on the replica, under
    the rule of this module's docstring; everything else on the primary's lookup. The
    known-secrets filter's hashes among them: a hash missing from a lagging replica would
    make the filter refuse a token just created."""

    def __init__(self, database: Engine, replica: Replica) -> None:
        #: The primary's lookup: also management authentication's, which must never lag.
        self.primary = SqlSecretLookup(database)
        self.replica = replica
        self._on_replica = SqlSecretLookup(replica.engine)
        self._primary_engine = database
        self._lock = threading.Lock()
        self._marks = itertools.count(1)
        #: Changed tokens the replica may not have replayed yet: token id -> primary LSN.
        self._pending: dict[int, int] = {}
        #: Every token changed (a process's start, a change of all tokens): the primary LSN.
        self._barrier: int | None = None

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        replica = self.replica
        if not replica.usable():
            replica.to_primary(UNAVAILABLE)
            return self.primary.find(secret_hash)
        if self._barrier is not None:
            replica.to_primary(LAGGING)
            return self.primary.find(secret_hash)
        try:
            found = self._on_replica.find(secret_hash)
        except Unavailable as exc:
            replica.failed(exc.message)
            replica.to_primary(UNAVAILABLE)
            return self.primary.find(secret_hash)
        replica.worked()
        pending = self._pending
        if (found[0].id in pending) if found is not None else bool(pending):
            replica.to_primary(LAGGING)
            return self.primary.find(secret_hash)
        return found

    def changed(self, token_ids: Sequence[int | None]) -> None:
        """Notes these tokens as changed at the primary's current position (called after
        their commit, or after the change log showed it), and drops what the replica has
        replayed since."""
        if token_ids:
            lsn = self._inserted()
            with self._lock:
                if None in token_ids:
                    self._barrier = max(self._barrier or 0, lsn)
                else:
                    for token_id in token_ids:
                        assert token_id is not None
                        self._pending[token_id] = max(self._pending.get(token_id, 0), lsn)
        if self._pending or self._barrier is not None:
            self._catch_up()

    def _inserted(self) -> int:
        try:
            with self._primary_engine.connect() as conn:
                return int(conn.execute(_INSERTED).scalar_one())
        except DBAPIError:
            return _UNKNOWN + next(self._marks)  # on the primary until ``_catch_up`` bounds it

    def _catch_up(self) -> None:
        # A change whose position was not known, noticed before this mark, committed before
        # the read of the position that follows: that position bounds it.
        limit = _UNKNOWN + next(self._marks)
        latest = max([self._barrier or 0, *list(self._pending.values())])
        bound = self._inserted() if latest > _UNKNOWN else _UNKNOWN
        try:
            replayed = self.replica.replayed()
        except DBAPIError as exc:
            self.replica.failed(unavailable(exc).message)
            return
        self.replica.worked()
        with self._lock:
            if bound < _UNKNOWN:
                for token_id, lsn in self._pending.items():
                    if _UNKNOWN < lsn < limit:
                        self._pending[token_id] = bound
                if _UNKNOWN < (self._barrier or 0) < limit:
                    self._barrier = bound
            if replayed is None:  # not in recovery: it serves its own latest state
                self._pending.clear()
                self._barrier = None
                return
            self._pending = {tid: lsn for tid, lsn in self._pending.items() if lsn > replayed}
            if self._barrier is not None and self._barrier <= replayed:
                self._barrier = None

    def hashes(self, token_ids: Sequence[int] | None = None) -> Iterator[str]:
        return self.primary.hashes(token_ids)

    def count_hashes(self) -> int:
        return self.primary.count_hashes()

    def version(self) -> Hashable | None:
        return self.primary.version()

    @property
    def reads_locally(self) -> bool:
        return False

    def close(self) -> None:
        self._on_replica.close()
        self.primary.close()
