"""Rate limits as a sliding window of sub-buckets, and the in-process counters.

The algorithm (the Redis script in ``redis_counters.py`` is the same, step for step):

* A limit of ``limit`` per ``window`` is counted in ``SUB_BUCKETS`` buckets of ``window /
  SUB_BUCKETS`` each (a window of 1 s: buckets of 100 ms), numbered ``now // bucket``.
* A verification is admitted when the buckets ``b - SUB_BUCKETS .. b`` (``b`` the current
  one) hold fewer than ``limit``; then bucket ``b`` counts it. Those buckets cover at least
  the last ``window`` (the oldest one wholly, though it may have begun up to one bucket
  earlier), so **no span of ``window`` ever holds more than ``limit`` admitted
  verifications**: at each admission, everything admitted in the window that ends there was
  counted.
* The price of never going over is on the other side: a verification counted in the oldest
  bucket keeps counting until that whole bucket has left, up to ``window / SUB_BUCKETS``
  after an exact sliding log would have let it go. A client that keeps retrying is admitted
  at least ``limit`` times per ``1.1 * window``: within 10 % of the exact log, and never above
  the limit.
* ``retry_after``: when enough of the oldest buckets will have left for one more to fit.

Memory: at most ``SUB_BUCKETS + 1`` numbers per limit of each token that was verified
within its window; older entries are swept. ``shared_counters.py`` keeps the same buckets in
a file the workers of one server share, ``redis_counters.py`` in Redis.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import NamedTuple

from tokenward.domain.tokens import RateLimit

SUB_BUCKETS = 10


class LimitState(NamedTuple):
    """Immutable, and tuples: made on every verification of a rate-limited token, where a
    frozen dataclass costs several times as much to build."""

    name: str
    limit: int
    #: None when the counters could not be asked (a Redis outage, failing open).
    remaining: int | None
    #: Epoch milliseconds when ``remaining`` next grows; None as above.
    reset_at_ms: int | None


class RateOutcome(NamedTuple):
    admitted: bool
    states: tuple[LimitState, ...]
    #: For a refusal: milliseconds until a retry can be admitted.
    retry_after_ms: int = 0


def bucket_ms(rate: RateLimit) -> int:
    return rate.window_seconds * 1000 // SUB_BUCKETS


def judge_buckets(
    buckets: dict[int, int], limit: int, size: int, now_ms: int
) -> tuple[bool, int, int, int]:
    """For one limit: ``(fits, counted, reset_at_ms, retry_after_ms)`` of the buckets
    (bucket number -> count), dropping from ``buckets`` those too old to count."""
    if not buckets:
        return limit >= 1, 0, now_ms, 0
    first = min(buckets)
    if first < now_ms // size - SUB_BUCKETS:
        oldest = now_ms // size - SUB_BUCKETS
        for number in [n for n in buckets if n < oldest]:
            del buckets[number]
        if not buckets:
            return limit >= 1, 0, now_ms, 0
        first = min(buckets)
    counted = sum(buckets.values())
    fits = counted + 1 <= limit
    reset_at = (first + SUB_BUCKETS + 1) * size
    retry_after = 0
    if not fits:
        needed = counted + 1 - limit
        freed = 0
        for number, count in sorted(buckets.items()):
            freed += count
            if freed >= needed:
                retry_after = (number + SUB_BUCKETS + 1) * size - now_ms
                break
    return fits, counted, reset_at, max(retry_after, 0)


def settle(
    judged: Sequence[tuple[RateLimit, int, dict[int, int], int, int]],
    admitted: bool,
    count: bool,
    now_ms: int,
) -> tuple[LimitState, ...]:
    """The states of the judged limits (``(rate, size, buckets, counted, reset_at)`` each, as
    ``judge_buckets`` answered), counting the verification in each one's current bucket when
    it is ``admitted`` and ``count`` asks for it. Every kind of counters ends with this."""
    states = []
    for rate, size, buckets, counted, reset_at in judged:
        if admitted and count:
            current = now_ms // size
            buckets[current] = buckets.get(current, 0) + 1
            counted += 1
            if len(buckets) == 1:
                reset_at = (current + SUB_BUCKETS + 1) * size
        states.append(LimitState(rate.name, rate.limit, max(rate.limit - counted, 0), reset_at))
    return tuple(states)


class MemoryCounters:
    """The counters of one process: right for a server with one worker. Behind several
    workers of one server ``SharedCounters`` (``shared_counters.py``) count together; behind
    several servers, set ``TOKENWARD_REDIS_URL``."""

    waits = False  # counts in this process's memory

    #: Verifications between two sweeps of the entries that no window counts any more.
    SWEEP_EVERY = 10_000

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, int], dict[int, int]] = {}
        self._lock = threading.Lock()
        self._since_sweep = 0

    def hit(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        return self._judge(token_id, limits, now_ms, True)

    def peek(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        """What ``hit`` would answer, counting nothing."""
        return self._judge(token_id, limits, now_ms, False)

    def _judge(
        self, token_id: int, limits: Sequence[RateLimit], now_ms: int, count: bool
    ) -> RateOutcome:
        with self._lock:
            self._since_sweep += 1
            if self._since_sweep >= self.SWEEP_EVERY:
                self._sweep(now_ms)
            judged = []
            admitted = True
            retry_after = 0
            for rate in limits:
                size = bucket_ms(rate)
                buckets = self._counts.setdefault((token_id, rate.name, size), {})
                fits, counted, reset_at, wait = judge_buckets(buckets, rate.limit, size, now_ms)
                judged.append((rate, size, buckets, counted, reset_at))
                if not fits:
                    admitted = False
                    retry_after = max(retry_after, wait)
            return RateOutcome(admitted, settle(judged, admitted, count, now_ms), retry_after)

    def _sweep(self, now_ms: int) -> None:
        self._since_sweep = 0
        for key in list(self._counts):
            size = key[2]
            buckets = self._counts[key]
            if not buckets or max(buckets) < now_ms // size - SUB_BUCKETS:
                del self._counts[key]
