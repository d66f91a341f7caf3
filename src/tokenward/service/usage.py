"""Usage analytics: verifications counted per token, per hour and per day, per code.

Counted in memory in each worker (``UsageBuffer``) and added to the store every few seconds
(``TOKENWARD_USAGE_FLUSH_SECONDS``), like last-use times: a crash loses at most the counts of
one interval of that worker. Hourly buckets are kept ``TOKENWARD_USAGE_HOURLY_DAYS`` days,
daily ones ``TOKENWARD_USAGE_DAILY_DAYS``; older ones are pruned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Invalid, NotFound
from tokenward.domain.tokens import Token
from tokenward.domain.verification import VerifyCode

if TYPE_CHECKING:  # the core holds a UsageBuffer
    from tokenward.service.core import Core

Bucket = Literal["hour", "day"]
_GRANULARITY = {"hour": "h", "day": "d"}
_SPAN = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: Buckets one answer may hold: 90 days of hours, or 2 years of days, and a little more.
MAX_BUCKETS = {"hour": 24 * 92, "day": 366 * 2 + 2}
_DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
TOP_TOKENS = 10


class UsageBuffer:
    """One ``list.append`` per verification: atomic under the GIL, so threads and the event
    loop share it without a lock and without losing a count; ``take`` swaps the list."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, int, int, VerifyCode]] = []

    def note(self, token: Token, code: VerifyCode, now: datetime) -> None:
        self._pending.append((token.tenant, token.id, int(now.timestamp()) // 3600, code))

    def take(self) -> Counter[tuple[str, int, int, VerifyCode]]:
        pending, self._pending = self._pending, []
        return Counter(pending)

    def put_back(self, counted: Counter[tuple[str, int, int, VerifyCode]]) -> None:
        self._pending.extend(counted.elements())


@dataclass(frozen=True, slots=True)
class UsageBucket:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TenantUsage:
    buckets: list[UsageBucket]
    #: ``(token id, verifications)``, the most verified first.
    top_tokens: list[tuple[int, int]]


def flush(core: Core) -> int:
    """Adds the buffered counts to the store in one transaction; returns how many rows."""
    counted = core.usage.take()
    if not counted:
        return 0
    hourly: Counter[tuple[str, int, str, datetime, str]] = Counter()
    for (tenant, token_id, hour, code), count in counted.items():
        hour_start = datetime.fromtimestamp(hour * 3600, UTC)
        day_start = datetime.fromtimestamp(hour // 24 * 86400, UTC)
        hourly[(tenant, token_id, "h", hour_start, str(code))] += count
        hourly[(tenant, token_id, "d", day_start, str(code))] += count
    rows = [(*key, count) for key, count in hourly.items()]
    written = False
    try:
        with core.uow(write=True) as uow:
            uow.usage.add(rows)
            uow.commit()
        written = True
    finally:
        if not written:  # kept for the next flush rather than lost with this one
            core.usage.put_back(counted)
    return len(rows)


def prune(core: Core, *, hourly_days: int, daily_days: int) -> int:
    now = core.clock()
    with core.uow(write=True) as uow:
        pruned = uow.usage.prune("h", now - timedelta(days=hourly_days))
        pruned += uow.usage.prune("d", now - timedelta(days=daily_days))
        uow.commit()
    return pruned


def of_token(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    token_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: Bucket = "hour",
) -> list[UsageBucket]:
    """The token's verifications per bucket and code (buckets without any are left out)."""
    policy.require_tenant(actor, tenant)
    start, end = _span(core, since, until, bucket)
    with core.uow() as uow:
        if uow.tokens.get(tenant, token_id) is None:
            raise NotFound(f"token {token_id} not found")
        rows = uow.usage.counts(tenant, _GRANULARITY[bucket], start, end, token_id)
    return _buckets(rows)


def of_tenant(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: Bucket = "hour",
) -> TenantUsage:
    """The tenant's totals per bucket and code, and its most verified tokens in the span."""
    policy.require_tenant(actor, tenant)
    start, end = _span(core, since, until, bucket)
    with core.uow() as uow:
        if uow.tenants.get(tenant) is None:
            raise NotFound("tenant not found")
        granularity = _GRANULARITY[bucket]
        rows = uow.usage.counts(tenant, granularity, start, end)
        top = uow.usage.top_tokens(tenant, granularity, start, end, TOP_TOKENS)
    return TenantUsage(_buckets(rows), top)


def _span(
    core: Core, since: datetime | None, until: datetime | None, bucket: Bucket
) -> tuple[datetime, datetime]:
    if bucket not in _GRANULARITY:
        raise Invalid("bucket is hour or day")
    end = until or core.clock()
    start = since or end - _DEFAULT_SPAN[bucket]
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("since and until need a UTC offset")
    if start >= end:
        raise Invalid("since must be before until")
    if (end - start) / _SPAN[bucket] > MAX_BUCKETS[bucket]:
        raise Invalid(f"a span of at most {MAX_BUCKETS[bucket]} {bucket}s")
    return start, end


def _buckets(rows: list[tuple[datetime, str, int]]) -> list[UsageBucket]:
    found: dict[datetime, UsageBucket] = {}
    for start, code, count in rows:
        found.setdefault(start, UsageBucket(start)).counts[code] = count
    return list(found.values())
