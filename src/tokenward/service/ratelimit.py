"""Failed authentications counted per client address, in this process (issue 5, suite 6).

A sliding window of one minute: an address with ``limit`` failures in the last 60 seconds is
refused (``RateLimited``) until the oldest of them is a minute old, whatever it presents, a
valid credential too. Refusals are not failures: they do not extend the wait. The secrets
being verified are never counted here (the service that calls verification relays many
clients' tokens; the negative cache protects the store from floods of bad tokens), only the
credential that verification asks for when it requires one.

The counts live in this process: with N workers or N processes an address gets up to N times
the limit. ``limit`` 0 turns the limiter off.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
#: Beyond this many addresses, those without a failure in the window are forgotten.
MAX_ADDRESSES = 100_000


class AuthFailureLimiter:
    def __init__(self, limit: int = 0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str | None) -> int | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        if not self.limit or client is None:
            return None
        now = self._clock()
        with self._lock:
            failures = self._failures.get(client)
            if failures is None:
                return None
            _expire(failures, now)
            if not failures:
                del self._failures[client]
                return None
            if len(failures) < self.limit:
                return None
            return max(1, math.ceil(failures[0] + WINDOW_SECONDS - now))

    def failed(self, client: str | None) -> None:
        if not self.limit or client is None:
            return
        now = self._clock()
        with self._lock:
            failures = self._failures.get(client)
            if failures is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    self._sweep(now)
                failures = self._failures[client] = deque(maxlen=self.limit)
            _expire(failures, now)
            failures.append(now)

    def _sweep(self, now: float) -> None:
        for address in list(self._failures):
            _expire(self._failures[address], now)
            if not self._failures[address]:
                del self._failures[address]
        if len(self._failures) >= MAX_ADDRESSES:  # a flood from very many addresses
            self._failures.clear()


def _expire(failures: deque[float], now: float) -> None:
    while failures and failures[0] <= now - WINDOW_SECONDS:
        failures.popleft()
