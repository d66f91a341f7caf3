"""The pure parts of the controls: field rules, who may loosen them, the allowlist, the
sliding window and the refill calendar."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from tokenward.domain import limits, policy
from tokenward.domain.errors import Invalid
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Credits, RateLimit, Refill, RefillInterval, Token, TokenType
from tokenward.verification.controls import Allowlist, MemoryCounters
from tokenward.verification.controls.windows import SUB_BUCKETS, bucket_ms

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _token(**fields: object) -> Token:
    base = Token(
        id=1,
        tenant="default",
        name="t",
        description="",
        type=TokenType.GLOBAL,
        principal=None,
        owner="root",
        user="root",
        role=Role.VIEWER,
        scopes=(),
        audience=(),
        resources=(),
        restricted=False,
        active=True,
        expires_at=None,
        created_at=NOW,
        updated_at=NOW,
        last_used_at=None,
        secret_hash="0" * 64,
        secret_hint="tw_...x",
        sealed_secret=None,
        metadata={},
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {"rate_limits": tuple(RateLimit(f"r{i}", 1, 1) for i in range(11))},
        {"rate_limits": (RateLimit("a", 0, 1),)},
        {"rate_limits": (RateLimit("a", 1, 0),)},
        {"rate_limits": (RateLimit("a", 1, 86401),)},
        {"rate_limits": (RateLimit("", 1, 1),)},
        {"rate_limits": (RateLimit("a", 1, 1), RateLimit("a", 2, 2))},
        {"credits": Credits(-1)},
        {"credits": Credits(1, Refill(0, RefillInterval.DAILY))},
        {"credits": Credits(limits.MAX_CREDITS + 1)},
        {"ip_allowlist": ("10.0.0.0/33",)},
        {"ip_allowlist": ("not an address",)},
        {"ip_allowlist": tuple(f"10.0.0.{i}" for i in range(101))},
        {"ip_allowlist": None},
        {"rate_limits": None},
    ],
)
def test_fields_out_of_bounds_are_invalid(fields: dict[str, object]) -> None:
    with pytest.raises(Invalid):
        limits.check_fields(fields)


def test_fields_within_bounds_pass_and_allowlists_are_canonical() -> None:
    limits.check_fields(
        {
            "rate_limits": tuple(RateLimit(f"r{i}", 1, 86400) for i in range(10)),
            "credits": Credits(0, Refill(1, RefillInterval.MONTHLY)),
            "ip_allowlist": ("10.0.0.1",),
        }
    )
    limits.check_fields({"credits": None})
    assert limits.normal_allowlist(
        ["10.1.2.3/24", "10.1.2.0/24", "::1", "::ffff:10.0.0.0/104"]
    ) == (
        "10.1.2.0/24",
        "::1/128",
        "10.0.0.0/8",
    )


@pytest.mark.parametrize(
    ("before", "after", "loosens"),
    [
        ({}, {"rate_limits": (RateLimit("a", 5, 60),)}, False),
        ({"rate_limits": (RateLimit("a", 5, 60),)}, {}, True),
        (
            {"rate_limits": (RateLimit("a", 5, 60),)},
            {"rate_limits": (RateLimit("b", 4, 60),)},
            False,
        ),
        (
            {"rate_limits": (RateLimit("a", 5, 60),)},
            {"rate_limits": (RateLimit("a", 6, 60),)},
            True,
        ),
        (
            {"rate_limits": (RateLimit("a", 5, 60),)},
            {"rate_limits": (RateLimit("a", 5, 30),)},
            True,
        ),
        (
            {"rate_limits": (RateLimit("a", 5, 60),)},
            {"rate_limits": (RateLimit("a", 5, 120),)},
            False,
        ),
        ({}, {"credits": Credits(10)}, False),
        ({"credits": Credits(10)}, {}, True),
        ({"credits": Credits(10)}, {"credits": Credits(9)}, False),
        ({"credits": Credits(10)}, {"credits": Credits(11)}, True),
        ({"credits": Credits(10)}, {"credits": Credits(5, Refill(1, RefillInterval.DAILY))}, True),
        (
            {"credits": Credits(10, Refill(5, RefillInterval.MONTHLY))},
            {"credits": Credits(10, Refill(5, RefillInterval.DAILY))},
            True,
        ),
        (
            {"credits": Credits(10, Refill(5, RefillInterval.DAILY))},
            {"credits": Credits(10, Refill(4, RefillInterval.MONTHLY))},
            False,
        ),
        (
            {"credits": Credits(10, Refill(5, RefillInterval.DAILY))},
            {"credits": Credits(10)},
            False,
        ),
        ({}, {"ip_allowlist": ("10.0.0.0/8",)}, False),
        ({"ip_allowlist": ("10.0.0.0/8",)}, {}, True),
        ({"ip_allowlist": ("10.0.0.0/8",)}, {"ip_allowlist": ("10.1.0.0/16",)}, False),
        ({"ip_allowlist": ("10.1.0.0/16",)}, {"ip_allowlist": ("10.0.0.0/8",)}, True),
        ({"ip_allowlist": ("10.0.0.0/8",)}, {"ip_allowlist": ("::1/128",)}, True),
    ],
)
def test_loosening_a_control_widens_the_token(
    before: dict[str, object], after: dict[str, object], loosens: bool
) -> None:
    assert policy.widens(_token(**before), _token(**after)) is loosens


@pytest.mark.parametrize(
    ("entries", "client", "allowed"),
    [
        (("10.0.0.0/8",), "10.255.1.2", True),
        (("10.0.0.0/8",), "11.0.0.1", False),
        (("192.168.1.7",), "192.168.1.7", True),
        (("192.168.1.7",), "192.168.1.8", False),
        (("10.0.0.0/8",), "::ffff:10.1.2.3", True),  # IPv4-mapped IPv6
        (("10.0.0.0/8",), "::ffff:11.1.2.3", False),
        (("2001:db8::/32",), "2001:db8:1::5", True),
        (("2001:db8::/32",), "2001:db9::5", False),
        (("2001:db8::/32",), "10.0.0.1", False),
        (("fe80::/10",), "fe80::1%eth0", True),
        (("10.0.0.0/8",), None, False),
        (("10.0.0.0/8",), "", False),
        (("10.0.0.0/8",), "10.0.0.1, 11.0.0.1", False),  # a header pasted whole is not an address
        (("10.0.0.0/8",), "garbage", False),
        (("0.0.0.0/0",), "203.0.113.9", True),
        (("::/0",), "203.0.113.9", False),
    ],
)
def test_allowlist_corpus(entries: tuple[str, ...], client: str | None, allowed: bool) -> None:
    assert Allowlist(limits.normal_allowlist(entries)).allows(client) is allowed


def test_sliding_window_never_admits_more_than_the_limit_in_any_window() -> None:
    """Verifications every 7 ms for 5 windows: every span of one window (checked at each
    admission) holds at most the limit, and the sustained rate is within 10 % of it."""
    rate = RateLimit("r", 50, 1)
    counters = MemoryCounters()
    admitted: list[int] = []
    for now_ms in range(1_000_000, 1_005_000, 7):
        if counters.hit(1, (rate,), now_ms).admitted:
            admitted.append(now_ms)
    for index, at in enumerate(admitted):
        within = [t for t in admitted[: index + 1] if t > at - 1000]
        assert len(within) <= rate.limit
    # At least limit per 1.1 windows over the run.
    assert len(admitted) >= int(rate.limit * 5 / 1.1)


def test_a_refusal_counts_nowhere_and_says_when_to_retry() -> None:
    rates = (RateLimit("fast", 2, 1), RateLimit("slow", 100, 60))
    counters = MemoryCounters()
    start = 5_000_000
    assert counters.hit(7, rates, start).admitted
    assert counters.hit(7, rates, start + 1).admitted
    refused = counters.hit(7, rates, start + 2)
    assert not refused.admitted
    size = bucket_ms(rates[0])
    assert refused.retry_after_ms == (start // size + SUB_BUCKETS + 1) * size - (start + 2)
    slow = next(s for s in refused.states if s.name == "slow")
    assert slow.remaining == 98  # the refused one was not counted in "slow" either
    assert counters.hit(7, rates, start + 2 + refused.retry_after_ms).admitted


@pytest.mark.parametrize(
    ("interval", "now", "next_at"),
    [
        (
            RefillInterval.DAILY,
            datetime(2026, 12, 3, 23, 59, tzinfo=UTC),
            datetime(2026, 12, 4, tzinfo=UTC),
        ),
        (
            RefillInterval.MONTHLY,
            datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            RefillInterval.MONTHLY,
            datetime(2026, 2, 1, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
    ],
)
def test_refills_follow_the_utc_calendar(
    interval: RefillInterval, now: datetime, next_at: datetime
) -> None:
    refill = Refill(5, interval)
    assert refill.next_at(now) == next_at
    assert refill.period(next_at) == refill.period(now) + 1
