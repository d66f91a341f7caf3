"""The rate-limit counters shared by the worker processes of one server, without a service to
run: a memory-mapped file in a directory of the server's own (``tokenward serve`` makes one
when it runs several workers), guarded by ``fcntl`` record locks. The algorithm is
``windows.py``'s, step for step (its ``judge_buckets`` and ``settle`` judge here too), so its
worst case holds for the server as a whole: no span of a window admits more than the limit.

The file is a table of fixed-size slots. A slot holds one limit of one token: its key (token
id, bucket size, a 64-bit hash of the limit's name) and the ``SUB_BUCKETS + 1`` buckets that
can count, as (bucket number, count) pairs in a ring (bucket ``n`` at ``n % (SUB_BUCKETS +
1)``). Every limit of a token lives in the chain of ``CHAIN`` slots that starts at the token's
home slot (a hash of its id); a hit locks that chain's bytes with ``lockf``, so that the
workers wait for each other only on tokens whose chains overlap.

Why a collision can only over-count, never let a token through:

* Two limits of one token whose names hash alike and whose buckets are as long share a slot:
  both count every verification of either, so each sees at least its own count.
* A limit is looked for along the whole chain before a free slot is taken (a never-used slot
  ends the search: nothing was placed past one), so a limit never gets a second, emptier slot.
  A slot is free when never used or when its counts have all left their window: taking it
  loses nothing that still counts.
* A chain with no slot left (``CHAIN`` live limits of tokens sharing it) refuses, as
  ``RATE_LIMITED`` with ``remaining: null``, and logs it: the table is sized so that this takes
  tens of thousands of tokens rate-limited at once on one server; beyond that, use Redis.

Crashes: a worker that dies holding a lock has it released by the kernel (record locks belong
to the process). What it was writing is at most one pair (the verification being counted,
never answered) or a slot being taken (whose old counts no longer counted). The file lives as
long as the server's directory; a restarted worker maps it again and finds the counts.

Bucket numbers are read from the wall clock of one host, so the workers agree on them; a clock
stepped back may let a bucket's count be overwritten by an older bucket's (like the in-process
counters, the algorithm assumes time that goes forward).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from tokenward.domain.tokens import RateLimit
from tokenward.verification.controls.windows import (
    SUB_BUCKETS,
    LimitState,
    RateOutcome,
    bucket_ms,
    judge_buckets,
    settle,
)

log = logging.getLogger("tokenward")

#: Home slots (a power of two). With ``CHAIN``, the file is about 13 MB, sparse: only the
#: pages of slots in use take memory.
HOMES = 1 << 16
#: Slots a token's limits may take, from its home slot on.
CHAIN = 32
_RING = SUB_BUCKETS + 1
_KEY = struct.Struct("<qqq")  # token id, bucket milliseconds (0: never used), name hash
_BUCKETS = struct.Struct("<" + "qq" * _RING)  # (bucket number, count) per ring position
_PAIR = struct.Struct("<qq")
_SLOT = struct.Struct("<qqq" + "qq" * _RING)  # the key and the ring, read at once
SLOT = _SLOT.size
_EMPTY_BUCKETS = bytes(_BUCKETS.size)
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: consecutive ids spread over the table
#: Seconds between two warnings of a full chain.
_WARN_EVERY = 60.0


def file_name(homes: int) -> str:
    """The layout is in the name: a file of another layout is never misread."""
    return f"rate-limits-v1-{homes}x{CHAIN}x{SLOT}.bin"


@lru_cache(maxsize=4096)
def _name_hash(name: str) -> int:
    """Stable across processes (``hash`` of a str is not)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "little", signed=True
    )


