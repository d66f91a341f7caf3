"""What the verification engine needs from outside, besides the service's unit of work: the
store's hot-path reads (``tokenward.store.lookup`` provides them for SQL databases), an
observer of verifications (``tokenward.metrics`` counts them for Prometheus), and the reporter
of reused secrets (the service's), so that the engine imports neither SQL nor a metrics
library nor a use case."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from tokenward.domain.tokens import Token
from tokenward.domain.verification import VerifyCode


class SecretLookup(Protocol):
    """The verification path's reads, outside any unit of work."""

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        """The token a secret belongs to, and when that secret retires (None: current)."""
        ...

    def hashes(self, token_ids: Sequence[int] | None = None) -> Iterator[str]:
        """Every stored secret hash (``None``), or those of the given tokens: those that open
        a token and those kept after a rotation retired them (reuse detection)."""
        ...

    def count_hashes(self) -> int: ...

    def version(self) -> Hashable | None:
        """Changes whenever anything is committed to the store; None where not cheap."""
        ...

    def changed(self, token_ids: Sequence[int | None]) -> None:
        """These tokens' changes are committed (None: every token), and the change feed is
        about to drop their cached copies: from now on ``find`` must not answer from a state
        older than these changes (a read replica that lags behind the store; docs/deploy.md).
        Also called with none, at every sync of the change feed."""
        ...

    @property
    def reads_locally(self) -> bool:
        """``find`` reads a local file and waits for no lock, server or pool (SQLite): cheap
        enough for ``Engine.verify_without_blocking`` to run it on the event loop."""
        ...

    def close(self) -> None: ...


class ReuseReporter(Protocol):
    """Acts on a secret hash that may be a kept copy of a rotated-out secret (the service's
    ``reuse.report_reuse``, bound by the composition root): called off the request's path,
    with the hashes ``Engine.verify`` queued; returns whether it was a reuse it reported."""

    def __call__(self, secret_hash: str) -> bool: ...


class Lookup(StrEnum):
    """Where a verification found its answer: the cache, the store, or the known-secrets
    filter (an unknown secret refused without a read)."""

    HIT = "hit"
    MISS = "miss"
    FILTERED = "filtered"


class VerificationObserver(Protocol):
    def verified(self, code: VerifyCode, seconds: float, lookup: Lookup | None) -> None:
        """One verification answered in ``seconds``; ``lookup`` None: refused before any
        lookup (a malformed secret). Called on the hot path, on the event loop too: it must
        neither block nor take a contended lock."""
        ...


class NoObserver:
    """Counts nothing: an engine that no metrics were wired into (a test's, a one-off CLI's)."""

    def verified(self, code: VerifyCode, seconds: float, lookup: Lookup | None) -> None:
        pass
