"""A SQLite database's version, read from its WAL index in shared memory without a query.

Every commit rewrites the WAL-index header at the start of the ``-shm`` file (a change
counter, the frame count, salts and a checksum; https://www.sqlite.org/walformat.html,
section 2.1), and SQLite's own readers learn of commits from it. The header is kept twice: a
writer updates the second copy, then the first; a reader that reads the first, then the
second, and finds them equal holds a whole header. That is several times cheaper than
``PRAGMA data_version`` (bench/RESULTS.md), and the known-secrets filter asks on every
unknown secret.

Anything unexpected (no file, a short one, copies that differ) answers None, and the caller
asks SQLite instead.
"""

from __future__ import annotations

import mmap
import os
import threading

HEADER_SIZE = 48
_IS_INIT = 12


def stable_header(first: bytes, second: bytes) -> bytes | None:
    """The header when both copies agree and it is initialised, else None."""
    if first != second or len(first) != HEADER_SIZE or first[_IS_INIT] != 1:
        return None
    return first


class WalIndex:
    """A read-only map of the header, shared by the users of one database in a process.

    Closing any descriptor of a file drops every POSIX lock that the process holds on it,
    SQLite's own locks on the ``-shm`` file included (another process then failed with
    "locking protocol"). So the descriptor and the map (which holds a duplicate of it) stay
    open while any user holds the index, and ``release`` by the last one closes them: a user
    releases only once its own SQLite connections to the database are closed
    (``SqlSecretLookup.close``, at shutdown after the engine's pool is disposed of). A
    process maps at most ``MAX_MAPPED`` databases at once and asks SQLite for the others.
    """

    def __init__(self, path: str, fd: int, region: mmap.mmap | None) -> None:
        self._path = path
        self._fd = fd
        self._region = region
        self._users = 0

    @classmethod
    def open(cls, database: str) -> WalIndex | None:
        """``database``'s WAL index, for one more user, who calls ``release`` once done;
        None when there is no ``-shm`` file to open or too many are open. An index whose
        file was too short to map answers no header (the caller asks SQLite)."""
        path = os.path.realpath(database) + "-shm"
        with _registry_lock:
            wal_index = _mapped.get(path)
            if wal_index is None:
                if len(_mapped) >= MAX_MAPPED:
                    return None
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    return None
                region: mmap.mmap | None
                try:
                    if os.fstat(fd).st_size < 2 * HEADER_SIZE:
                        region = None
                    else:
                        region = mmap.mmap(fd, 2 * HEADER_SIZE, mmap.MAP_SHARED, mmap.PROT_READ)
                except (OSError, ValueError):
                    region = None
                # Kept, mapped or not, until its last user releases it: see the class.
                wal_index = _mapped[path] = cls(path, fd, region)
            wal_index._users += 1
            return wal_index

    def header(self) -> bytes | None:
        region = self._region
        if region is None:
            return None
        first = region[:HEADER_SIZE]  # the first copy first, as SQLite reads it
        second = region[HEADER_SIZE : 2 * HEADER_SIZE]
        return stable_header(first, second)

    def release(self) -> None:
        """One user is done; the last one closes the map and its descriptor."""
        with _registry_lock:
            self._users -= 1
            if self._users > 0:
                return
            _mapped.pop(self._path, None)
            region, self._region = self._region, None
            if region is not None:
                region.close()
            os.close(self._fd)


MAX_MAPPED = 64
_mapped: dict[str, WalIndex] = {}
_registry_lock = threading.Lock()