class SharedCounters:
    waits = False  # a record lock held for microseconds

    def __init__(self, directory: Path, *, homes: int = HOMES) -> None:
        assert homes >= 1 and homes & (homes - 1) == 0, "homes: a power of two"
        self._shift = 64 - homes.bit_length() + 1
        self._homes = homes
        size = (homes + CHAIN) * SLOT
        directory.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(directory / file_name(homes), os.O_RDWR | os.O_CREAT, 0o600)
        # Every worker may get here first; growing a file to the size it has changes nothing.
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        # Record locks belong to the process, so its threads are kept apart by this one.
        self._lock = threading.Lock()
        self._warned_at = -_WARN_EVERY
        #: Verifications refused because their token's chain was full.
        self.overflows = 0

    def home(self, token_id: int) -> int:
        if self._homes == 1:
            return 0
        return ((token_id * _GOLDEN) & 0xFFFFFFFFFFFFFFFF) >> self._shift

    def hit(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        return self._judge(token_id, limits, now_ms, True)

    def peek(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        """What ``hit`` would answer, counting nothing."""
        return self._judge(token_id, limits, now_ms, False)

    def _judge(
        self, token_id: int, limits: Sequence[RateLimit], now_ms: int, count: bool
    ) -> RateOutcome:
        start = self.home(token_id) * SLOT
        with self._lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX, CHAIN * SLOT, start)
            try:
                return self._locked(token_id, limits, now_ms, count, start)
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, CHAIN * SLOT, start)

    def _locked(
        self, token_id: int, limits: Sequence[RateLimit], now_ms: int, count: bool, start: int
    ) -> RateOutcome:
        memory = self._map
        judged = []
        places: list[int] = []
        admitted = True
        retry_after = 0
        for rate in limits:
            size = bucket_ms(rate)
            key = (token_id, size, _name_hash(rate.name))
            offset, values = self._find(start, key, now_ms, places)
            buckets: dict[int, int] = {}
            if offset is None:
                return self._full(limits, now_ms)
            if values is not None:
                oldest = now_ms // size - SUB_BUCKETS
                buckets = {
                    n: c
                    for n, c in zip(values[3::2], values[4::2], strict=True)
                    if c and n >= oldest
                }
            elif count:  # a free slot: taken now, so that the token's next limit sees it
                memory[offset + _KEY.size : offset + SLOT] = _EMPTY_BUCKETS
                _KEY.pack_into(memory, offset, *key)
            fits, counted, reset_at, wait = judge_buckets(buckets, rate.limit, size, now_ms)
            judged.append((rate, size, buckets, counted, reset_at))
            places.append(offset)
            if not fits:
                admitted = False
                retry_after = max(retry_after, wait)
        states = settle(judged, admitted, count, now_ms)
        if admitted and count:
            for offset, (_, size, buckets, _, _) in zip(places, judged, strict=True):
                current = now_ms // size
                position = offset + _KEY.size + (current % _RING) * _PAIR.size
                _PAIR.pack_into(memory, position, current, buckets[current])
        return RateOutcome(admitted, states, retry_after)

    def _find(
        self, start: int, key: tuple[int, int, int], now_ms: int, taken: list[int]
    ) -> tuple[int | None, tuple[int, ...] | None]:
        """``key``'s slot in the chain at ``start``: its offset and what it holds; else a
        free slot's offset and None (not one of those ``taken`` by this verification's other
        limits: new, they hold no count yet); None, None when the chain has neither."""
        memory = self._map
        free = None
        for offset in range(start, start + CHAIN * SLOT, SLOT):
            values = _SLOT.unpack_from(memory, offset)
            if values[:3] == key:
                return offset, values
            size = values[1]
            if size == 0:  # never used: nothing was placed past it
                return (offset if free is None else free), None
            if free is None and offset not in taken:
                oldest = now_ms // size - SUB_BUCKETS
                if not any(
                    c and n >= oldest for n, c in zip(values[3::2], values[4::2], strict=True)
                ):
                    free = offset  # spent: none of its counts is within its window
        return free, None

    def _full(self, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        self.overflows += 1
        if time.monotonic() - self._warned_at >= _WARN_EVERY:
            self._warned_at = time.monotonic()
            log.warning(
                "the shared rate-limit table has no slot left for a token: its verifications "
                "are refused until one frees (too many rate-limited tokens for one server "
                "without Redis; set TOKENWARD_REDIS_URL)"
            )
        states = tuple(LimitState(rate.name, rate.limit, None, None) for rate in limits)
        wait = min(bucket_ms(rate) for rate in limits)
        return RateOutcome(False, states, wait - now_ms % wait)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
