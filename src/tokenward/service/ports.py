"""What the service needs from outside: a store (``tokenward.store`` provides it for SQL
databases) and the verification engine, seen through two small ports (``ChangeSink``,
``SecretFinder``), so that the service imports neither SQL nor the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol

from tokenward.domain.audit import AuditEntry, AuditQuery, AuditRecord
from tokenward.domain.lifecycle import Attempt, Delivery, DueDelivery, OutboxEvent, Webhook
from tokenward.domain.tenants import Tenant
from tokenward.domain.tokens import Credits, Page, PageRequest, Token, TokenQuery
from tokenward.domain.verification import Verification
from tokenward.signing.keys import StoredKey


class TokenRepository(Protocol):
    def add(self, token: Token, *, now: datetime) -> Token:
        """Stores a token (its ``id`` is ignored) and its current secret hash; returns it
        with the id the store assigned. ``now``: the credit balance, if any, is of the
        refill period ``now`` is in (an imported token's ``created_at`` may be long past)."""
        ...

    def add_with_id(self, token: Token, *, now: datetime) -> Token:
        """Stores a token under its own ``id``, which must be free; later ids follow it.
        ``now`` as for ``add``."""
        ...

    def secret_hashes_of(self, ids: Sequence[int]) -> dict[int, str]:
        """The current secret hash of each of these ids that is stored, in any tenant."""
        ...

    def get(self, tenant: str, token_id: int, *, for_update: bool = False) -> Token | None: ...

    def get_many(self, tenant: str, ids: Sequence[int]) -> dict[int, Token]:
        """The tenant's tokens of these ids, in one read; an id not found is left out."""
        ...

    def get_by_secret_hash(
        self, secret_hash: str, *, live_at: datetime | None = None
    ) -> tuple[Token, datetime | None] | None:
        """The token a secret belongs to, and when that secret retires (None: current).

        With ``live_at``, a rotated-out secret whose grace ended by then is not found: it is
        stored until the next rotation sweeps it, but opens nothing any more."""
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


class SigningKeyRepository(Protocol):
    """The token exchange's signing keys (``tokenward.signing``), private parts sealed."""

    def list(self) -> list[StoredKey]: ...

    def add(self, key: StoredKey) -> None:
        """A generation already taken raises ``Conflict`` (at the latest on commit)."""
        ...

    def delete(self, kids: Sequence[str]) -> None: ...


class IssuedJwtRepository(Protocol):
    """The JWTs the exchange issued, until they expire, for the revocation list."""

    def add(self, jti: str, token_id: int, expires_at: datetime) -> None: ...

    def unmarked_revocations(self, now: datetime) -> bool: ...

    def mark_revoked(self, now: datetime) -> None: ...

    def revoked_since(self, since: datetime, now: datetime) -> list[tuple[str, datetime]]: ...

    def prune(self, now: datetime) -> None: ...


class OutboxRepository(Protocol):
    """Events, written in the transaction of the change that causes them."""

    def add(self, event: OutboxEvent) -> None: ...


class WebhookRepository(Protocol):
    def add(self, webhook: Webhook) -> Webhook: ...

    def get(self, tenant: str, webhook_id: int) -> Webhook | None: ...

    def list(self, tenant: str) -> Sequence[Webhook]: ...

    def any_active(self, tenant: str) -> bool:
        """Whether the tenant has an active webhook: without one, events are not recorded."""
        ...

    def update(self, webhook_id: int, changes: Mapping[str, Any]) -> None: ...

    def delete(self, webhook_id: int) -> None: ...

    def deliveries(self, webhook_id: int, page: PageRequest) -> Page[Delivery]:
        """A page of the deliveries to the webhook, newest first, with their attempts."""
        ...

    def get_delivery(self, webhook_id: int, delivery_id: int) -> Delivery | None: ...

    def schedule(self, delivery_id: int, at: datetime) -> None:
        """Puts a delivery back in the queue (pending) for an attempt at ``at``."""
        ...


class DispatchRepository(Protocol):
    """The dispatcher's side of the outbox; only the holder of the dispatch lock calls it."""

    def fan_out(self, now: datetime, *, limit: int) -> int:
        """Turns up to ``limit`` new events into one pending delivery per active webhook of
        their tenant that subscribes to their type; returns how many events it took."""
        ...

    def has_new_events(self) -> bool: ...

    def due(self, now: datetime, *, limit: int) -> Sequence[DueDelivery]: ...

    def record(
        self,
        delivery_id: int,
        attempt: Attempt,
        *,
        delivered: bool,
        next_attempt_at: datetime | None,
    ) -> None:
        """Adds the attempt; the delivery is delivered, retried at ``next_attempt_at``, or,
        with neither, failed."""
        ...

    def webhook_result(
        self, webhook_id: int, *, ok: bool, now: datetime, disable_after: float
    ) -> None:
        """Keeps ``failing_since``; disables a webhook failing for ``disable_after`` seconds."""
        ...

    def prune(self, before: datetime) -> int:
        """Drops events older than ``before`` whose deliveries are all settled."""
        ...


class PolicyRepository(Protocol):
    def get(self, tenant: str) -> Mapping[str, Any] | None: ...

    def put(self, tenant: str, policy: Mapping[str, Any], now: datetime) -> None: ...

    def all(self) -> dict[str, Mapping[str, Any]]: ...

    def outliving(self, tenant: str, until: datetime) -> Sequence[Token]:
        """The tenant's tokens that are permanent or expire after ``until``."""
        ...


class NoticeRepository(Protocol):
    """Time-driven notices (expiring, expired) and the tokens that are due one."""

    def expiring(self, now: datetime, until: datetime, kind: str, *, limit: int) -> Sequence[Token]:
        """Valid tokens expiring in (now, until] that have no ``kind`` notice for their
        expiry."""
        ...

    def expired(self, now: datetime, since: datetime, *, limit: int) -> Sequence[Token]:
        """Tokens that expired in (since, now] with no ``expired`` notice for that expiry."""
        ...

    def add(
        self, token_id: int, kinds: Sequence[str], expires_at: datetime, now: datetime
    ) -> None: ...

    def inactive(self, tenant: str, before: datetime, *, limit: int) -> Sequence[Token]:
        """The tenant's active tokens last used (or, never used, created) before ``before``."""


class RetiredSecretRepository(Protocol):
    """Rotated-out secrets by hash alone, for reuse detection; the store keeps them as a
    rotation retires them (``TokenRepository.replace_secret``)."""

    def find(
        self, secret_hash: str, now: datetime, since: datetime
    ) -> tuple[int, str, datetime | None] | None:
        """(token id, its tenant, last reported) for a secret rotated out of a token that
        retired in [since, now]; None otherwise."""
        ...

    def mark_reported(self, secret_hash: str, now: datetime) -> None: ...

    def prune(self, before: datetime) -> int: ...

    def hashes(self, token_ids: Sequence[int] | None = None) -> list[str]:
        """Every kept hash (``None``), or those of the given tokens: the verification engine
        loads them into its filter of retired secrets (``verification/reuse.py``)."""
        ...


#: The key of a row that holds a sealed column, in the order the store pages through them.
RowId = int | str


class SealedRepository(Protocol):
    """Every column of the store that holds sealed blobs, named by ``columns()``; a key
    rotation re-seals them all through these, whatever table they are in."""

    def columns(self) -> Sequence[str]: ...

    def samples(self) -> dict[str, tuple[str, bytes]]:
        """One stored blob per key id that sealed any (``sealing.LEGACY`` for blobs without
        one; unknown formats under their first bytes' hex), with what it is bound to."""
        ...

    def not_sealed_under(
        self, column: str, header: bytes, *, after: RowId | None, limit: int
    ) -> Sequence[tuple[RowId, str, bytes]]:
        """Up to ``limit`` rows of ``column`` after ``after`` (in row order) whose blob does
        not start with ``header``: (row id, what the blob is bound to, the blob)."""
        ...

    def replace(self, column: str, replacements: Sequence[tuple[RowId, bytes, bytes]]) -> int:
        """Writes each (row id, old blob, new blob) where the row still holds the old blob;
        returns how many it wrote."""
        ...


class CreditRepository(Protocol):
    """The live credit balances (issue 17); ``store/repositories.py`` says how they spend."""

    def set(self, token_id: int, credits: Credits, now: datetime) -> None: ...

    def add(self, token_id: int, amount: int, period: int, refill_amount: int) -> int | None: ...

    def spend(self, token_id: int, cost: int, period: int, amount: int) -> tuple[bool, int]: ...

    def refund(self, token_id: int, cost: int, period: int) -> None: ...

    def balance(self, token_id: int, period: int, amount: int) -> int: ...


class UsageRepository(Protocol):
    """Verification counts per token, per hour ("h") and day ("d"), per code."""

    def add(self, rows: Sequence[tuple[str, int, str, datetime, str, int]]) -> None: ...

    def counts(
        self,
        tenant: str,
        granularity: str,
        since: datetime,
        until: datetime,
        token_id: int | None = None,
    ) -> list[tuple[datetime, str, int]]: ...

    def top_tokens(
        self, tenant: str, granularity: str, since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, int]]: ...

    def prune(self, granularity: str, before: datetime) -> int: ...


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

    @property
    def signing_keys(self) -> SigningKeyRepository: ...

    @property
    def issued_jwts(self) -> IssuedJwtRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def webhooks(self) -> WebhookRepository: ...

    @property
    def dispatch(self) -> DispatchRepository: ...

    @property
    def policies(self) -> PolicyRepository: ...

    @property
    def notices(self) -> NoticeRepository: ...

    @property
    def retired_secrets(self) -> RetiredSecretRepository: ...

    @property
    def sealed(self) -> SealedRepository: ...

    @property
    def credits(self) -> CreditRepository: ...

    @property
    def usage(self) -> UsageRepository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False, may_lag: bool = False) -> UnitOfWork:
        """``may_lag``: a read that may see the store as it was a moment ago (a read
        replica's; docs/deploy.md): the lists. Never a write, nor a read that a write
        depends on."""
        ...

    def write_problem(self) -> str | None:
        """Why the store would refuse a write now (read-only, disk full), or None."""
        ...


class DispatchLock(Protocol):
    """One dispatcher at a time across every process of a deployment. Held until released
    or the holder dies (the store frees it then)."""

    def try_acquire(self) -> bool:
        """True when this process holds the lock now (taken now or still held)."""
        ...

    def release(self) -> None: ...


class ChangeSink(Protocol):
    """Told of every committed change to tokens (``Core.commit_change``), after the commit:
    the verification engine drops its cached copies of them."""

    def changed(self, token_ids: Sequence[int | None]) -> None:
        """These tokens changed; None stands for every token."""
        ...


class SubjectVerifier(Protocol):
    """A verification as ``POST /v1/verify`` makes it (the verification engine): the token
    exchange verifies its subject token through it."""

    def verify(self, secret: str) -> Verification: ...


class SecretFinder(Protocol):
    """Authentication's read of a presented credential: fresh, never from a cache."""

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        """The token a secret belongs to, and when that secret retires (None: current)."""
        ...
