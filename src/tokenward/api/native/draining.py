"""Whether this process is draining before it stops (``tokenward serve`` on ``SIGTERM``).

A process-wide flag, because the signal that starts a drain reaches the process, not a
request: the server sets it, ``/readyz`` reads it. While it is set the process still serves
everything it is sent; only its readiness says 503, so that a load balancer's health checks
take it out of rotation before it stops taking connections (docs/deploy.md).
"""

from __future__ import annotations

import threading

_draining = threading.Event()


def begin() -> None:
    """From here on ``/readyz`` answers 503 ``NOT_READY`` in this process."""
    _draining.set()


def active() -> bool:
    return _draining.is_set()
