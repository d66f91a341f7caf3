"""Prometheus metrics of tokenward, defined once; ``/metrics`` serves them.

Counts on the hot path (verifications, HTTP requests) are kept as plain numbers, a tally per
thread, and turned into metric families at scrape time: prometheus-client's own counter and
histogram take a lock per bucket and label, which cost more (about 2.5 µs) than a cached
verification itself.

With several worker processes each worker counts its own, and ``SharedCounts`` adds up the
others' (``tokenward serve --workers N`` gives them a directory to share), so that a scrape
that reaches any worker sees the server's totals.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tokenward.domain.verification import VerifyCode
from tokenward.verification.ports import Lookup

#: Upper bounds, in seconds, of the verification latency histogram's buckets.
LATENCY_BUCKETS = (
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
)  # fmt: skip


T = TypeVar("T")


class PerThread(Generic[T]):
    """One ``T`` per thread, made on its first use: only that thread adds to it, so adding
    needs no lock; a scrape reads them all."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[T] = []

    def mine(self) -> T:
        try:
            mine: T = self._local.value
        except AttributeError:
            mine = self._local.value = self._factory()
            with self._lock:
                self._all.append(mine)
        return mine

    def every(self) -> list[T]:
        with self._lock:
            return list(self._all)


#: Set in a worker of a several-worker server (``share_counts``): the others' counts.
_shared: SharedCounts | None = None


def share_counts(directory: Path) -> SharedCounts:
    """Makes this process's scrapes add up the counts published in ``directory``."""
    global _shared
    _shared = SharedCounts(directory)
    return _shared


def _others(kind: str) -> list[Any]:
    return [] if _shared is None else [other[kind] for other in _shared.others() if kind in other]


class _Tally:
    """One thread's verification counts."""

    __slots__ = ("buckets", "lookups", "outcomes", "seconds")

    def __init__(self) -> None:
        self.outcomes = dict.fromkeys(VerifyCode, 0)
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.seconds = 0.0
        self.lookups = dict.fromkeys(Lookup, 0)


class VerificationStats(Collector):
    """The service's ``VerificationObserver`` in a server: counts for ``/metrics``."""

    def __init__(self) -> None:
        self._tallies = PerThread(_Tally)

    def verified(self, code: VerifyCode, seconds: float, lookup: Lookup | None) -> None:
        """``lookup`` None: refused before any lookup (a malformed secret)."""
        tally = self._tallies.mine()
        tally.outcomes[code] += 1
        tally.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        tally.seconds += seconds
        if lookup is not None:
            tally.lookups[lookup] += 1

    def lookups(self) -> dict[Lookup, int]:
        tallies = self._tallies.every()
        return {lookup: sum(t.lookups[lookup] for t in tallies) for lookup in Lookup}

    def totals(self) -> dict[str, Any]:
        """This process's counts, in the form ``SharedCounts`` writes and adds up."""
        tallies = self._tallies.every()
        return {
            "outcomes": {code.value: sum(t.outcomes[code] for t in tallies) for code in VerifyCode},
            "buckets": [
                sum(t.buckets[i] for t in tallies) for i in range(len(LATENCY_BUCKETS) + 1)
            ],
            "seconds": sum(t.seconds for t in tallies),
            "lookups": {lookup.value: sum(t.lookups[lookup] for t in tallies) for lookup in Lookup},
        }

    def collect(self) -> Iterator[Metric]:
        mine = self.totals()
        outcomes, buckets = mine["outcomes"], mine["buckets"]
        seconds, lookups = mine["seconds"], mine["lookups"]
        for other in _others("verifications"):
            for code in outcomes:
                outcomes[code] += other["outcomes"].get(code, 0)
            buckets = [a + b for a, b in zip(buckets, other["buckets"], strict=True)]
            seconds += other["seconds"]
            for lookup in lookups:
                lookups[lookup] += other["lookups"].get(lookup, 0)
        verifications = CounterMetricFamily(
            "tokenward_verifications", "Verifications answered, by outcome code", labels=["outcome"]
        )
        for code, count in outcomes.items():
            verifications.add_metric([code], count)
        yield verifications
        cumulative, running = [], 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), buckets, strict=True):
            running += count
            cumulative.append((_bound(bound), running))
        yield HistogramMetricFamily(
            "tokenward_verification_duration_seconds",
            "Time to verify a secret in the service, cache lookup and store read included",
            buckets=cumulative,
            sum_value=seconds,
        )
        family = CounterMetricFamily(
            "tokenward_cache_lookups",
            "Verification lookups: hit (cached token or known-missing hash), miss (store "
            "read) or filtered (an unknown secret ruled out without a read)",
            labels=["result"],
        )
        for lookup, count in lookups.items():
            family.add_metric([lookup], count)
        yield family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


