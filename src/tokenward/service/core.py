"""What every use case needs, gathered once by the composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tokenward.domain import clock
from tokenward.service.cache import VerificationCache
from tokenward.service.credits import StoreCreditLedger
from tokenward.service.known_secrets import KnownSecrets
from tokenward.service.ports import (
    NoObserver,
    SecretLookup,
    UnitOfWork,
    UnitOfWorkFactory,
    VerificationObserver,
)
from tokenward.service.ratelimit import AuthFailureLimiter
from tokenward.service.sealing import Sealer
from tokenward.service.usage import UsageBuffer
from tokenward.verification.controls import Controls


class LastUseBuffer:
    """Last-use times gathered by verification and written in batches, not per request.

    A crash loses at most the times gathered since the last flush (one flush interval).
    A note is one store into a dict and a take one swap of the dict, each a single step under
    the GIL, so neither takes a lock (a lock was a fifth of the cost of a cached verification).
    """

    def __init__(self) -> None:
        self._pending: dict[int, datetime] = {}

    def note(self, token_id: int, at: datetime) -> None:
        self._pending[token_id] = at

    def take(self) -> dict[int, datetime]:
        pending, self._pending = self._pending, {}
        return dict(pending)  # a copy, so that not even a build without a GIL can change it


@dataclass
class Core:
    uow: UnitOfWorkFactory
    sealer: Sealer
    #: The hot path's store read; see ``store/lookup.py``.
    lookup: SecretLookup
    #: SHA-256 of ``TOKENWARD_ADMIN_TOKEN`` when the operator set it; else the stored one rules.
    admin_token_hash: str | None = None
    verify_requires_auth: bool = False
    #: When true, ``/metrics`` answers without a credential (a private scraping network).
    metrics_public: bool = False
    clock: Callable[[], datetime] = clock.utcnow
    last_use: LastUseBuffer = field(default_factory=LastUseBuffer)
    cache: VerificationCache = field(default_factory=VerificationCache)
    #: Failed authentications per client address (``TOKENWARD_AUTH_FAILURE_LIMIT``).
    auth_failures: AuthFailureLimiter = field(default_factory=AuthFailureLimiter)
    #: Told of every verification (``metrics.STATS`` in a server: ``app.build_core``).
    observer: VerificationObserver = field(default_factory=NoObserver)
    #: Rate limits, credits, IP allowlists (issue 17); by default counted in this process,
    #: with the credits in the store (``app.build_core`` wires Redis when configured).
    controls: Controls = field(init=False, repr=False)
    #: Verifications per token, hour and code, written in batches (``service/usage.py``).
    usage: UsageBuffer = field(default_factory=UsageBuffer)
    #: The last entry of the change log that this process's cache has applied.
    change_seq: int = 0
    known_secrets: KnownSecrets = field(init=False, repr=False)
    #: The store's version when the change log was last read (see ``changes_may_be_pending``).
    _synced_version: Hashable | None = field(default=None, init=False, repr=False)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.known_secrets = KnownSecrets(self.lookup)
        self.controls = Controls(StoreCreditLedger(self.uow))

    def flush_last_use(self) -> int:
        """Writes the buffered last-use times in one transaction; returns how many."""
        pending = self.last_use.take()
        if pending:
            with self.uow(write=True) as uow:
                uow.tokens.record_use(pending)
                uow.commit()
        return len(pending)

    def commit_change(
        self, uow: UnitOfWork, token_ids: Sequence[int | None], *, at: datetime
    ) -> None:
        """Commits a change to tokens, logs it for other processes, and drops this process's
        cached copies: after the commit, so that no reader re-caches the old state."""
        uow.changes.record(token_ids, at)
        uow.commit()
        if None in token_ids:
            self.cache.clear()
        else:
            self.cache.forget_tokens(tid for tid in token_ids if tid is not None)

    def sync_changes(self, *, wait: bool = True) -> int:
        """Drops from the cache what other processes changed since the last call, and adds
        the secrets they created to the known-secrets filter.

        Returns how many changes were applied. Together with the cache's time-to-live this
        bounds how long another process's revocation can go unseen here. With ``wait``
        false (a request's thread) it returns 0 at once when another sync is under way.
        """
        if not self._sync_lock.acquire(blocking=wait):
            return 0
        try:
            version = self.lookup.version()  # before the log: never claim an unseen commit
            with self.uow() as uow:
                changed, self.change_seq = uow.changes.since(self.change_seq)
            self._synced_version = version
            self.known_secrets.add_tokens(version, [tid for tid in changed if tid is not None])
            # Before a reload of the filter (seconds at 1M tokens): a revocation in this
            # batch must not stay cached as valid while it runs.
            if None in changed:
                self.cache.clear()
            elif changed:
                self.cache.forget_tokens(tid for tid in changed if tid is not None)
            if wait and self.known_secrets.needs_reload:
                self.known_secrets.load()
        finally:
            self._sync_lock.release()
        return len(changed)

    def changes_may_be_pending(self) -> bool:
        """False only when the store shows no commit since the change log was last read.

        Cheap enough for the event loop (on SQLite, the version read of the known-secrets
        filter): the sync timer asks first, and an idle store costs no thread and no query
        (a sync each 50 ms took 3 % of an idle worker's core). Always true on PostgreSQL.
        """
        version = self.lookup.version()
        return version is None or version != self._synced_version

    def start_change_tracking(self) -> None:
        """Starts from the log's current end (an empty cache has nothing older to drop) and
        loads the known-secrets filter: what the log adds later is applied on top of it."""
        with self._sync_lock:
            version = self.lookup.version()
            with self.uow() as uow:
                self.change_seq = uow.changes.latest()
            self._synced_version = version
            self.known_secrets.load()

    def prune_changes(self, keep_seconds: float) -> None:
        """Old log entries serve no one: the cache's time-to-live has outlived them."""
        with self.uow(write=True) as uow:
            uow.changes.prune(self.clock() - timedelta(seconds=keep_seconds))
            uow.commit()
