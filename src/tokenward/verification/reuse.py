"""Which refused secrets may be kept copies of rotated-out ones (reuse detection,
docs/lifecycle.md#reuse-detection), told apart on the verification path without a read.

A rotated-out secret presented after its grace is answered ``NOT_FOUND`` like any unknown
one; only the store's ``retired_secrets`` can tell it apart, and a read of it for every
refused secret would let a flood of random ones cost a read each, the very cost the
known-secrets filter spares. The known-secrets filter holds the kept hashes too, so what it
rules out is no kept copy and pays nothing more. The rest of the ``NOT_FOUND`` answers (no
token for a hash the store was asked about, a negative cache entry, a secret past its grace)
ask a second Bloom filter, of the kept hashes alone (the same ``SecretFilter``); a valid
token never meets it. On PostgreSQL, which has no known-secrets filter, every unknown secret
is a store read and then this test. A probable hit is only queued: the composition root
hands the queue to the service (``Engine.report_reuses`` with ``reuse.report_reuse``), off
the request's path, where one indexed read tells a real reuse from a false positive.

What a replay loop or a flood of false positives can cost is bounded here: a hash is queued
at most once per ``REPORT_EVERY`` in a process, and at most ``BUDGET`` hashes a minute.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from tokenward.verification.known_secrets import SecretFilter

#: The fewest hashes the filter is sized for: 128 KiB, for tables of up to this many.
MIN_CAPACITY = 65_536
#: A hash queued is not queued again in this process for this long (the store reports a
#: reuse at most once an hour too, ``service/reuse.py``).
REPORT_EVERY = timedelta(hours=1)
#: At most this many hashes queued a minute in a process: each costs the service one read,
#: and a flood of random secrets meets the filter's false positives (rare: the filter is
#: sized as the known-secrets one is) at the flood's rate.
BUDGET = 120
_MINUTE = timedelta(minutes=1)


class RetiredSecrets:
    """The filter of kept hashes and the queue of probable reuses. ``load`` and ``add`` are
    called under the change feed's lock, like the known-secrets filter's; ``suspect`` from
    any thread, the event loop included."""

    def __init__(self, clock: Callable[[], datetime], *, min_capacity: int = MIN_CAPACITY) -> None:
        self._clock = clock
        self._min_capacity = min_capacity
        self._filter: SecretFilter | None = None
        #: Queued hashes and when, for ``REPORT_EVERY``; pruned by ``take``.
        self._recent: dict[str, datetime] = {}
        self._pending: list[str] = []
        self._minute: datetime | None = None
        self._spent = 0
        #: Only probable hits take it: a refused secret the filter rules out takes no lock.
        self._lock = threading.Lock()
        #: Probable reuses queued, and those refused a place (over ``BUDGET``): for tests
        #: and operators' eyes.
        self.queued = 0
        self.dropped = 0

    # ---------------------------------------------------------------- the filter

    def load(self, hashes: list[str]) -> None:
        """Every kept hash, sized for twice as many: at start, and once saturated."""
        fresh = SecretFilter(max(2 * len(hashes), self._min_capacity))
        for secret_hash in hashes:
            fresh.add(secret_hash)
        self._filter = fresh

    def add(self, hashes: Iterable[str]) -> None:
        """Hashes a rotation kept since (the change feed reads them for the changed tokens)."""
        known = self._filter
        if known is None:
            return
        for secret_hash in hashes:
            if secret_hash not in known:
                known.add(secret_hash)

    @property
    def needs_reload(self) -> bool:
        known = self._filter
        return known is not None and known.saturated

    @property
    def size_bytes(self) -> int:
        known = self._filter
        return 0 if known is None else known.size_bytes

    # ---------------------------------------------------------------- the queue

    def suspect(self, secret_hash: str) -> None:
        """A verification of this hash answered ``NOT_FOUND``: queued when it may be a kept
        copy. Costs a filter test; a probable hit, a lock and a clock read."""
        known = self._filter
        if known is None or secret_hash not in known:
            return
        now = self._clock()
        with self._lock:
            seen = self._recent.get(secret_hash)
            if seen is not None and now - seen < REPORT_EVERY:
                return
            if self._minute is None or now - self._minute >= _MINUTE:
                self._minute, self._spent = now, 0
            if self._spent >= BUDGET:
                self.dropped += 1
                return
            self._spent += 1
            self._recent[secret_hash] = now
            self._pending.append(secret_hash)
            self.queued += 1

    def pending(self) -> bool:
        """Cheap enough for the event loop: whether ``take`` would return anything."""
        return bool(self._pending)

    def take(self) -> list[str]:
        """The queued hashes, emptying the queue; forgets those queued over an hour ago."""
        now = self._clock()
        with self._lock:
            taken, self._pending = self._pending, []
            self._recent = {h: at for h, at in self._recent.items() if now - at < REPORT_EVERY}
        return taken

    def forget(self, hashes: Iterable[str]) -> None:
        """Hashes the service did not report (a false positive of the filter, a replay still
        in flight, one another process reported): queued again when presented again, within
        ``BUDGET``, so that a kept copy replayed just after its rotation is still caught."""
        with self._lock:
            for secret_hash in hashes:
                self._recent.pop(secret_hash, None)

    def requeue(self, hashes: list[str]) -> None:
        """Hashes taken but not reported (the store failed): the next run tries them again."""
        with self._lock:
            self._pending[:0] = hashes
