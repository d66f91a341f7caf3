"""An in-memory store behind the Protocols of ``tokenward.service.ports``, for the service tier.

As cosmicpython's ``FakeUnitOfWork``: the use cases run unchanged on repositories that keep
their rows in dicts, so that each rule of a use case is pinned in milliseconds, with no
database, no HTTP and no thread. A unit of work works on a copy of the store's state and
``commit`` puts the copy back: leaving without a commit rolls back, as the SQL one does.

What these fakes do not pin (SQL, locking, the backends' differences) the store's own tests
pin (tests/integration), on real SQLite and PostgreSQL.

``fake_core`` is the one place that builds a ``Core`` on them: when ``Core`` changes, this is
the function to adapt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from tokenward.domain.audit import AuditEntry, AuditQuery, AuditRecord
from tokenward.domain.tenants import DEFAULT_TENANT, Tenant
from tokenward.domain.tokens import Page, PageRequest, SortOrder, Token, TokenQuery, TokenSort
from tokenward.domain.verification import VerifyCode
from tokenward.service.core import Core
from tokenward.service.ports import TenantLock
from tokenward.service.sealing import Sealer
from tokenward.verification import Engine

#: The key-encryption key of every fake core: sealing is real, only the store is fake.
KEY_MATERIAL = b"service-tier-key-material-0123456789abcdef"
#: Where every fake clock starts.
START = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class State:
    """Everything the store holds. Values are frozen dataclasses, so a copy of the dicts is a
    copy of the state."""

    tokens: dict[int, Token] = field(default_factory=dict)
    #: Every secret hash that opens a token: (token id, when it retires; None: current).
    secrets: dict[str, tuple[int, datetime | None]] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    audit: list[tuple[AuditRecord, datetime | None]] = field(default_factory=list)
    root_hash: str | None = None
    changes: list[tuple[int, int | None, datetime]] = field(default_factory=list)
    #: Rotated-out secrets kept for reuse detection: hash -> token id.
    retired: dict[str, int] = field(default_factory=dict)
    next_token_id: int = 1
    next_audit_id: int = 1
    next_change_seq: int = 1

    def copy(self) -> State:
        return dataclasses.replace(
            self,
            tokens=dict(self.tokens),
            secrets=dict(self.secrets),
            tenants=dict(self.tenants),
            audit=list(self.audit),
            changes=list(self.changes),
            retired=dict(self.retired),
        )


class FakeStore:
    """The committed state, and a version that changes with every commit."""

    def __init__(self, now: datetime = START) -> None:
        self.state = State(tenants={DEFAULT_TENANT: Tenant(DEFAULT_TENANT, now)})
        self.version = 0
        self.commits = 0

    def commit(self, state: State) -> None:
        self.state = state
        self.version += 1
        self.commits += 1


class FakeTokenRepository:
    def __init__(self, state: State) -> None:
        self._s = state

    def add(self, token: Token, *, now: datetime) -> Token:
        stored = dataclasses.replace(token, id=self._s.next_token_id)
        return self.add_with_id(stored, now=now)

    def add_with_id(self, token: Token, *, now: datetime) -> Token:
        assert token.id not in self._s.tokens, "the id must be free"
        self._s.tokens[token.id] = token
        self._s.secrets[token.secret_hash] = (token.id, None)
        self._s.next_token_id = max(self._s.next_token_id, token.id + 1)
        return token

    def secret_hashes_of(self, ids: Sequence[int]) -> dict[int, str]:
        return {i: self._s.tokens[i].secret_hash for i in ids if i in self._s.tokens}

    def get(self, tenant: str, token_id: int, *, for_update: bool = False) -> Token | None:
        token = self._s.tokens.get(token_id)
        return token if token is not None and token.tenant == tenant else None

    def get_many(self, tenant: str, ids: Sequence[int]) -> dict[int, Token]:
        return {i: t for i in ids if (t := self.get(tenant, i)) is not None}

    def get_by_secret_hash(
        self, secret_hash: str, *, live_at: datetime | None = None
    ) -> tuple[Token, datetime | None] | None:
        found = self._s.secrets.get(secret_hash)
        if found is None:
            return None
        token_id, retires_at = found
        if live_at is not None and retires_at is not None and retires_at <= live_at:
            return None
        return self._s.tokens[token_id], retires_at

    def sealed_sample(self) -> tuple[str, bytes] | None:
        for token in self._s.tokens.values():
            if token.sealed_secret:
                return token.secret_hash, token.sealed_secret
        return None

    def search(
        self, tenant: str, query: TokenQuery, page: PageRequest, now: datetime
    ) -> Page[Token]:
        found = [
            t for t in self._s.tokens.values() if t.tenant == tenant and _matches(t, query, now)
        ]
        found.sort(key=lambda t: t.id, reverse=query.order is SortOrder.DESC)
        found.sort(key=lambda t: _sort_value(t, query.sort), reverse=query.order is SortOrder.DESC)
        # Missing values last in either order, as the store sorts them.
        found.sort(key=lambda t: _sort_value(t, query.sort) is None)
        end = None if page.limit is None else page.offset + page.limit
        return Page(
            items=tuple(found[page.offset : end]),
            total=len(found),
            page=page.page,
            limit=page.limit,
        )

    def update(self, token_id: int, changes: Mapping[str, Any]) -> None:
        self._s.tokens[token_id] = dataclasses.replace(self._s.tokens[token_id], **changes)

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
        for old, (owner, retires_at) in list(self._s.secrets.items()):
            if owner != token_id:
                continue
            self._s.retired[old] = owner
            if old_retires_at is None or (retires_at is not None and retires_at <= now):
                del self._s.secrets[old]
            elif retires_at is None or retires_at > old_retires_at:
                self._s.secrets[old] = (owner, old_retires_at)
        self._s.secrets[secret_hash] = (token_id, None)
        self.update(
            token_id,
            {
                "secret_hash": secret_hash,
                "secret_hint": secret_hint,
                "sealed_secret": sealed_secret,
                "updated_at": now,
            },
        )

    def delete(self, token_id: int) -> None:
        del self._s.tokens[token_id]
        for secret_hash, (owner, _) in list(self._s.secrets.items()):
            if owner == token_id:
                del self._s.secrets[secret_hash]
        self._s.retired = {h: o for h, o in self._s.retired.items() if o != token_id}

    def record_use(self, uses: Mapping[int, datetime]) -> None:
        for token_id, at in uses.items():
            token = self._s.tokens.get(token_id)
            if token is not None and (token.last_used_at is None or token.last_used_at < at):
                self.update(token_id, {"last_used_at": at})

    def lock_name(self, tenant: str, name: str) -> None:
        pass  # one unit of work at a time here

    def census(self, now: datetime) -> list[tuple[str, str, int]]:
        counts: dict[tuple[str, str], int] = {}
        for t in self._s.tokens.values():
            state = "disabled" if not t.active else "expired" if t.is_expired(now) else "active"
            counts[(t.tenant, state)] = counts.get((t.tenant, state), 0) + 1
        return [(tenant, state, n) for (tenant, state), n in sorted(counts.items())]


def _matches(t: Token, q: TokenQuery, now: datetime) -> bool:
    expires = t.expires_at
    checks = (
        q.types is None or t.type in q.types,
        q.principals is None or t.principal in q.principals,
        q.owner is None or t.owner == q.owner,
        q.user is None or t.user == q.user,
        q.role is None or t.role is q.role,
        q.active is None or t.active is q.active,
        q.expired is None or t.is_expired(now) is q.expired,
        q.name is None or t.name == q.name,
        not q.name_contains or q.name_contains.casefold() in t.name.casefold(),
        q.created_after is None or t.created_at >= q.created_after,
        q.created_before is None or t.created_at < q.created_before,
        q.expires_after is None or (expires is not None and expires >= q.expires_after),
        q.expires_before is None or (expires is not None and expires < q.expires_before),
    )
    return all(checks)


def _sort_value(t: Token, sort: TokenSort) -> Any:
    return {
        TokenSort.CREATED: t.created_at,
        TokenSort.EXPIRES: t.expires_at,
        TokenSort.NAME: t.name,
        TokenSort.LAST_USED: t.last_used_at,
    }[sort]


class FakeTenantRepository:
    def __init__(self, state: State) -> None:
        self._s = state

    def add(self, tenant: Tenant) -> None:
        assert tenant.name not in self._s.tenants, "the store refuses a second one"
        self._s.tenants[tenant.name] = tenant

    def get(self, name: str, *, lock: TenantLock | None = None) -> Tenant | None:
        return self._s.tenants.get(name)

    def list(self) -> Sequence[Tenant]:
        return [self._s.tenants[name] for name in sorted(self._s.tenants)]

    def delete(self, name: str) -> None:
        tokens = FakeTokenRepository(self._s)
        for token in [t for t in self._s.tokens.values() if t.tenant == name]:
            tokens.delete(token.id)
        del self._s.tenants[name]


class FakeAuditRepository:
    def __init__(self, state: State) -> None:
        self._s = state

    def add(self, entry: AuditEntry) -> None:
        record = AuditRecord(id=self._s.next_audit_id, **dataclasses.asdict(entry))
        self._s.next_audit_id += 1
        self._s.audit.append((record, None))

    def search(self, query: AuditQuery, page: PageRequest) -> Page[AuditRecord]:
        found = [
            record
            for record, deleted_at in reversed(self._s.audit)  # newest first
            if (query.tenant is None or record.tenant == query.tenant)
            and (query.actor is None or record.actor == query.actor)
            and (query.action is None or record.action == query.action)
            and (query.token_id is None or record.token_id == query.token_id)
            and (query.since is None or record.at >= query.since)
            and (query.until is None or record.at < query.until)
            and (query.deleted_tenants or deleted_at is None)
        ]
        end = None if page.limit is None else page.offset + page.limit
        return Page(
            items=tuple(found[page.offset : end]),
            total=len(found),
            page=page.page,
            limit=page.limit,
        )

    def mark_tenant_deleted(self, tenant: str, at: datetime) -> None:
        self._s.audit = [
            (record, at if deleted_at is None and record.tenant == tenant else deleted_at)
            for record, deleted_at in self._s.audit
        ]


class FakeCredentialRepository:
    def __init__(self, state: State) -> None:
        self._s = state

    def root_hash(self) -> str | None:
        return self._s.root_hash

    def set_root_hash(self, secret_hash: str, now: datetime) -> None:
        self._s.root_hash = secret_hash


class FakeChangeLog:
    def __init__(self, state: State) -> None:
        self._s = state

    def record(self, token_ids: Sequence[int | None], now: datetime) -> None:
        for token_id in token_ids:
            self._s.changes.append((self._s.next_change_seq, token_id, now))
            self._s.next_change_seq += 1

    def latest(self) -> int:
        return self._s.changes[-1][0] if self._s.changes else 0

    def since(self, seq: int) -> tuple[list[int | None], int]:
        newer = [(s, tid) for s, tid, _ in self._s.changes if s > seq]
        return ([tid for _, tid in newer], newer[-1][0]) if newer else ([], seq)

    def prune(self, before: datetime) -> None:
        self._s.changes = [change for change in self._s.changes if change[2] >= before]


class FakeWebhooks:
    """No tenant has a webhook here: the service records no event (service/events.py);
    the outbox itself is tested on the real store (tests/lifecycle)."""

    def any_active(self, tenant: str) -> bool:
        return False


class FakePolicies:
    """Every tenant has the default policy, which changes nothing (tests/lifecycle tests the
    others on the real store)."""

    def get(self, tenant: str) -> Mapping[str, Any] | None:
        return None


class FakeUsage:
    """Usage counts written by the engine's flush, kept for a test to read."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.rows.extend(rows)


