"""One writer at a time among all the processes that share a SQLite file.

SQLite lets one transaction write at a time; a writer that finds the database locked waits
in its busy handler, which polls with sleeps of up to 100 ms. With two or more processes
(``serve --workers 2``, the CLI beside a server) writers then sleep while the database is
free. An exclusive ``flock`` on a file beside the database makes them queue in the kernel
instead, which wakes a waiter the moment the lock is released, and frees the lock of a
process that dies, even by kill -9. It is an aid to speed only: SQLite still guards the data.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
import time
from pathlib import Path

log = logging.getLogger("tokenward")

LOCK_SUFFIX = ".write-lock"


class FileWriteLock:
    """An exclusive ``flock`` on ``<database>.write-lock``, taken within a deadline.

    Not reentrant, and for one thread at a time in a process: the unit of work holds a
    ``threading.Lock`` around it. A blocking ``flock`` cannot time out, so a contended wait
    runs in a helper thread that the caller waits for; a wait the caller gave up on releases
    the lock as soon as it gets it. Every acquisition opens its own descriptor: locks on
    different open files exclude each other even within one process, so an abandoned wait
    can never be mistaken for the caller's hold.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + LOCK_SUFFIX)
        self._held: int | None = None
        self._waits: queue.SimpleQueue[_Wait] | None = None
        self._helper_pid = 0
        self._start_lock = threading.Lock()
        self._warned = False

    def acquire(self, timeout: float) -> bool:
        """True once held; False if another process held it for all of ``timeout`` seconds.

        A lock that cannot be had at all (a read-only directory, a file system without
        ``flock``) is no reason to refuse a write: SQLite still serialises the writers, only
        more slowly. That is logged once, and the write goes ahead.
        """
        deadline = time.monotonic() + timeout
        try:
            fd = self._open()
        except OSError as exc:
            return self._unlockable(exc)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self._wait(fd, deadline)
        except OSError as exc:
            os.close(fd)
            return self._unlockable(exc)
        except BaseException:
            os.close(fd)
            raise
        self._held = fd
        return True

    def release(self) -> None:
        fd, self._held = self._held, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor of an open file drops its flock

    def _open(self) -> int:
        """Opened for writing, though flock needs no more than reading: who may only read the
        database must not be able to stall its writers."""
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        return os.open(self.path, flags, self._mode())

    def _mode(self) -> int:
        """The database's owner and group bits, none for others; 0o600 before it exists."""
        try:
            return self.database.stat().st_mode & 0o660
        except OSError:
            return 0o600

    def _wait(self, fd: int, deadline: float) -> bool:
        wait = _Wait(fd)
        self._helper().put(wait)
        wait.done.wait(max(0.0, deadline - time.monotonic()))
        with wait.mutex:
            if wait.granted:
                self._held = fd
                return True
            wait.abandoned = True  # the helper closes fd, at once or when it gets the lock
            error = wait.error
        return False if error is None else self._unlockable(error)

    def _unlockable(self, exc: OSError) -> bool:
        if not self._warned:
            self._warned = True
            log.warning("cannot lock %s (%s); SQLite alone orders the writers", self.path, exc)
        return True

    def _helper(self) -> queue.SimpleQueue[_Wait]:
        """The process's helper thread, started on first contention (and anew after a fork)."""
        with self._start_lock:
            if self._waits is None or self._helper_pid != os.getpid():
                waits: queue.SimpleQueue[_Wait] = queue.SimpleQueue()
                threading.Thread(
                    target=_serve_waits, args=(waits,), name="tokenward-write-lock", daemon=True
                ).start()
                self._waits, self._helper_pid = waits, os.getpid()
            return self._waits


class _Wait:
    __slots__ = ("abandoned", "done", "error", "fd", "granted", "mutex")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.done = threading.Event()
        self.mutex = threading.Lock()
        self.granted = False
        self.abandoned = False
        self.error: OSError | None = None


def _serve_waits(waits: queue.SimpleQueue[_Wait]) -> None:
    """One blocking wait at a time: after a timeout, later waits queue behind the stuck one."""
    while True:
        wait = waits.get()
        with wait.mutex:
            skip = wait.abandoned
        error: OSError | None = None
        if not skip:
            try:
                fcntl.flock(wait.fd, fcntl.LOCK_EX)
            except OSError as exc:
                error = exc
        with wait.mutex:
            if skip or error is not None or wait.abandoned:
                os.close(wait.fd)
                wait.error = error
            else:
                wait.granted = True
        wait.done.set()
