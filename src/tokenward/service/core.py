"""What every use case needs, gathered once by the composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tokenward.domain import clock
from tokenward.service.ports import UnitOfWorkFactory
from tokenward.service.sealing import Sealer


class LastUseBuffer:
    """Last-use times gathered by verification and written in batches, not per request.

    A crash loses at most the times gathered since the last flush (one flush interval).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, datetime] = {}

    def note(self, token_id: int, at: datetime) -> None:
        with self._lock:
            self._pending[token_id] = at

    def take(self) -> dict[int, datetime]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending


@dataclass
class Core:
    uow: UnitOfWorkFactory
    sealer: Sealer
    #: SHA-256 of ``TOKENWARD_ADMIN_TOKEN`` when the operator set it; else the stored one rules.
    admin_token_hash: str | None = None
    verify_requires_auth: bool = False
    clock: Callable[[], datetime] = clock.utcnow
    last_use: LastUseBuffer = field(default_factory=LastUseBuffer)

    def flush_last_use(self) -> int:
        """Writes the buffered last-use times in one transaction; returns how many."""
        pending = self.last_use.take()
        if pending:
            with self.uow(write=True) as uow:
                uow.tokens.record_use(pending)
                uow.commit()
        return len(pending)
