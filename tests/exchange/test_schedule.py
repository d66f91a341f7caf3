"""The key schedule as a pure function of the keys: notice, signer, retirement, rotation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tokenward.signing.schedule import MAX_LIFETIME, SKEW, Schedule

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CACHE = timedelta(minutes=10)
SCHEDULE = Schedule(cache=CACHE, rotate_every=timedelta(days=30))


@dataclass(frozen=True)
class Key:
    generation: int
    created_at: datetime
    activates_at: datetime


def test_the_first_key_signs_at_once_later_ones_after_a_cache_period() -> None:
    assert SCHEDULE.activation_of_new_key([], T0) == T0
    first = Key(1, T0, T0)
    assert SCHEDULE.activation_of_new_key([first], T0) == T0 + CACHE


def test_the_newest_active_key_signs() -> None:
    first = Key(1, T0, T0)
    second = Key(2, T0 + timedelta(days=30), T0 + timedelta(days=30) + CACHE)
    keys = [first, second]
    assert SCHEDULE.signer(keys, second.created_at) is first  # published, not signing yet
    assert SCHEDULE.signer(keys, second.activates_at) is second


def test_an_old_key_stays_published_until_its_tokens_expired() -> None:
    first = Key(1, T0, T0)
    second = Key(2, T0 + timedelta(days=30), T0 + timedelta(days=30) + CACHE)
    keys = [first, second]
    last_signature = second.activates_at
    still = last_signature + MAX_LIFETIME + SKEW - timedelta(seconds=1)
    assert SCHEDULE.published(keys, still) == [first, second]
    assert SCHEDULE.retired(keys, still) == []
    gone = last_signature + MAX_LIFETIME + SKEW
    assert SCHEDULE.published(keys, gone) == [second]
    assert SCHEDULE.retired(keys, gone) == [first]


def test_rotation_is_due_every_period() -> None:
    first = Key(1, T0, T0)
    assert SCHEDULE.rotation_due([], T0)
    assert not SCHEDULE.rotation_due([first], T0 + timedelta(days=29, hours=23))
    assert SCHEDULE.rotation_due([first], T0 + timedelta(days=30))
    assert SCHEDULE.next_generation([first]) == 2