STATS = VerificationStats()
REGISTRY.register(STATS)


class RequestCounts(Collector):
    """HTTP requests answered, by route template, method and status."""

    def __init__(self) -> None:
        self._tallies: PerThread[dict[tuple[str, str, int], int]] = PerThread(dict)

    def count(self, route: str, method: str, status: int) -> None:
        tally = self._tallies.mine()
        key = (route, method, status)
        tally[key] = tally.get(key, 0) + 1

    def totals(self) -> list[tuple[str, str, int, int]]:
        """This process's counts as (route, method, status, count)."""
        totals: dict[tuple[str, str, int], int] = {}
        for tally in self._tallies.every():
            for key, count in dict(tally).items():  # dict(): one step, while its thread adds
                totals[key] = totals.get(key, 0) + count
        return [(*key, count) for key, count in totals.items()]

    def collect(self) -> Iterator[Metric]:
        totals: dict[tuple[str, str, int], int] = {}
        for rows in (self.totals(), *_others("http_requests")):
            for route, method, status, count in rows:
                key = (route, method, status)
                totals[key] = totals.get(key, 0) + count
        family = CounterMetricFamily(
            "tokenward_http_requests",
            "HTTP requests answered, by route template, method and status",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in sorted(totals.items()):
            family.add_metric([route, method, str(status)], count)
        yield family


HTTP_REQUESTS = RequestCounts()
REGISTRY.register(HTTP_REQUESTS)


class ExchangeCounts(Collector):
    """Token exchanges (``POST /oauth2/token``), by outcome: ``issued`` or the RFC 6749
    error code of a refusal."""

    def __init__(self) -> None:
        self._tallies: PerThread[dict[str, int]] = PerThread(dict)

    def count(self, outcome: str) -> None:
        tally = self._tallies.mine()
        tally[outcome] = tally.get(outcome, 0) + 1

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for tally in self._tallies.every():
            for outcome, count in dict(tally).items():
                totals[outcome] = totals.get(outcome, 0) + count
        return totals

    def collect(self) -> Iterator[Metric]:
        totals: dict[str, int] = {}
        for counts in (self.totals(), *_others("token_exchanges")):
            for outcome, count in counts.items():
                totals[outcome] = totals.get(outcome, 0) + count
        family = CounterMetricFamily(
            "tokenward_token_exchanges",
            "Token exchanges (RFC 8693), by outcome: issued, or the error code",
            labels=["outcome"],
        )
        for outcome, count in sorted(totals.items()):
            family.add_metric([outcome], count)
        yield family


TOKEN_EXCHANGES = ExchangeCounts()
REGISTRY.register(TOKEN_EXCHANGES)


class StoreOutages(Collector):
    """Outages of the database as this process's background jobs see them, logged once
    when one begins and once when it ends: during an outage every job fails on every tick
    (the change-log poll runs every 50 ms), and a traceback for each buried the log.
    Per process, like the gauges: each worker sees the same outage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self.count = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, doing: str, reason: str) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            self.count += 1
        _log.warning("the database is not available: could not %s (%s); retrying", doing, reason)

    def succeeded(self) -> None:
        if self._down_since is None:  # the usual case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            lasted, self._down_since = time.monotonic() - self._down_since, None
        _log.warning("the database is available again, after %.1f s", lasted)

    def collect(self) -> Iterator[Metric]:
        outages = CounterMetricFamily(
            "tokenward_store_outages",
            "Database outages seen by this process's background jobs",
        )
        outages.add_metric([], self.count)
        yield outages
        up = GaugeMetricFamily(
            "tokenward_store_up", "1 when this process's last use of the database worked"
        )
        up.add_metric([], 0 if self.down else 1)
        yield up


_log = logging.getLogger("tokenward.store")
STORE_OUTAGES = StoreOutages()
REGISTRY.register(STORE_OUTAGES)


class RedisHealth(Collector):
    """The rate-limit counters' Redis as this process sees it (``TOKENWARD_REDIS_URL``): the
    verifications that met it failing (answered by ``TOKENWARD_REDIS_FAILURE``), the round
    trips made, and whether its last use worked. Per process."""

    def __init__(self) -> None:
        self.counters: Any = None

    def collect(self) -> Iterator[Metric]:
        counters = self.counters
        if counters is None:
            return
        failures = CounterMetricFamily(
            "tokenward_redis_failures",
            "Verifications of rate-limited tokens that found Redis failing",
        )
        failures.add_metric([], counters.failures)
        yield failures
        trips = CounterMetricFamily(
            "tokenward_redis_round_trips", "Round trips to Redis made by verifications"
        )
        trips.add_metric([], counters.round_trips)
        yield trips
        up = GaugeMetricFamily(
            "tokenward_redis_up", "1 when this process's last use of Redis worked"
        )
        up.add_metric([], 1 if counters.available else 0)
        yield up


REDIS_HEALTH = RedisHealth()
REGISTRY.register(REDIS_HEALTH)


def watch_redis(counters: Any) -> None:
    """Exports this Redis counters' failures and round trips on ``/metrics``."""
    REDIS_HEALTH.counters = counters


class ReplicaReads(Collector):
    """Reads meant for the read replica (``TOKENWARD_DATABASE_REPLICA_URL``) that went to the
    primary instead: ``unavailable`` (the replica was down or failing: each such read counts,
    the outage is logged once) and ``lagging`` (the lag rule sent a recently changed token's
    read there; docs/deploy.md). Per process."""

    def __init__(self) -> None:
        self.replica: Any = None

    def collect(self) -> Iterator[Metric]:
        replica = self.replica
        if replica is None:
            return
        family = CounterMetricFamily(
            "tokenward_replica_primary_reads",
            "Reads meant for the read replica that went to the primary, by reason",
            labels=["reason"],
        )
        for reason, count in sorted(replica.primary_reads.items()):
            family.add_metric([reason], count)
        yield family


REPLICA_READS = ReplicaReads()
REGISTRY.register(REPLICA_READS)


def watch_replica(replica: Any) -> None:
    """Exports the read replica's fallbacks to the primary on ``/metrics``."""
    REPLICA_READS.replica = replica


class SharedCounts:
    """The counts of a server's other worker processes, through a directory they share.

    Each worker writes its totals to ``<pid>.json`` there every second (``publish``), and a
    scrape adds the other workers' latest files to its own live counts: totals lag by at
    most a second for the other workers, and a worker that ended leaves its last file, so
    they never go down. The directory must be empty when the server starts.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def publish(self) -> None:
        pid = os.getpid()
        snapshot = {
            "verifications": STATS.totals(),
            "http_requests": HTTP_REQUESTS.totals(),
            "token_exchanges": TOKEN_EXCHANGES.totals(),
        }
        partial = self.directory / f".{pid}.partial"
        partial.write_bytes(orjson.dumps(snapshot))
        partial.replace(self.directory / f"{pid}.json")  # whole or not at all, for readers

    def others(self) -> list[dict[str, Any]]:
        mine = f"{os.getpid()}.json"
        found = []
        for path in self.directory.glob("*.json"):
            if path.name != mine:
                try:
                    found.append(orjson.loads(path.read_bytes()))
                except (OSError, orjson.JSONDecodeError):
                    continue  # removed meanwhile: its counts are gone with the server
        return found
