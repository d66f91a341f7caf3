"""The rate-limit counters the workers of one server share without Redis: a real memory-mapped
file, real processes, real record locks. They judge as the in-process counters, count once
across processes, let a collision only over-count, and outlive a process killed holding the
lock."""

from __future__ import annotations

import multiprocessing
import random
import signal
import subprocess
import sys
import time
from multiprocessing.queues import Queue
from pathlib import Path

from tokenward.domain.tokens import RateLimit
from tokenward.verification.controls import MemoryCounters
from tokenward.verification.controls.shared_counters import CHAIN, SharedCounters

RATES = (RateLimit("second", 5, 1), RateLimit("three", 9, 3))


def test_they_judge_as_the_memory_counters(tmp_path: Path) -> None:
    """The same 600 verifications of two tokens at random instants over 4 s, through two
    mappings of one file (two workers): every answer is the in-process counters' answer."""
    memory = MemoryCounters()
    workers = [SharedCounters(tmp_path), SharedCounters(tmp_path)]
    chance = random.Random(17)
    now = 1_800_000_000_000
    admitted = 0
    for _ in range(600):
        now += chance.randrange(0, 14)
        token_id = chance.choice((1, 2))
        assert memory.peek(token_id, RATES, now) == workers[0].peek(token_id, RATES, now)
        expected = memory.hit(token_id, RATES, now)
        assert chance.choice(workers).hit(token_id, RATES, now) == expected
        admitted += expected.admitted
    assert 0 < admitted < 600


def _hammer(directory: str, start_at: float, now_ms: int, results: Queue[int]) -> None:
    counters = SharedCounters(Path(directory))
    time.sleep(max(start_at - time.time(), 0))
    rates = (RateLimit("minute", 300, 60),)
    results.put(sum(counters.hit(42, rates, now_ms + n % 50).admitted for n in range(400)))


def test_processes_count_together(tmp_path: Path) -> None:
    """Four processes, 400 verifications each within one window of a limit of 300, started
    together: exactly 300 admitted in all."""
    context = multiprocessing.get_context("spawn")
    results: Queue[int] = context.Queue()
    start_at = time.time() + 3  # after every process has started (spawn imports anew)
    now_ms = 1_800_000_000_000
    processes = [
        context.Process(target=_hammer, args=(str(tmp_path), start_at, now_ms, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    try:
        assert sum(results.get(timeout=120) for _ in processes) == 300
    finally:
        for process in processes:
            process.join(timeout=10)


def test_a_full_chain_refuses_and_a_spent_slot_is_taken_again(tmp_path: Path) -> None:
    """One home slot: every token shares one chain of CHAIN slots."""
    counters = SharedCounters(tmp_path, homes=1)
    second = (RateLimit("s", 1, 1),)
    day = (RateLimit("d", 2, 86400),)
    now = 1_800_000_000_000
    assert counters.hit(1, second, now).admitted  # slot 0, spent a second later
    assert counters.hit(2, day, now).admitted  # slot 1, for a day
    for token_id in range(3, CHAIN + 1):
        assert counters.hit(token_id, second, now).admitted
    # The chain is full of live counts: a new token is refused rather than counted nowhere.
    full = counters.hit(CHAIN + 1, second, now)
    assert not full.admitted and full.states[0].remaining is None and full.retry_after_ms > 0
    assert counters.overflows == 1
    # Token 1 still counts where it was, not in a fresh slot: refused.
    assert not counters.hit(1, second, now + 10).admitted
    later = now + 1200  # slot 0's second has passed: token 33 takes it
    assert counters.hit(CHAIN + 1, second, later).admitted
    # Token 2, past the taken slot, is found with its count, never given a second, empty one.
    assert counters.hit(2, day, later).admitted
    assert not counters.hit(2, day, later).admitted


def test_colliding_limits_share_a_slot_and_only_over_count(tmp_path: Path) -> None:
    """Two limits of one token with one name (what a 64-bit name-hash collision would give)
    and one bucket size share a slot: each sees the other's counts, never fewer than its own."""
    counters = SharedCounters(tmp_path, homes=1)
    twins = (RateLimit("same", 3, 10), RateLimit("same", 5, 10))
    now = 1_800_000_000_000
    answers = [counters.hit(9, twins, now + n).admitted for n in range(5)]
    assert answers == [True, True, True, False, False]


_HOLDER = """
import fcntl, sys, time
from pathlib import Path
from tokenward.verification.controls.shared_counters import CHAIN, SLOT, SharedCounters
counters = SharedCounters(Path(sys.argv[1]))
fcntl.lockf(counters._fd, fcntl.LOCK_EX, CHAIN * SLOT, counters.home(42) * SLOT)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_process_killed_holding_the_lock_leaves_it_free(tmp_path: Path) -> None:
    counters = SharedCounters(tmp_path)
    rates = (RateLimit("minute", 5, 60),)
    assert counters.hit(42, rates, int(time.time() * 1000)).admitted
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        started = time.monotonic()
        outcome = counters.hit(42, rates, int(time.time() * 1000))
        assert outcome.admitted and outcome.states[0].remaining == 3
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
