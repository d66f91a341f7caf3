"""The integrations' cache of positive answers: bounded in time, size and by token expiry."""

from __future__ import annotations

import time
import types
from datetime import UTC, datetime, timedelta

import tokenward.integrations
from tokenward.integrations import Identity, Requirement, VerdictCache


def identity(expires_at: datetime | None = None) -> Identity:
    return Identity(
        token_id=1,
        tenant="default",
        name="n",
        type="global",
        principal=None,
        user="u",
        owner="u",
        role="viewer",
        scopes=frozenset(),
        audience=("billing",),
        expires_at=expires_at,
        metadata={},
    )


def test_entries_live_at_most_the_ttl() -> None:
    cache = VerdictCache(ttl=0.2)
    cache.put("k", identity())
    assert cache.get("k") is not None
    time.sleep(0.25)
    assert cache.get("k") is None and len(cache) == 0


def test_an_entry_never_outlives_the_token() -> None:
    cache = VerdictCache(ttl=60)
    cache.put("soon", identity(datetime.now(UTC) + timedelta(seconds=0.15)))
    cache.put("gone", identity(datetime.now(UTC) - timedelta(seconds=1)))
    assert cache.get("soon") is not None and cache.get("gone") is None
    time.sleep(0.2)
    assert cache.get("soon") is None


def test_size_is_bounded_least_recently_used_first() -> None:
    cache = VerdictCache(ttl=60, max_size=2)
    cache.put("a", identity())
    cache.put("b", identity())
    assert cache.get("a") is not None
    cache.put("c", identity())
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") is not None


def test_the_key_depends_on_the_token_and_every_requirement() -> None:
    base = Requirement.of("billing", ["r"], None)
    keys = {
        VerdictCache.key("tw_a", base),
        VerdictCache.key("tw_b", base),
        VerdictCache.key("tw_a", Requirement.of("crm", ["r"], None)),
        VerdictCache.key("tw_a", Requirement.of("billing", ["w"], None)),
        VerdictCache.key("tw_a", Requirement.of("billing", ["r"], "b1")),
    }
    assert len(keys) == 5
    assert "tw_a" not in VerdictCache.key("tw_a", base)
    assert VerdictCache.key("t", Requirement.of(None, ["b", "a"], None)) == VerdictCache.key(
        "t", Requirement.of(None, ["a", "b", "a"], None)
    )


def test_all_lists_exactly_the_public_members() -> None:
    public = {
        name
        for name, value in vars(tokenward.integrations).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(tokenward.integrations.__all__) == public
