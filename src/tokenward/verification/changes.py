"""The change feed: what other processes committed reaches this process's cache and filter.

Every change to tokens is logged in the store (``ChangeLog``) in the transaction that makes
it. This process drops its own cached copies at once (``Engine.changed``, after the commit);
the feed reads the log for what others did, on a timer, on a PostgreSQL notification, or
when a verification finds the known-secrets filter out of date.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta

from tokenward.service.ports import UnitOfWorkFactory
from tokenward.verification.cache import VerificationCache
from tokenward.verification.known_secrets import KnownSecrets
from tokenward.verification.ports import SecretLookup
from tokenward.verification.reuse import RetiredSecrets


class ChangeFeed:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        lookup: SecretLookup,
        cache: VerificationCache,
        known_secrets: KnownSecrets,
        retired: RetiredSecrets,
        clock: Callable[[], datetime],
    ) -> None:
        self._uow = uow
        self._lookup = lookup
        self._cache = cache
        self._known_secrets = known_secrets
        self._retired = retired
        self._clock = clock
        #: The last entry of the change log that this process's cache has applied.
        self.applied = 0
        #: The store's version when the change log was last read (see ``may_be_pending``).
        self._synced_version: Hashable | None = None
        #: Loading and adding to the filter happen under it, so that no log entry is applied
        #: to a filter that is then replaced by one loaded before it.
        self._lock = threading.Lock()

    def forget(self, token_ids: Sequence[int | None]) -> None:
        """Drops the cached copies of these tokens (None: of every token), once the lookup
        knows of their change: a re-read must not come from a replica behind it."""
        self._lookup.changed(token_ids)
        if None in token_ids:
            self._cache.clear()
        elif token_ids:
            self._cache.forget_tokens(tid for tid in token_ids if tid is not None)

    def sync(self, *, wait: bool = True) -> int:
        """Drops from the cache what other processes changed since the last call, and adds
        the secrets they created to the known-secrets filter and those their rotations
        retired to the filter of retired secrets.

        Returns how many changes were applied. Together with the cache's time-to-live this
        bounds how long another process's revocation can go unseen here. With ``wait``
        false (a request's thread) it returns 0 at once when another sync is under way.
        """
        if not self._lock.acquire(blocking=wait):
            return 0
        try:
            version = self._lookup.version()  # before the log: never claim an unseen commit
            with self._uow() as uow:
                changed, self.applied = uow.changes.since(self.applied)
                # Read with the log: a rotation is among the changes it lists. Any change
                # to every token (None) reloads the filter whole.
                kept = uow.retired_secrets
                if None in changed:
                    self._retired.load(kept.hashes())
                elif changed:
                    self._retired.add(kept.hashes([t for t in changed if t is not None]))
                    if wait and self._retired.needs_reload:
                        self._retired.load(kept.hashes())
            self._synced_version = version
            self._known_secrets.add_tokens(version, [tid for tid in changed if tid is not None])
            # Before a reload of the filter (seconds at 1M tokens): a revocation in this
            # batch must not stay cached as valid while it runs.
            self.forget(changed)
            if wait and self._known_secrets.needs_reload:
                self._known_secrets.load()
        finally:
            self._lock.release()
        return len(changed)

    def may_be_pending(self) -> bool:
        """False only when the store shows no commit since the change log was last read.

        Cheap enough for the event loop (on SQLite, the version read of the known-secrets
        filter): the sync timer asks first, so that an idle store costs no thread and no
        query. Always true on PostgreSQL.
        """
        version = self._lookup.version()
        return version is None or version != self._synced_version

    def start(self) -> None:
        """Starts from the log's current end (an empty cache has nothing older to drop) and
        loads the known-secrets filter: what the log adds later is applied on top of it."""
        with self._lock:
            version = self._lookup.version()
            with self._uow() as uow:
                self.applied = uow.changes.latest()
                self._retired.load(uow.retired_secrets.hashes())
            # What changed before the log's end is not read: to a lookup that may lag (a
            # read replica), every token changed then.
            self._lookup.changed([None])
            self._synced_version = version
            self._known_secrets.load()

    def prune(self, keep_seconds: float) -> None:
        """Old log entries serve no one: the cache's time-to-live has outlived them."""
        with self._uow(write=True) as uow:
            uow.changes.prune(self._clock() - timedelta(seconds=keep_seconds))
            uow.commit()