class FakeRetiredSecrets:
    """The kept hashes, for the engine's filter; reporting a reuse is tested on the real
    store (tests/lifecycle/test_reuse*.py)."""

    def __init__(self, state: State) -> None:
        self._s = state

    def hashes(self, token_ids: Sequence[int] | None = None) -> list[str]:
        wanted = None if token_ids is None else set(token_ids)
        return [h for h, owner in self._s.retired.items() if wanted is None or owner in wanted]


class FakeUnitOfWork:
    """One transaction on a copy of the store's state; ``commit`` makes the copy the state."""

    def __init__(self, store: FakeStore, *, write: bool) -> None:
        self._store = store
        self.write = write
        self._state = store.state.copy()
        self.tokens = FakeTokenRepository(self._state)
        self.tenants = FakeTenantRepository(self._state)
        self.audit = FakeAuditRepository(self._state)
        self.credentials = FakeCredentialRepository(self._state)
        self.changes = FakeChangeLog(self._state)
        self.webhooks = FakeWebhooks()
        self.policies = FakePolicies()
        self.usage = FakeUsage()
        self.retired_secrets = FakeRetiredSecrets(self._state)

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass  # uncommitted work is the copy, dropped with this object

    def commit(self) -> None:
        assert self.write, "a read-only unit of work committed"
        self._store.commit(self._state.copy())


