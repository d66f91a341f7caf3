"""When keys are made, sign, are published and are dropped: a pure function of the keys.

Every process computes the same answer from the same rows in the store, so the workers and
servers of one installation agree without talking to each other:

- a new key is published (``created_at``) at least one JWKS cache period before it signs
  (``activates_at``): a verifier that cached the document just before the key appeared has
  fetched it again by then (and integrations refetch on an unknown ``kid`` anyway);
- the signing key is the newest (highest generation) whose ``activates_at`` has passed;
- a key that no longer signs stays published until every token it signed has expired:
  ``max_lifetime`` after the newer key took over, plus ``skew`` for verifiers' leeway;
- a rotation is due when the newest key is ``rotate_every`` old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

#: The longest lifetime an issued token may have (the issue's bound); retirement counts on it.
MAX_LIFETIME = timedelta(hours=1)
#: The clock difference verifiers are allowed (their leeway on ``exp``), with a margin.
SKEW = timedelta(minutes=5)


class Scheduled(Protocol):
    @property
    def generation(self) -> int: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def activates_at(self) -> datetime: ...


K = TypeVar("K", bound=Scheduled)


@dataclass(frozen=True, slots=True)
class Schedule:
    #: ``Cache-Control: max-age`` of the JWKS document, and the notice a new key gets.
    cache: timedelta
    rotate_every: timedelta
    max_lifetime: timedelta = MAX_LIFETIME
    skew: timedelta = SKEW

    def signer(self, keys: Sequence[K], now: datetime) -> K | None:
        """The newest active key; if none is active yet (every key still waiting for its
        notice, which only a store emptied by hand can cause) the oldest one."""
        active = [key for key in keys if key.activates_at <= now]
        if active:
            return max(active, key=lambda key: key.generation)
        return min(keys, key=lambda key: key.generation, default=None)

    def stopped_signing(self, key: Scheduled, keys: Sequence[Scheduled]) -> datetime | None:
        """When a newer key took over from ``key`` (None: it still signs, or will)."""
        newer = [k.activates_at for k in keys if k.generation > key.generation]
        return min(newer, default=None)

    def retired(self, keys: Sequence[K], now: datetime) -> list[K]:
        """Keys no token still valid can have been signed with: unpublished, deletable."""
        gone = []
        for key in keys:
            stopped = self.stopped_signing(key, keys)
            if stopped is not None and stopped + self.max_lifetime + self.skew <= now:
                gone.append(key)
        return gone

    def published(self, keys: Sequence[K], now: datetime) -> list[K]:
        retired = {key.generation for key in self.retired(keys, now)}
        return sorted(
            (key for key in keys if key.generation not in retired),
            key=lambda key: key.generation,
        )

    def rotation_due(self, keys: Sequence[Scheduled], now: datetime) -> bool:
        newest = max(keys, key=lambda key: key.generation, default=None)
        return newest is None or newest.created_at + self.rotate_every <= now

    def activation_of_new_key(self, keys: Sequence[Scheduled], now: datetime) -> datetime:
        """The first key of an installation signs at once (no verifier can hold a token of
        an older one); any later one after a full cache period of notice."""
        return now if not keys else now + self.cache

    def next_generation(self, keys: Sequence[Scheduled]) -> int:
        return max((key.generation for key in keys), default=0) + 1
