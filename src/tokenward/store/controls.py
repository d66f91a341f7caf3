"""The controls at verification as the store keeps them: JSON columns of ``tokens`` mapped to
and from the domain's shapes (the live credit balances: ``SqlCreditRepository``)."""

from __future__ import annotations

from typing import Any

from tokenward.domain.tokens import Credits, RateLimit, Refill, RefillInterval

_INTERVALS = {member.value: member for member in RefillInterval}


def rate_limits_value(rate_limits: tuple[RateLimit, ...]) -> list[dict[str, Any]]:
    return [
        {"name": r.name, "limit": r.limit, "window_seconds": r.window_seconds} for r in rate_limits
    ]


def rate_limits_of(value: Any) -> tuple[RateLimit, ...]:
    if not value:
        return ()
    return tuple(RateLimit(r["name"], r["limit"], r["window_seconds"]) for r in value)


def credits_value(credits: Credits | None) -> dict[str, Any] | None:
    if credits is None:
        return None
    refill = credits.refill
    return {
        "remaining": credits.remaining,
        "refill": None
        if refill is None
        else {"amount": refill.amount, "interval": refill.interval.value},
    }


def credits_of(value: Any) -> Credits | None:
    if value is None:
        return None
    refill = value.get("refill")
    return Credits(
        value["remaining"],
        None if refill is None else Refill(refill["amount"], _INTERVALS[refill["interval"]]),
    )
