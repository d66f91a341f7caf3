"""The keys a process signs with and publishes, refreshed from the store by the service."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import jwt

from tokenward.signing.keys import SigningKey
from tokenward.signing.schedule import Schedule

#: RFC 9068 section 2.1: the ``typ`` of a JWT access token.
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 (a media type)


class NoSigningKey(RuntimeError):
    """The ring holds no key yet: the service loads it before the server takes requests."""


class KeyRing:
    """Replaced whole on each refresh (one assignment), so a request reads one consistent
    set without a lock."""

    def __init__(self, schedule: Schedule, clock: Callable[[], datetime]) -> None:
        self.schedule = schedule
        self.clock = clock
        self._keys: tuple[SigningKey, ...] = ()

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        return self._keys

    def replace(self, keys: Sequence[SigningKey]) -> None:
        self._keys = tuple(sorted(keys, key=lambda key: key.generation))

    def signer(self, now: datetime | None = None) -> SigningKey:
        usable = [key for key in self._keys if key.private is not None]
        key = self.schedule.signer(usable, now or self.clock())
        if key is None:
            raise NoSigningKey("no signing key is loaded")
        return key

    def sign(self, claims: Mapping[str, Any], now: datetime | None = None) -> str:
        """A JWS over ``claims`` with the key that signs at ``now``; header ``typ: at+jwt``
        and that key's ``kid``."""
        key = self.signer(now)
        assert key.private is not None  # signer() picks among keys that have one
        return jwt.encode(
            dict(claims),
            key.private,
            algorithm=key.alg,
            headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYP},
        )

    def jwks(self, now: datetime | None = None) -> dict[str, Any]:
        """RFC 7517 JWK set of the published keys: public parts only."""
        published = self.schedule.published(self._keys, now or self.clock())
        return {"keys": [dict(key.jwk) for key in published]}

    @property
    def cache_seconds(self) -> int:
        return int(self.schedule.cache.total_seconds())
