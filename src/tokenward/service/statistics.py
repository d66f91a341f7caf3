"""Figures about the whole installation, for operators (the ``/metrics`` endpoint)."""

from __future__ import annotations

import threading
import time

from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.service.core import Core

CENSUS_SECONDS = 30.0


class Census:
    """Tokens by tenant and state. Counting scans the tokens table, so an answer is kept for
    ``CENSUS_SECONDS``: scraping every few seconds costs one count each half-minute."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._lock = threading.Lock()
        self._taken = -CENSUS_SECONDS
        self._rows: list[tuple[str, str, int]] = []

    def rows(self) -> list[tuple[str, str, int]]:
        with self._lock:
            if time.monotonic() - self._taken >= CENSUS_SECONDS:
                with self._core.uow() as uow:
                    self._rows = uow.tokens.census(self._core.clock())
                self._taken = time.monotonic()
            return list(self._rows)


def check_metrics_reader(actor: Actor) -> None:
    """Metrics name every tenant: root only, unless the operator made them public."""
    policy.require_root(actor, "reading metrics")
