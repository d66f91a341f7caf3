"""Which secret hashes the store may hold: a flood of random secrets answered without reads.

Without it every unknown secret costs a store read, so a flood of random well-formed secrets
would run far slower than valid ones. A Bloom filter of every stored hash says "surely
absent" for all but a small fraction of them (the rates are in bench/RESULTS.md). "Stored"
includes the hashes kept after a rotation retired them: a kept copy presented again goes on
to the store read, where reuse detection can see it (``verification/reuse.py``), and an
unknown secret that the filter rules out needs no further test.

"Surely" needs the filter to be current: a token created by another process a moment ago
must not be refused. The filter records the store's change version (``SecretLookup.version``)
that it is current for, and it is trusted only while the store still reports that version;
any commit anywhere moves it, and the next sync of the change log (which adds the hashes of
new and rotated tokens) catches up. Where the store has no cheap version (PostgreSQL), the
filter is never trusted and every unknown secret is read from the store.
"""

from __future__ import annotations

import mmap
from collections.abc import Hashable
from enum import Enum

from tokenward.verification.ports import SecretLookup

#: A block: 64 bytes, a cache line; 9 bits of the digest pick a bit in it, for each probe.
_BLOCK_BITS = 512
#: Four probes: where each one's 9 bits start in the digest's first 128 bits (the low bits
#: pick the block); ``SecretFilter.__contains__`` unrolls them, so change both together.
_PROBE_SHIFTS = (64, 73, 82, 91)
MIN_BITS_PER_HASH = 16
MIN_CAPACITY = 65_536


class Presence(Enum):
    ABSENT = "absent"
    #: The filter holds the hash (or there is no filter): only the store can tell.
    POSSIBLE = "possible"
    #: The filter lacks the hash, but the store changed since its last sync.
    OUTDATED = "outdated"


# Read once: an Enum member read through its class goes through a hook on Python 3.11.
_ABSENT, _POSSIBLE, _OUTDATED = Presence.ABSENT, Presence.POSSIBLE, Presence.OUTDATED


class SecretFilter:
    """A Bloom filter over SHA-256 hex digests, blocked: a hash's probes all fall in one
    64-byte block, a cache line, so a test costs one memory access where a plain filter
    costs four (each a likely miss of the CPU's caches in a filter of megabytes). The
    digest's bits are already uniform: the block and the probe
    positions are slices of the digest itself rather than further hashes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 1)
        bits = max(1 << (self.capacity * MIN_BITS_PER_HASH - 1).bit_length(), _BLOCK_BITS)
        self._last_block = bits // _BLOCK_BITS - 1
        # An anonymous map is page-aligned, so that each block is exactly one cache line.
        self._bits = mmap.mmap(-1, bits >> 3, flags=mmap.MAP_PRIVATE)
        self.count = 0

    def add(self, secret_hash: str) -> None:
        value = int(secret_hash[:32], 16)
        bits = self._bits
        block = (value & self._last_block) << 6
        for shift in _PROBE_SHIFTS:
            position = value >> shift & 511
            bits[block + (position >> 3)] |= 1 << (position & 7)
        self.count += 1

    def __contains__(self, secret_hash: str) -> bool:
        # The probes of ``_PROBE_SHIFTS``, unrolled: a loop is a measurable share of a test.
        value = int(secret_hash[:32], 16)
        bits = self._bits
        block = (value & self._last_block) << 6
        position = value >> 64 & 511
        if not bits[block + (position >> 3)] >> (position & 7) & 1:
            return False
        position = value >> 73 & 511
        if not bits[block + (position >> 3)] >> (position & 7) & 1:
            return False
        position = value >> 82 & 511
        if not bits[block + (position >> 3)] >> (position & 7) & 1:
            return False
        position = value >> 91 & 511
        return bool(bits[block + (position >> 3)] >> (position & 7) & 1)

    @property
    def saturated(self) -> bool:
        """More hashes than it was sized for: false positives grow; time to rebuild."""
        return self.count > self.capacity

    @property
    def size_bytes(self) -> int:
        return len(self._bits)


class KnownSecrets:
    """The filter and the store version it is current for. Loading and adding are called
    under the change feed's lock (``verification/changes.py``), so that no change-log entry
    is applied to a filter that is then replaced by one loaded before it."""

    def __init__(self, lookup: SecretLookup, *, min_capacity: int = MIN_CAPACITY) -> None:
        self._lookup = lookup
        self._min_capacity = min_capacity
        self._filter: SecretFilter | None = None
        self._version: Hashable | None = None

    def presence(self, secret_hash: str) -> Presence:
        """ABSENT only when no token has this hash: the filter rules it out and nothing was
        committed to the store since the filter was last brought up to date."""
        known, version = self._filter, self._version
        if known is None or version is None or secret_hash in known:
            return _POSSIBLE
        if self._lookup.version() == version:
            return _ABSENT
        return _OUTDATED

    def load(self) -> None:
        """Every stored hash, sized for twice as many: at startup, and once saturated."""
        version = self._lookup.version()
        if version is None:
            return
        fresh = SecretFilter(max(2 * self._lookup.count_hashes(), self._min_capacity))
        for secret_hash in self._lookup.hashes():
            fresh.add(secret_hash)
        self._filter, self._version = fresh, version

    def add_tokens(self, version: Hashable | None, token_ids: list[int]) -> None:
        """The change log was read after the store was at ``version``: adds the hashes the
        changed tokens have now (new and rotated secrets), then trusts the filter there."""
        known = self._filter
        if known is None:
            return
        for secret_hash in self._lookup.hashes(token_ids):
            # A change that kept its secrets (a disable, a rename) adds nothing: the count
            # that triggers a reload counts secrets, not changes.
            if secret_hash not in known:
                known.add(secret_hash)
        self._version = version

    @property
    def needs_reload(self) -> bool:
        known = self._filter
        return known is not None and known.saturated

    @property
    def size_bytes(self) -> int:
        known = self._filter
        return 0 if known is None else known.size_bytes
