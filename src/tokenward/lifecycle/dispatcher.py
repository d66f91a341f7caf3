"""The dispatcher: turns outbox events into deliveries and sends them, at least once.

Only the holder of the store's dispatch lock works, so a deployment of many processes sends
each event once in normal operation; a crash between a send and its record means one repeat,
with the same ``webhook-id``, which receivers use to drop it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from tokenward.domain.lifecycle import Attempt, DueDelivery
from tokenward.lifecycle import delivery, signing
from tokenward.service import events
from tokenward.service.ports import DispatchLock, UnitOfWorkFactory
from tokenward.service.sealing import Sealer, SealError

log = logging.getLogger("tokenward.lifecycle")


@dataclass(frozen=True)
class DispatchSettings:
    allow_private: bool = False
    #: How often the holder looks for new events and due deliveries.
    poll_seconds: float = 1.0
    #: How often time-driven events (expiring, expired) are looked for.
    scheduler_seconds: float = 30.0
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    #: The first retry's delay; each next one doubles, up to ``retry_cap_seconds``, with
    #: jitter so that many failed deliveries do not come back at once.
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 3600.0
    #: A delivery still failing this long after its event is marked failed.
    retry_for_seconds: float = 86400.0
    #: An endpoint whose every delivery failed this long is disabled.
    disable_after_seconds: float = 5 * 86400.0
    batch: int = 100
    #: Settled events older than this are dropped from the outbox.
    keep_seconds: float = 30 * 86400.0


def next_delay(attempts: int, settings: DispatchSettings, rng: random.Random) -> float:
    """Exponential backoff with jitter: after attempt ``attempts`` (1 for the first)."""
    ceiling = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** (attempts - 1))
    return float(ceiling * rng.uniform(0.5, 1.0))


class Dispatcher:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sealer: Sealer,
        lock: DispatchLock,
        *,
        clock: Callable[[], datetime],
        settings: DispatchSettings = DispatchSettings(),
    ) -> None:
        self._uow = uow
        self._sealer = sealer
        self._lock = lock
        self._clock = clock
        self.settings = settings
        self._rng = random.Random()  # noqa: S311 (retry jitter, not a secret)
        # The first scan and prune come an interval after the start, not with it.
        self._last_scan = self._last_prune = time.monotonic()

    async def run(self) -> None:
        """Until cancelled: take the lock when free, then dispatch every ``poll_seconds``.
        It sleeps first, as the other background jobs do, so as not to compete with the
        server's start."""
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            try:
                if await asyncio.to_thread(self._lock.try_acquire):
                    await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next tick retries; serving must not stop for this
                log.exception("the webhook dispatcher failed; retrying")

    def close(self) -> None:
        self._lock.release()

    async def tick(self) -> int:
        """One round by the lock's holder; returns how many attempts it made."""
        monotonic = time.monotonic()
        if monotonic - self._last_scan >= self.settings.scheduler_seconds:
            self._last_scan = monotonic
            await asyncio.to_thread(events.announce_time_driven, self._uow, self._clock())
        if monotonic - self._last_prune >= 3600:
            self._last_prune = monotonic
            await asyncio.to_thread(self._prune)
        await asyncio.to_thread(self._fan_out)
        due = await asyncio.to_thread(self._due)
        if not due:
            return 0
        async with delivery.client(
            connect_timeout=self.settings.connect_timeout,
            total_timeout=self.settings.total_timeout,
        ) as http:
            # Concurrently: a slow receiver holds up only its own deliveries.
            results = await asyncio.gather(*(self._send(http, item) for item in due))
        await asyncio.to_thread(self._record, list(zip(due, results, strict=True)))
        return len(due)

    def _fan_out(self) -> None:
        with self._uow() as uow:
            if not uow.dispatch.has_new_events():
                return
        with self._uow(write=True) as uow:
            uow.dispatch.fan_out(self._clock(), limit=500)
            uow.commit()

    def _due(self) -> list[DueDelivery]:
        with self._uow() as uow:
            return list(uow.dispatch.due(self._clock(), limit=self.settings.batch))

    def _prune(self) -> None:
        before = self._clock() - timedelta(seconds=self.settings.keep_seconds)
        with self._uow(write=True) as uow:
            uow.dispatch.prune(before)
            uow.commit()

    async def _send(
        self, http: httpx.AsyncClient, item: DueDelivery
    ) -> tuple[datetime, delivery.Outcome]:
        at = self._clock()
        try:
            secret = self._sealer.open(item.sealed_secret, bound_to=item.secret_hash)
        except SealError:
            return at, delivery.Outcome(None, 0, "the webhook's secret does not open")
        headers = signing.headers(secret, item.event_id, int(time.time()), item.body)
        outcome = await delivery.send(
            http,
            item.url,
            item.body,
            headers,
            allow_private=self.settings.allow_private,
            total_timeout=self.settings.total_timeout,
        )
        return at, outcome

    def _record(self, results: list[tuple[DueDelivery, tuple[datetime, delivery.Outcome]]]) -> None:
        now = self._clock()
        with self._uow(write=True) as uow:
            for item, (at, outcome) in results:
                next_at = None
                if not outcome.ok:
                    delay = next_delay(item.attempts + 1, self.settings, self._rng)
                    candidate = now + timedelta(seconds=delay)
                    assert item.created_at is not None
                    if candidate - item.created_at < timedelta(
                        seconds=self.settings.retry_for_seconds
                    ):
                        next_at = candidate
                uow.dispatch.record(
                    item.id,
                    Attempt(
                        at=at,
                        status_code=outcome.status_code,
                        duration_ms=outcome.duration_ms,
                        error=outcome.error,
                    ),
                    delivered=outcome.ok,
                    next_attempt_at=next_at,
                )
                uow.dispatch.webhook_result(
                    item.webhook_id,
                    ok=outcome.ok,
                    now=now,
                    disable_after=self.settings.disable_after_seconds,
                )
            uow.commit()
