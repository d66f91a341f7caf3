"""The process-local verification cache: secret hash -> token, bounded, invalidated on change.

Positive entries (a token was found) and negative ones (no token has this hash) live in two
separate LRU maps, so a flood of random secrets can only evict other negative entries, never
the tokens that real traffic presents. Positive entries are dropped when their token changes
(in this process at once, in others when they read the change log) and, as a fallback
bound on staleness, after ``positive_ttl`` seconds; negative entries after ``negative_ttl``.

A reader that loaded a token from the store while a change was committed must not put the
old state back: ``put`` is refused when the generation moved since the reader's ``begin``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import Enum
from typing import Final, NamedTuple

from tokenward.domain.tokens import Token
from tokenward.domain.verification import VALID, Verification

#: Sized so that a worker stays within its memory target when both maps are full (the
#: bytes per entry and the worker's resident size are measured in bench/RESULTS.md); a larger
#: positive map pushed a worker past it under a verify load over 1M distinct tokens.
DEFAULT_POSITIVE_SIZE = 20_000
DEFAULT_NEGATIVE_SIZE = 50_000


class Missing(Enum):
    MISSING = "MISSING"


#: What ``get`` answers for a hash known to belong to no token.
MISSING: Final = Missing.MISSING


class CachedSecret(NamedTuple):
    """Immutable, and a tuple: made on every store read, where a tuple is cheaper to make
    than a frozen dataclass."""

    token: Token
    retires_at: datetime | None
    stored_at: float
    #: The answer for every valid use, made once rather than on every verification.
    valid: Verification


class VerificationCache:
    def __init__(
        self,
        *,
        positive_size: int = DEFAULT_POSITIVE_SIZE,
        negative_size: int = DEFAULT_NEGATIVE_SIZE,
        positive_ttl: float = 30.0,
        negative_ttl: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._positive: OrderedDict[str, CachedSecret] = OrderedDict()
        self._negative: OrderedDict[str, float] = OrderedDict()
        self._by_token: dict[int, set[str]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self.positive_size = positive_size
        self.negative_size = negative_size
        self.positive_ttl = positive_ttl
        self.negative_ttl = negative_ttl
        self._monotonic = monotonic

    def begin(self) -> int:
        """The generation to hand back to ``put``/``put_missing`` after a store read."""
        return self._generation

    def get(self, secret_hash: str) -> CachedSecret | Missing | None:
        """The cached entry; ``MISSING`` when no token has this hash; ``None``: ask the store."""
        now = self._monotonic()
        entry = self._positive.get(secret_hash)
        if entry is not None and now - entry.stored_at < self.positive_ttl:
            # The hit path takes no lock: get and move_to_end are single C calls under the
            # GIL; an entry dropped in between is answered as it was an instant earlier.
            try:  # noqa: SIM105 (contextlib.suppress costs more than the rest of a hit)
                self._positive.move_to_end(secret_hash)
            except KeyError:
                pass
            return entry
        with self._lock:
            entry = self._positive.get(secret_hash)
            if entry is not None:
                if now - entry.stored_at < self.positive_ttl:
                    self._positive.move_to_end(secret_hash)
                    return entry
                self._drop(secret_hash)
                return None
            missing_since = self._negative.get(secret_hash)
            if missing_since is not None:
                if now - missing_since < self.negative_ttl:
                    return MISSING
                del self._negative[secret_hash]
        return None

    def put(
        self, secret_hash: str, token: Token, retires_at: datetime | None, generation: int
    ) -> CachedSecret:
        """The entry, kept unless the generation moved since ``begin`` (then only returned)."""
        entry = CachedSecret(token, retires_at, self._monotonic(), Verification(VALID, token))
        with self._lock:
            if generation != self._generation:
                return entry
            if secret_hash in self._positive:
                self._positive.move_to_end(secret_hash)
            self._positive[secret_hash] = entry
            hashes = self._by_token.get(token.id)
            if hashes is None:
                self._by_token[token.id] = {secret_hash}
            else:
                hashes.add(secret_hash)
            while len(self._positive) > self.positive_size:
                oldest = next(iter(self._positive))
                self._drop(oldest)
        return entry

    def put_missing(self, secret_hash: str, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._negative[secret_hash] = self._monotonic()
            self._negative.move_to_end(secret_hash)
            while len(self._negative) > self.negative_size:
                self._negative.popitem(last=False)

    def forget_tokens(self, token_ids: Iterable[int]) -> None:
        with self._lock:
            self._generation += 1
            for token_id in token_ids:
                for secret_hash in self._by_token.pop(token_id, ()):
                    self._positive.pop(secret_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._positive.clear()
            self._negative.clear()
            self._by_token.clear()

    def sizes(self) -> tuple[int, int]:
        return len(self._positive), len(self._negative)

    def _drop(self, secret_hash: str) -> None:
        entry = self._positive.pop(secret_hash, None)
        if entry is not None:
            hashes = self._by_token.get(entry.token.id)
            if hashes is not None:
                hashes.discard(secret_hash)
                if not hashes:
                    del self._by_token[entry.token.id]
