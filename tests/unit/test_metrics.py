"""The hot path's counters: a tally per thread, summed at scrape time."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tokenward import metrics
from tokenward.domain.verification import VerifyCode
from tokenward.metrics import RequestCounts


def _samples(counts: RequestCounts) -> dict[tuple[str, ...], float]:
    (family,) = counts.collect()
    return {tuple(s.labels.values()): s.value for s in family.samples}


def test_counts_from_many_threads_add_up() -> None:
    counts = RequestCounts()
    per_thread = 5_000

    def work(status: int) -> None:
        for _ in range(per_thread):
            counts.count("/v1/verify", "POST", status)

    threads = [threading.Thread(target=work, args=(200 + i % 2,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    samples = _samples(counts)
    assert samples[("/v1/verify", "POST", "200")] == 3 * per_thread
    assert samples[("/v1/verify", "POST", "201")] == 3 * per_thread


def test_a_scrape_while_threads_count_sees_a_consistent_total() -> None:
    counts = RequestCounts()
    stop = threading.Event()

    def work() -> None:
        status = 0
        while not stop.is_set():
            counts.count("/r", "GET", 200 + status % 50)  # new keys while scrapes read
            status += 1

    worker = threading.Thread(target=work)
    worker.start()
    try:
        totals = [sum(_samples(counts).values()) for _ in range(200)]
    finally:
        stop.set()
        worker.join()
    assert totals == sorted(totals)  # counts only grow, and no scrape failed
    assert sum(_samples(counts).values()) >= totals[-1]


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[metrics.SharedCounts]:
    yield metrics.share_counts(tmp_path)
    metrics._shared = None


def _scrape() -> dict[tuple[str, tuple[str, ...]], float]:
    return {
        (sample.name, tuple(sample.labels.values())): sample.value
        for collector in (metrics.STATS, metrics.HTTP_REQUESTS)
        for family in collector.collect()
        for sample in family.samples
    }


def test_a_scrape_adds_the_other_workers_published_counts(
    shared: metrics.SharedCounts, tmp_path: Path
) -> None:
    before = _scrape()
    metrics.STATS.verified(VerifyCode.VALID, 0.00002, metrics.Lookup.HIT)
    metrics.HTTP_REQUESTS.count("/v1/verify", "POST", 200)
    shared.publish()
    mine = orjson.loads((tmp_path / f"{os.getpid()}.json").read_bytes())
    # Another worker's file, as it would publish it: one of everything, twice over.
    other = {
        "verifications": {
            **mine["verifications"],
            "outcomes": {code.value: 2 for code in VerifyCode},
            "buckets": [2] * len(mine["verifications"]["buckets"]),
            "seconds": 0.5,
            "lookups": {lookup.value: 2 for lookup in metrics.Lookup},
        },
        "http_requests": [["/v1/verify", "POST", 200, 2], ["/v1/tenants", "GET", 200, 2]],
    }
    (tmp_path / "1.json").write_bytes(orjson.dumps(other))
    (tmp_path / ".2.partial").write_bytes(b"{half a fi")  # being written: not read
    after = _scrape()

    def grew(name: str, *labels: str) -> float:
        return after[(name, labels)] - before.get((name, labels), 0.0)

    assert grew("tokenward_verifications_total", "VALID") == 1 + 2
    assert grew("tokenward_verifications_total", "EXPIRED") == 2
    assert grew("tokenward_cache_lookups_total", "hit") == 1 + 2
    assert grew("tokenward_http_requests_total", "/v1/verify", "POST", "200") == 1 + 2
    assert grew("tokenward_http_requests_total", "/v1/tenants", "GET", "200") == 2
    assert (
        grew("tokenward_verification_duration_seconds_count")
        == 1 + 2 * len(metrics.LATENCY_BUCKETS) + 2
    )


def test_a_scrape_without_a_shared_directory_counts_only_this_process() -> None:
    assert metrics._shared is None
    assert metrics._others("verifications") == []