class FakeUnitOfWorkFactory:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        #: What ``write_problem`` answers: a test sets it to play a read-only store.
        self.problem: str | None = None

    def __call__(self, *, write: bool = False, may_lag: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self._store, write=write)

    def write_problem(self) -> str | None:
        return self.problem


class FakeSecretLookup:
    """The verification path's reads, straight from the committed state."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        found = self._store.state.secrets.get(secret_hash)
        if found is None:
            return None
        return self._store.state.tokens[found[0]], found[1]

    def hashes(self, token_ids: Sequence[int] | None = None) -> Iterator[str]:
        wanted = None if token_ids is None else set(token_ids)
        for secret_hash, (token_id, _) in list(self._store.state.secrets.items()):
            if wanted is None or token_id in wanted:
                yield secret_hash
        for secret_hash, token_id in list(self._store.state.retired.items()):  # kept ones too
            if wanted is None or token_id in wanted:
                yield secret_hash

    def count_hashes(self) -> int:
        return len(self._store.state.secrets) + len(self._store.state.retired)

    def version(self) -> Hashable | None:
        return self._store.version

    def changed(self, token_ids: Sequence[int | None]) -> None:
        pass

    @property
    def reads_locally(self) -> bool:
        return True

    def close(self) -> None:
        pass


class FakeClock:
    """A clock that moves only when told: grace periods and expiries without waiting."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeCore:
    """A ``Core`` on the fakes, with the fakes at hand for the test's own checks."""

    core: Core
    engine: Engine
    store: FakeStore
    clock: FakeClock
    uow: FakeUnitOfWorkFactory


def fake_core(**options: Any) -> FakeCore:
    """The one builder of a ``Core`` on the in-memory store, with the verification engine it
    tells of its changes; ``options`` go to ``Core`` (``admin_token_hash``, ...)."""
    clock = FakeClock()
    store = FakeStore(clock.now)
    uow = FakeUnitOfWorkFactory(store)
    engine = Engine(uow=uow, lookup=FakeSecretLookup(store), clock=clock)
    core = Core(
        uow=uow,
        sealer=Sealer(KEY_MATERIAL),
        changes=engine,
        secrets=engine,
        clock=clock,
        **options,
    )
    engine.start()
    return FakeCore(core=core, engine=engine, store=store, clock=clock, uow=uow)


def verify_code(core: Core, secret: str, **asked: Any) -> VerifyCode:
    """What verification answers for ``secret``: the engine's public ``verify``, called from
    one place so that the service tier tests no verification internals."""
    engine = core.changes
    assert isinstance(engine, Engine)  # fake_core wires the engine as the change sink
    return engine.verify(secret, **asked).code
