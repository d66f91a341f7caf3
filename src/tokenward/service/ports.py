"""What the service needs from outside: a store (``tokenward.store`` provides it for SQL
databases) and the verification engine, seen through two small ports (``ChangeSink``,
``SecretFinder``), so that the service imports neither SQL nor the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol

from tokenward.domain.audit import AuditEntry, AuditQuery, AuditRecord
from tokenward.domain.tenants import Tenant
from tokenward.domain.tokens import Page, PageRequest, Token, TokenQuery


class TokenRepository(Protocol):
    def add(self, token: Token) -> Token:
        """Stores a token (its ``id`` is ignored) and its current secret hash; returns it
        with the id the store assigned."""
        ...

    def add_with_id(self, token: Token) -> Token:
        """Stores a token under its own ``id``, which must be free; later ids follow it."""
        ...

    def secret_hashes_of(self, ids: Sequence[int]) -> dict[int, str]:
        """The current secret hash of each of these ids that is stored, in any tenant."""
        ...

    def get(self, tenant: str, token_id: int, *, for_update: bool = False) -> Token | None: ...

    def get_by_secret_hash(
        self, secret_hash: str, *, live_at: datetime | None = None
    ) -> tuple[Token, datetime | None] | None:
        """The token a secret belongs to, and when that secret retires (None: current).

        With ``live_at``, a rotated-out secret whose grace ended by then is not found: it is
        stored until the next rotation sweeps it, but opens nothing any more."""
        ...

    def sealed_sample(self) -> tuple[str, bytes] | None:
        """One stored sealed secret and the hash it is bound to; None when there is none."""
        ...

    def search(
        self, tenant: str, query: TokenQuery, page: PageRequest, now: datetime
    ) -> Page[Token]: ...

    def update(self, token_id: int, changes: Mapping[str, Any]) -> None: ...

    def replace_secret(
        self,
        token_id: int,
        *,
        secret_hash: str,
        secret_hint: str,
        sealed_secret: bytes | None,
        old_retires_at: datetime | None,
        now: datetime,
    ) -> None:
        """Makes ``secret_hash`` the current secret. The old ones (the current one and any
        still in an earlier grace) keep working until ``old_retires_at`` at the latest, or stop
        at once when that is None."""
        ...

    def delete(self, token_id: int) -> None: ...

    def record_use(self, uses: Mapping[int, datetime]) -> None: ...

    def lock_name(self, tenant: str, name: str) -> None:
        """Holds the name in ``tenant`` for this transaction, so that a check for it and the
        insert that follows are not raced by another transaction doing the same."""
        ...

    def census(self, now: datetime) -> list[tuple[str, str, int]]:
        """(tenant, state, count) with state one of active, disabled, expired."""
        ...


TenantLock = Literal["share", "update"]


class TenantRepository(Protocol):
    def add(self, tenant: Tenant) -> None: ...

    def get(self, name: str, *, lock: TenantLock | None = None) -> Tenant | None:
        """With ``lock``, the tenant is held to the end of the transaction: ``"share"`` by
        a writer that adds to it (its deletion waits), ``"update"`` by its deletion (such
        writers wait, then find no tenant)."""
        ...

    def list(self) -> Sequence[Tenant]: ...

    def delete(self, name: str) -> None: ...


class AuditRepository(Protocol):
    def add(self, entry: AuditEntry) -> None: ...

    def search(self, query: AuditQuery, page: PageRequest) -> Page[AuditRecord]: ...

    def mark_tenant_deleted(self, tenant: str, at: datetime) -> None:
        """Marks the tenant's records as those of a deleted tenant."""
        ...


class CredentialRepository(Protocol):
    def root_hash(self) -> str | None: ...

    def set_root_hash(self, secret_hash: str, now: datetime) -> None: ...


class ChangeLog(Protocol):
    """Which tokens changed, in commit order; None stands for every token."""

    def record(self, token_ids: Sequence[int | None], now: datetime) -> None: ...

    def latest(self) -> int: ...

    def since(self, seq: int) -> tuple[list[int | None], int]: ...

    def prune(self, before: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: ``commit()`` makes it durable; leaving without it rolls back."""

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def tenants(self) -> TenantRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def credentials(self) -> CredentialRepository: ...

    @property
    def changes(self) -> ChangeLog: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False) -> UnitOfWork: ...

    def write_problem(self) -> str | None:
        """Why the store would refuse a write now (read-only, disk full), or None."""
        ...


class ChangeSink(Protocol):
    """Told of every committed change to tokens (``Core.commit_change``), after the commit:
    the verification engine drops its cached copies of them."""

    def changed(self, token_ids: Sequence[int | None]) -> None:
        """These tokens changed; None stands for every token."""
        ...


class SecretFinder(Protocol):
    """Authentication's read of a presented credential: fresh, never from a cache."""

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        """The token a secret belongs to, and when that secret retires (None: current)."""
        ...
