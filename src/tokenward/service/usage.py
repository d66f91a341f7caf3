"""Usage analytics: verifications counted per token, per hour and per day, per code.

Counted in memory in each worker (``verification.buffers.UsageBuffer``) and added to the
store every few seconds (``TOKENWARD_USAGE_FLUSH_SECONDS``), like last-use times: a crash
loses at most the counts of one interval of that worker. Hourly buckets are kept
``TOKENWARD_USAGE_HOURLY_DAYS`` days, daily ones ``TOKENWARD_USAGE_DAILY_DAYS``; older ones
are pruned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Invalid, NotFound

if TYPE_CHECKING:
    from tokenward.service.core import Core

Bucket = Literal["hour", "day"]
_GRANULARITY = {"hour": "h", "day": "d"}
_SPAN = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: Buckets one answer may hold: 90 days of hours, or 2 years of days, and a little more.
MAX_BUCKETS = {"hour": 24 * 92, "day": 366 * 2 + 2}
_DEFAULT_SPAN = {"hour": timedelta(hours=24), "day": timedelta(days=30)}
TOP_TOKENS = 10


@dataclass(frozen=True, slots=True)
class UsageBucket:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TenantUsage:
    buckets: list[UsageBucket]
    #: ``(token id, verifications)``, the most verified first.
    top_tokens: list[tuple[int, int]]


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
