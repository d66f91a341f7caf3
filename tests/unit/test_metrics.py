"""The hot path's counters: a tally per thread, summed at scrape time."""

from __future__ import annotations

import threading

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
