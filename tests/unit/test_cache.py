"""The verification cache: bounds, negative entries, time-to-live, the generation guard."""

from __future__ import annotations

import dataclasses

from tests.unit.support import token
from tokenward.verification.cache import MISSING, CachedSecret, VerificationCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hit_miss_and_missing() -> None:
    cache = VerificationCache()
    assert cache.get("h") is None
    cache.put("h", token(), None, cache.begin())
    hit = cache.get("h")
    assert isinstance(hit, CachedSecret) and hit.token.id == 1
    cache.put_missing("n", cache.begin())
    assert cache.get("n") is MISSING


def test_positive_lru_bound() -> None:
    cache = VerificationCache(positive_size=3)
    for i in range(3):
        cache.put(f"h{i}", dataclasses.replace(token(), id=i), None, cache.begin())
    cache.get("h0")  # h0 becomes the most recent
    cache.put("h3", dataclasses.replace(token(), id=3), None, cache.begin())
    assert cache.get("h1") is None
    assert all(cache.get(h) is not None for h in ("h0", "h2", "h3"))
    assert cache.sizes() == (3, 0)


def test_negative_flood_never_evicts_positive_entries() -> None:
    cache = VerificationCache(positive_size=10, negative_size=100)
    cache.put("real", token(), None, cache.begin())
    for i in range(10_000):
        cache.put_missing(f"junk{i}", cache.begin())
    assert isinstance(cache.get("real"), CachedSecret)
    assert cache.sizes() == (1, 100)


def test_time_to_live() -> None:
    clock = Clock()
    cache = VerificationCache(positive_ttl=30, negative_ttl=5, monotonic=clock)
    cache.put("h", token(), None, cache.begin())
    cache.put_missing("n", cache.begin())
    clock.now = 4.9
    assert cache.get("h") is not None and cache.get("n") is MISSING
    clock.now = 5.0
    assert cache.get("n") is None
    clock.now = 30.0
    assert cache.get("h") is None
    assert cache.sizes() == (0, 0)


def test_forget_tokens_drops_every_secret_of_the_token() -> None:
    cache = VerificationCache()
    cache.put("current", token(), None, cache.begin())
    cache.put("in-grace", token(), None, cache.begin())
    cache.put("other", dataclasses.replace(token(), id=2), None, cache.begin())
    cache.forget_tokens([1])
    assert cache.get("current") is None and cache.get("in-grace") is None
    assert cache.get("other") is not None


def test_a_read_that_raced_a_change_is_not_cached() -> None:
    cache = VerificationCache()
    generation = cache.begin()  # a reader starts its store read ...
    cache.forget_tokens([1])  # ... a change to token 1 commits meanwhile ...
    cache.put("h", token(), None, generation)  # ... the old state must not be cached
    assert cache.get("h") is None
    cache.put_missing("n", generation)
    assert cache.get("n") is None


def test_clear() -> None:
    cache = VerificationCache()
    cache.put("h", token(), None, cache.begin())
    cache.put_missing("n", cache.begin())
    cache.clear()
    assert cache.sizes() == (0, 0)
