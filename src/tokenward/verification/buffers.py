"""What verification gathers on the hot path and writes in batches, not one write per request.

A buffer notes on the hot path without a lock and hands what it gathered to one transaction
at each flush (``BufferedWriters.flush``, on a timer and at shutdown). Last-use times are the
first; usage counts and credits are meant to be more buffers of the same shape: a class with
``write(uow)`` added to the engine's list, and nothing else changes.

A crash loses at most what was gathered since the last flush (one flush interval).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from tokenward.domain.tokens import Token
from tokenward.domain.verification import VerifyCode
from tokenward.service.ports import UnitOfWork, UnitOfWorkFactory


class Buffer(Protocol):
    def __bool__(self) -> bool:
        """Whether anything waits to be written: an idle flush opens no transaction."""
        ...

    def write(self, uow: UnitOfWork) -> int:
        """Takes what was gathered and writes it in ``uow``, uncommitted; returns how many
        records it wrote."""
        ...


class LastUseBuffer:
    """Last-use times. A note is one store into a dict and a take one swap of the dict, each
    a single step under the GIL, so neither takes a lock: a lock would cost a noticeable
    share of a cached verification (bench/RESULTS.md)."""

    def __init__(self) -> None:
        self._pending: dict[int, datetime] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def note(self, token_id: int, at: datetime) -> None:
        self._pending[token_id] = at

    def take(self) -> dict[int, datetime]:
        pending, self._pending = self._pending, {}
        return dict(pending)  # a copy, so that not even a build without a GIL can change it

    def write(self, uow: UnitOfWork) -> int:
        pending = self.take()
        if pending:
            uow.tokens.record_use(pending)
        return len(pending)


class UsageBuffer:
    """Verifications per token, hour and code (usage analytics, ``service/usage.py`` reads
    them). One ``list.append`` per verification: atomic under the GIL, so threads and the
    event loop share it without a lock and without losing a count; a take swaps the list.
    Each count is written to an hourly and a daily bucket."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, int, int, VerifyCode]] = []

    def __bool__(self) -> bool:
        return bool(self._pending)

    def note(self, token: Token, code: VerifyCode, now: datetime) -> None:
        self._pending.append((token.tenant, token.id, int(now.timestamp()) // 3600, code))

    def write(self, uow: UnitOfWork) -> int:
        pending, self._pending = self._pending, []
        buckets: Counter[tuple[str, int, str, datetime, str]] = Counter()
        for (tenant, token_id, hour, code), count in Counter(pending).items():
            hour_start = datetime.fromtimestamp(hour * 3600, UTC)
            day_start = datetime.fromtimestamp(hour // 24 * 86400, UTC)
            buckets[(tenant, token_id, "h", hour_start, str(code))] += count
            buckets[(tenant, token_id, "d", day_start, str(code))] += count
        rows = [(*key, count) for key, count in buckets.items()]
        if rows:
            uow.usage.add(rows)
        return len(rows)


class BufferedWriters:
    """Every buffer of the engine, flushed together in one transaction."""

    def __init__(self, uow: UnitOfWorkFactory, buffers: Sequence[Buffer]) -> None:
        self._uow = uow
        self._buffers = tuple(buffers)

    def flush(self) -> int:
        """Writes what every buffer gathered; returns how many records. With nothing to
        write it asks the store nothing."""
        if not any(self._buffers):
            return 0
        with self._uow(write=True) as uow:
            written = sum(buffer.write(uow) for buffer in self._buffers)
            uow.commit()
        return written
