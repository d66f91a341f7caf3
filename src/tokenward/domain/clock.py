"""Time as tokenward keeps it: aware UTC, to the millisecond (the precision of the store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def to_millis(moment: datetime) -> int:
    return (moment - EPOCH) // MILLISECOND


def from_millis(millis: int) -> datetime:
    return EPOCH + millis * MILLISECOND


def truncate(moment: datetime) -> datetime:
    """Drops sub-millisecond digits, so what is returned equals what is read back."""
    return from_millis(to_millis(moment.astimezone(UTC)))


def utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)
