"""What the management use cases need, gathered once by the composition root."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from tokenward.domain import clock as domain_clock
from tokenward.service.ports import ChangeSink, SecretFinder, UnitOfWork, UnitOfWorkFactory
from tokenward.service.ratelimit import AuthFailureLimiter
from tokenward.service.sealing import Sealer


class Core:
    """The store, the sealer, the clock, the root credential's settings, and two ports on the
    verification engine: where committed changes go (``changes``) and how a presented
    credential is read (``secrets``). It holds no state of verification's own (no cache, no
    filter, no buffer), so there is nothing to share or not share between copies: a test
    that needs another clock builds a ``Core`` with it, from the same collaborators."""

    __slots__ = (
        "admin_token_hash",
        "auth_failures",
        "changes",
        "clock",
        "metrics_public",
        "sealer",
        "secrets",
        "uow",
    )

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        sealer: Sealer,
        changes: ChangeSink,
        secrets: SecretFinder,
        admin_token_hash: str | None = None,
        metrics_public: bool = False,
        clock: Callable[[], datetime] = domain_clock.utcnow,
        auth_failures: AuthFailureLimiter | None = None,
    ) -> None:
        self.uow = uow
        self.sealer = sealer
        #: Told of every committed change to tokens (the verification engine).
        self.changes = changes
        #: Reads a presented credential for authentication (the verification engine).
        self.secrets = secrets
        #: SHA-256 of ``TOKENWARD_ADMIN_TOKEN`` when the operator set it; else the stored one.
        self.admin_token_hash = admin_token_hash
        #: When true, ``/metrics`` answers without a credential (a private scraping network).
        self.metrics_public = metrics_public
        self.clock = clock
        #: Failed authentications per client address (``TOKENWARD_AUTH_FAILURE_LIMIT``).
        self.auth_failures = auth_failures if auth_failures is not None else AuthFailureLimiter()

    def commit_change(
        self, uow: UnitOfWork, token_ids: Sequence[int | None], *, at: datetime
    ) -> None:
        """Commits a change to tokens, logs it for other processes, and tells ``changes``:
        after the commit, so that no reader re-caches the old state."""
        uow.changes.record(token_ids, at)
        uow.commit()
        self.changes.changed(token_ids)
