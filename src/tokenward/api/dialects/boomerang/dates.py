"""Dates as Boomerang Flow writes and reads them (Jackson's ``java.util.Date``).

Out: ISO-8601 in UTC with milliseconds and a colon offset, ``2023-08-02T10:15:30.000+00:00``.
In: any ISO-8601 date-time that carries an offset (``Z``, ``+00:00``, ``+0000``), a date
``2031-01-01`` (its start in UTC, as Jackson's ``StdDateFormat`` reads it, and as the UIs mean
it: "expiring at the start of the entered day"), or a number of epoch milliseconds, which
Jackson also reads into a ``Date``. A date-time without an offset is refused rather than
guessed: the product would read it as UTC, its caller perhaps not.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from tokenward.domain import clock

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: 0001-01-01T00:00:00.000Z, the first instant a Python datetime can hold; the last is
#: ``clock.LAST_MILLIS``.
MIN_MILLIS = clock.to_millis(datetime(1, 1, 1, tzinfo=UTC))


def format_date(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def format_optional(moment: datetime | None) -> str | None:
    return None if moment is None else format_date(moment)


def from_millis(millis: int) -> datetime:
    if not MIN_MILLIS <= millis <= clock.LAST_MILLIS:
        raise ValueError("the date is out of range")
    return clock.from_millis(millis)


def parse_date(value: object) -> datetime:
    """The value of a date field in a request body; ValueError names no part of the input."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return from_millis(value)
    if not isinstance(value, str):
        raise ValueError("expected an ISO-8601 date-time with an offset or epoch milliseconds")
    text = value.strip()
    if _DAY.fullmatch(text):
        try:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        except ValueError:
            raise ValueError("expected a real calendar date") from None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected an ISO-8601 date-time with an offset") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("the date-time needs an offset, such as Z or +00:00")
    return parsed
