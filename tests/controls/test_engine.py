"""The controls' parts that talk to real backends: the Redis script judges exactly as the
in-process counters, and the hot-path lookup reads the controls as the repository does."""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import Credits, RateLimit, Refill, RefillInterval, TokenSpec
from tokenward.domain.verification import VerifyCode
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.verification import Engine
from tokenward.verification.controls import Controls, MemoryCounters
from tokenward.verification.controls.redis_counters import RedisCounters

REDIS = "redis://127.0.0.1:6379/0"
ROOT = Actor.root()


@pytest.fixture
def redis_counters() -> Iterator[RedisCounters]:
    prefix = f"tokenward-test-{uuid.uuid4().hex[:12]}:"
    counters = RedisCounters(REDIS, prefix=prefix)
    yield counters
    cleaner = redis.Redis.from_url(REDIS)
    for key in cleaner.scan_iter(f"{prefix}*"):
        cleaner.delete(key)
    cleaner.close()
    counters.close()


def test_the_redis_script_judges_as_the_memory_counters(redis_counters: RedisCounters) -> None:
    """The same 600 verifications of two tokens at random instants over 4 s or more, each
    peeked at first: every answer of Redis (admitted, remaining, reset, retry) is the
    in-process counters' answer.

    Redis expires a limit's hash by its own clock, so the instants given to both move on by at
    least the real time between two calls: a slow machine cannot make Redis forget buckets
    that the in-process counters still hold."""
    rates = (RateLimit("second", 5, 1), RateLimit("three", 9, 3))
    memory = MemoryCounters()
    chance = random.Random(17)
    now = 1_800_000_000_000
    admitted = 0
    last = time.monotonic()
    for _ in range(600):
        elapsed_ms = int((time.monotonic() - last) * 1000)
        last = time.monotonic()
        now += chance.randrange(0, 14) + elapsed_ms
        token_id = chance.choice((1, 2))
        # A peek (for a verification refused by another check) answers alike, counting nothing.
        assert redis_counters.peek(token_id, rates, now) == memory.peek(token_id, rates, now)
        expected = memory.hit(token_id, rates, now)
        assert redis_counters.hit(token_id, rates, now) == expected
        admitted += expected.admitted
    assert 0 < admitted < 600
    assert redis_counters.round_trips == 1200 and redis_counters.failures == 0


def test_the_hot_path_lookup_reads_the_controls_as_the_repository(
    core: Core, verifier: Engine
) -> None:
    spec = TokenSpec(
        name="controlled",
        rate_limits=(RateLimit("a", 5, 60), RateLimit("b", 100, 86400)),
        credits=Credits(7, Refill(3, RefillInterval.MONTHLY)),
        ip_allowlist=("10.0.0.0/8", "2001:db8::/32"),
    )
    for made in (spec, TokenSpec(name="plain"), TokenSpec(name="credits", credits=Credits(0))):
        issued = tokens.issue(core, ROOT, tenant="default", spec=made)
        found = verifier.find(issued.token.secret_hash)
        assert found is not None
        with core.uow() as uow:
            expected = uow.tokens.get_by_secret_hash(issued.token.secret_hash)
        assert found == expected
        assert found[0].controlled is (made.name != "plain")
        assert found[0].rate_limits == made.rate_limits and found[0].credits == made.credits


@pytest.mark.parametrize("keep_id", [False, True])
def test_an_imported_balance_is_of_the_current_refill_period(
    core: Core, verifier: Engine, keep_id: bool
) -> None:
    """A token exported weeks after its creation, with 3 of its daily 10 credits left: once
    imported, the next verification spends from those 3, not from a refill (the balance is
    stamped with today's period, not the creation day's)."""
    template = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="template")).token
    tokens.delete(core, ROOT, tenant="default", token_id=template.id)
    secret = secret_format.generate()
    copy = dataclasses.replace(
        template,
        name="imported",
        secret_hash=secret_format.hash_secret(secret),
        created_at=template.created_at - timedelta(days=40),
        credits=Credits(3, Refill(10, RefillInterval.DAILY)),
    )
    tokens.restore(core, ROOT, token=copy, keep_id=keep_id)
    answer = verifier.verify(secret)
    assert answer.code is VerifyCode.VALID
    assert answer.limits is not None and answer.limits["credits_remaining"] == 2


def test_a_count_on_redis_is_made_off_the_event_loop(
    core: Core, verifier: Engine, redis_counters: RedisCounters
) -> None:
    """A rate-limited token counted in this process's memory is answered on the event loop;
    counted on Redis, it goes to the thread path, so that a worker waits on several round
    trips at once instead of one at a time (bench/RESULTS.md, the Redis rows)."""
    limited = TokenSpec(name="limited", rate_limits=(RateLimit("a", 100, 60),))
    secret = tokens.issue(core, ROOT, tenant="default", spec=limited).secret
    assert verifier.verify(secret).code is VerifyCode.VALID  # cached from now on
    inline = verifier.verify_without_blocking(secret)
    assert inline is not None and inline.code is VerifyCode.VALID
    verifier.controls = Controls(verifier.controls.ledger, redis_counters)
    assert verifier.verify_without_blocking(secret) is None  # only ``verify``, in a thread
    assert redis_counters.round_trips == 0
    assert verifier.verify(secret).code is VerifyCode.VALID
    assert redis_counters.round_trips == 1
