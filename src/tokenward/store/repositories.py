"""Repositories over one SQLAlchemy connection. They never commit: the unit of work does."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)

from tokenward.domain import clock, limits
from tokenward.domain.audit import AuditEntry, AuditQuery, AuditRecord
from tokenward.domain.lifecycle import (
    Attempt,
    Delivery,
    DeliveryStatus,
    DueDelivery,
    OutboxEvent,
    Webhook,
)
from tokenward.domain.roles import Role
from tokenward.domain.tenants import Tenant
from tokenward.domain.tokens import (
    Credits,
    Page,
    PageRequest,
    SortOrder,
    Token,
    TokenQuery,
    TokenSort,
    TokenType,
)
from tokenward.store.controls import (
    credits_of,
    credits_value,
    rate_limits_of,
    rate_limits_value,
)
from tokenward.store.driver import DriverStatement
from tokenward.store.notifications import notify_statement
from tokenward.store.tables import (
    EpochMillis,
    audit,
    outbox_events,
    retired_secrets,
    root_credential,
    tenant_policies,
    tenants,
    token_changes,
    token_credits,
    token_notices,
    token_secrets,
    token_tallies,
    token_usage,
    tokens,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
)

_SORT_COLUMNS = {
    TokenSort.CREATED: tokens.c.created_at,
    TokenSort.EXPIRES: tokens.c.expires_at,
    TokenSort.NAME: tokens.c.name,
    TokenSort.LAST_USED: tokens.c.last_used_at,
}


def _to_token(row: Row[Any]) -> Token:
    m = row._mapping
    return Token(
        id=m["id"],
        tenant=m["tenant"],
        name=m["name"],
        description=m["description"],
        type=TokenType(m["type"]),
        principal=m["principal"],
        owner=m["owner"],
        user=m["user"],
        role=Role(m["role"]),
        scopes=tuple(m["scopes"]),
        audience=tuple(m["audience"]),
        resources=tuple(m["resources"]),
        restricted=m["restricted"],
        active=m["active"],
        expires_at=m["expires_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_used_at=m["last_used_at"],
        secret_hash=m["secret_hash"],
        secret_hint=m["secret_hint"],
        sealed_secret=m["sealed_secret"],
        metadata=m["metadata"],
        rate_limits=rate_limits_of(m["rate_limits"]),
        credits=_live_credits(m),
        ip_allowlist=tuple(m["ip_allowlist"]),
    )


def _live_credits(m: Any) -> Credits | None:
    """The token's credits with the ledger's balance where the row was read with it
    (``_WITH_BALANCE``): a refill period since passed shows the refill amount, as the next
    spend would find it."""
    credits = credits_of(m["credits"])
    if credits is None or "balance" not in m or m["balance"] is None:
        return credits
    remaining = int(m["balance"])
    refill = credits.refill
    if refill is not None and int(m["balance_period"]) < refill.period(clock.utcnow()):
        remaining = refill.amount
    return Credits(remaining, refill)


def _token_values(token: Token) -> dict[str, Any]:
    return {
        "tenant": token.tenant,
        "name": token.name,
        "description": token.description,
        "type": token.type.value,
        "principal": token.principal,
        "owner": token.owner,
        "user": token.user,
        "role": token.role.value,
        "scopes": list(token.scopes),
        "audience": list(token.audience),
        "resources": list(token.resources),
        "restricted": token.restricted,
        "active": token.active,
        "expires_at": token.expires_at,
        "created_at": token.created_at,
        "updated_at": token.updated_at,
        "last_used_at": token.last_used_at,
        "secret_hash": token.secret_hash,
        "secret_hint": token.secret_hint,
        "sealed_secret": token.sealed_secret,
        "metadata": dict(token.metadata),
        "rate_limits": rate_limits_value(token.rate_limits),
        "credits": credits_value(token.credits),
        "ip_allowlist": list(token.ip_allowlist),
    }


# The statements of every create, run on the driver (see ``driver.py``).
_INSERT_TOKEN = DriverStatement(
    insert(tokens).returning(tokens.c.id), keys=[c.name for c in tokens.c if c.name != "id"]
)
# Inline: no RETURNING of the new keys, which PostgreSQL would otherwise be asked for.
_INSERT_SECRET = DriverStatement(
    insert(token_secrets).inline(), keys=["secret_hash", "token_id", "retires_at"]
)
_INSERT_AUDIT = DriverStatement(
    insert(audit).inline(),
    keys=[c.name for c in audit.c if c.name not in ("id", "tenant_deleted_at")],
)
_INSERT_CHANGE = DriverStatement(insert(token_changes).inline(), keys=["token_id", "at"])
_TENANT_BY_NAME = DriverStatement(select(tenants).where(tenants.c.name == bindparam("name")))


class SqlTokenRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, token: Token, *, now: datetime) -> Token:
        inserted = _INSERT_TOKEN.first(self._conn, _token_values(token))
        assert inserted is not None  # RETURNING gives the row it inserted
        token_id = inserted[0]
        _INSERT_SECRET.execute(
            self._conn,
            {"secret_hash": token.secret_hash, "token_id": token_id, "retires_at": None},
        )
        if token.credits is not None:
            SqlCreditRepository(self._conn).set(token_id, token.credits, now)
        return Token(**{**_as_fields(token), "id": token_id})

    def add_with_id(self, token: Token, *, now: datetime) -> Token:
        """Stores a token under its own ``id`` (an import that keeps ids). On PostgreSQL the
        id sequence is moved past it, so that the next new token does not collide with it;
        SQLite's AUTOINCREMENT moves by itself."""
        self._conn.execute(insert(tokens).values(id=token.id, **_token_values(token)))
        _INSERT_SECRET.execute(
            self._conn,
            {"secret_hash": token.secret_hash, "token_id": token.id, "retires_at": None},
        )
        if token.credits is not None:
            SqlCreditRepository(self._conn).set(token.id, token.credits, now)
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('tokens', 'id'), "
                    "GREATEST((SELECT max(id) FROM tokens), 1))"
                )
            )
        return token

    def secret_hashes_of(self, ids: Sequence[int]) -> dict[int, str]:
        """The current secret hash of each of these ids that is stored, in any tenant."""
        rows = self._conn.execute(
            select(tokens.c.id, tokens.c.secret_hash).where(tokens.c.id.in_(list(ids)))
        )
        return {row.id: row.secret_hash for row in rows}

    def get(self, tenant: str, token_id: int, *, for_update: bool = False) -> Token | None:
        stmt = (
            select(*_WITH_BALANCE)
            .select_from(_BALANCED)
            .where(tokens.c.id == token_id, _equals(tokens.c.tenant, tenant))
        )
        if for_update:
            # A change can add a tally row, which takes the tenant row too: the tenant's lock
            # first, as every writer of a tenant takes it (see SqlTenantRepository.get).
            SqlTenantRepository(self._conn).get(tenant, lock="share")
            # PostgreSQL (the token's row; SQLite's writers begin IMMEDIATE).
            stmt = stmt.with_for_update(of=tokens)
        row = self._conn.execute(stmt).first()
        return None if row is None else _to_token(row)

    def get_many(self, tenant: str, ids: Sequence[int]) -> dict[int, Token]:
        if not ids:
            return {}
        rows = self._conn.execute(
            select(*_WITH_BALANCE)
            .select_from(_BALANCED)
            .where(tokens.c.id.in_(list(ids)), _equals(tokens.c.tenant, tenant))
        )
        return {row.id: _to_token(row) for row in rows}

    def get_by_secret_hash(
        self, secret_hash: str, *, live_at: datetime | None = None
    ) -> tuple[Token, datetime | None] | None:
        stmt = (
            select(tokens, token_secrets.c.retires_at)
            .join(token_secrets, token_secrets.c.token_id == tokens.c.id)
            .where(token_secrets.c.secret_hash == secret_hash)
        )
        if live_at is not None:
            retires_at = token_secrets.c.retires_at
            stmt = stmt.where(or_(retires_at.is_(None), retires_at > live_at))
        row = self._conn.execute(stmt).first()
        return None if row is None else (_to_token(row), row.retires_at)

    def search(
        self, tenant: str, query: TokenQuery, page: PageRequest, now: datetime
    ) -> Page[Token]:
        conditions = [_equals(tokens.c.tenant, tenant), *_conditions(query, now)]
        total = self._total(tenant, query, conditions)
        column = _SORT_COLUMNS[query.sort]
        descending = query.order is SortOrder.DESC
        order: list[Any] = []
        if column.nullable:
            order.append(column.is_(None))  # missing values last in either order
        order += [column.desc(), tokens.c.id.desc()] if descending else [column, tokens.c.id]
        stmt = (
            select(*_WITH_BALANCE)
            .select_from(_BALANCED)
            .where(*conditions)
            .order_by(*order)
            .offset(page.offset)
        )
        if page.limit is not None:
            stmt = stmt.limit(page.limit)
        items = tuple(_to_token(row) for row in self._conn.execute(stmt))
        return Page(items=items, total=total, page=page.page, limit=page.limit)

    def _total(
        self, tenant: str, query: TokenQuery, conditions: Sequence[ColumnElement[bool]]
    ) -> int:
        """Every match, exactly: from the tallies when they can tell (a sum of a few rows),
        else by counting the matches (a scan of all of them)."""
        if _tallied(query):
            tallied = select(func.coalesce(func.sum(token_tallies.c.count), 0)).where(
                _equals(token_tallies.c.tenant, tenant), *_key_conditions(token_tallies, query)
            )
            return int(self._conn.execute(tallied).scalar_one())
        counted = select(func.count()).select_from(tokens).where(*conditions)
        return int(self._conn.execute(counted).scalar_one())

    def update(self, token_id: int, changes: Mapping[str, Any]) -> None:
        values = {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in changes.items()
        }
        if "rate_limits" in values:
            values["rate_limits"] = rate_limits_value(tuple(values["rate_limits"]))
        if "credits" in values:
            credits: Credits | None = changes["credits"]
            values["credits"] = credits_value(credits)
            ledger = SqlCreditRepository(self._conn)
            if credits is None:
                ledger.remove(token_id)
            else:
                at: datetime = changes.get("updated_at") or clock.utcnow()
                ledger.set(token_id, credits, at)
        if "role" in values:
            values["role"] = Role(str(values["role"])).value
        self._conn.execute(update(tokens).where(tokens.c.id == token_id).values(values))

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
        # Every older secret, not only the current one: a secret still in the grace of an
        # earlier rotation must not outlive this one's (grace 0 is the answer to a leak).
        mine = token_secrets.c.token_id == token_id
        retires_at = token_secrets.c.retires_at
        _keep_retired(self._conn, token_id, old_retires_at or now)
        if old_retires_at is None:
            self._conn.execute(delete(token_secrets).where(mine))
        else:
            self._conn.execute(delete(token_secrets).where(mine, retires_at <= now))
            self._conn.execute(
                update(token_secrets)
                .where(mine, or_(retires_at.is_(None), retires_at > old_retires_at))
                .values(retires_at=old_retires_at)
            )
        self._conn.execute(insert(token_secrets).values(secret_hash=secret_hash, token_id=token_id))
        self._conn.execute(
            update(tokens)
            .where(tokens.c.id == token_id)
            .values(
                secret_hash=secret_hash,
                secret_hint=secret_hint,
                sealed_secret=sealed_secret,
                updated_at=now,
            )
        )

    def delete(self, token_id: int) -> None:
        self._conn.execute(delete(token_credits).where(token_credits.c.token_id == token_id))
        self._conn.execute(delete(token_secrets).where(token_secrets.c.token_id == token_id))
        # Its retired secrets go with it: an id given again by an import must not inherit them.
        self._conn.execute(delete(retired_secrets).where(retired_secrets.c.token_id == token_id))
        self._conn.execute(delete(tokens).where(tokens.c.id == token_id))

    def lock_name(self, tenant: str, name: str) -> None:
        # SQLite writers already run one at a time (BEGIN IMMEDIATE); PostgreSQL needs a lock.
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                # PostgreSQL text cannot hold NUL; the tenant's length keeps the key unambiguous.
                {"key": f"name:{len(tenant)}:{tenant}:{name}"},
            )

    def census(self, now: datetime) -> list[tuple[str, str, int]]:
        state = case(
            (tokens.c.active.is_(False), "disabled"),
            (and_(tokens.c.expires_at.is_not(None), tokens.c.expires_at <= now), "expired"),
            else_="active",
        ).label("state")
        rows = self._conn.execute(
            select(tokens.c.tenant, state, func.count()).group_by(tokens.c.tenant, state)
        )
        return [(tenant, str(label), int(count)) for tenant, label, count in rows]

    def record_use(self, uses: Mapping[int, datetime]) -> None:
        # Only forward: a late flush from another process must not move a time back.
        stmt = (
            update(tokens)
            .where(
                tokens.c.id == bindparam("token_id"),
                or_(
                    tokens.c.last_used_at.is_(None),
                    tokens.c.last_used_at < bindparam("used_at", type_=tokens.c.last_used_at.type),
                ),
            )
            .values(last_used_at=bindparam("used_at"))
        )
        self._conn.execute(
            stmt, [{"token_id": tid, "used_at": at} for tid, at in sorted(uses.items())]
        )


#: A token's row with its live credit balance, for the reads that answer management calls.
_BALANCED = tokens.outerjoin(token_credits, token_credits.c.token_id == tokens.c.id)
_WITH_BALANCE = (
    tokens,
    token_credits.c.remaining.label("balance"),
    token_credits.c.period.label("balance_period"),
)


def _as_fields(token: Token) -> dict[str, Any]:
    return {name: getattr(token, name) for name in Token.__dataclass_fields__}


def _equals(column: Any, value: str) -> ColumnElement[bool]:
    """``column = value``, where a value no row can hold (a NUL, a lone surrogate) matches
    nothing instead of failing in the driver (PostgreSQL refuses NUL in text parameters)."""
    return column == value if _storable(value) else false()


def _storable(value: str) -> bool:
    return "\x00" not in value and limits.is_encodable(value)


#: The filters of a ``TokenQuery`` over columns that ``token_tallies`` counts by.
_TALLY_FILTERS = frozenset({"types", "role", "active"})
_NOT_FILTERS = frozenset({"sort", "order"})


def _tallied(query: TokenQuery) -> bool:
    """Whether ``query`` filters on tallied columns only. Judged field by field, so that a
    filter added to ``TokenQuery`` later falls back to counting instead of being ignored."""
    for field in dataclasses.fields(query):
        if field.name in _TALLY_FILTERS or field.name in _NOT_FILTERS:
            continue
        value = getattr(query, field.name)
        if field.name == "name_contains" and not value:
            continue  # an empty one filters nothing (see _conditions)
        if value is not None:
            return False
    return True


def _key_conditions(table: Table, query: TokenQuery) -> list[ColumnElement[bool]]:
    """The tallied filters, over ``tokens`` or ``token_tallies`` alike."""
    c = table.c
    found: list[ColumnElement[bool]] = []
    if query.types is not None:
        found.append(c.type.in_([t.value for t in query.types]))
    if query.role is not None:
        found.append(c.role == query.role.value)
    if query.active is not None:
        found.append(c.active.is_(query.active))
    return found


def _conditions(query: TokenQuery, now: datetime) -> list[ColumnElement[bool]]:
    c = tokens.c
    found = _key_conditions(tokens, query)
    if query.principals is not None:
        principals = [p for p in query.principals if _storable(p)]
        found.append(c.principal.in_(principals) if principals else false())
    if query.owner is not None:
        found.append(_equals(c.owner, query.owner))
    if query.user is not None:
        found.append(_equals(c.user, query.user))
    if query.expired is True:
        found.append(and_(c.expires_at.is_not(None), c.expires_at <= now))
    elif query.expired is False:
        found.append(or_(c.expires_at.is_(None), c.expires_at > now))
    if query.name is not None:
        found.append(_equals(c.name, query.name))
    if query.name_contains:
        found.append(
            c.name.icontains(query.name_contains, autoescape=True)
            if _storable(query.name_contains)
            else false()
        )
    if query.created_after is not None:
        found.append(c.created_at >= query.created_after)
    if query.created_before is not None:
        found.append(c.created_at < query.created_before)
    if query.expires_after is not None:
        found.append(c.expires_at >= query.expires_after)
    if query.expires_before is not None:
        found.append(c.expires_at < query.expires_before)
    return found


class SqlTenantRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, tenant: Tenant) -> None:
        self._conn.execute(insert(tenants).values(name=tenant.name, created_at=tenant.created_at))

    def get(self, name: str, *, lock: Literal["share", "update"] | None = None) -> Tenant | None:
        if not _storable(name):
            return None
        if lock is not None and self._conn.dialect.name == "postgresql":
            # The tenant's lock orders a deletion against the writers of the tenant: each
            # takes it first, before any token or tally row. Without it they locked tallies
            # and the tenant row in opposite orders (deadlocks), and a create that passed
            # its check before a deletion failed on the foreign key after it (a stray
            # conflict). An advisory lock, not the row's: its waiters queue in order, where
            # a stream of creates sharing the row kept a deletion waiting forever.
            # SQLite's writers run one at a time; they need no lock.
            function = (
                "pg_advisory_xact_lock_shared" if lock == "share" else "pg_advisory_xact_lock"
            )
            self._conn.execute(
                text(f"SELECT {function}(hashtextextended(:key, 0))"), {"key": f"tenant:{name}"}
            )
        found = _TENANT_BY_NAME.first(self._conn, {"name": name})
        return None if found is None else Tenant(name=found[0], created_at=found[1])

    def list(self) -> Sequence[Tenant]:
        rows = self._conn.execute(select(tenants).order_by(tenants.c.name))
        return [Tenant(name=row.name, created_at=row.created_at) for row in rows]

    def delete(self, name: str) -> None:
        owned = select(tokens.c.id).where(tokens.c.tenant == name).scalar_subquery()
        self._conn.execute(delete(token_credits).where(token_credits.c.token_id.in_(owned)))
        self._conn.execute(delete(token_secrets).where(token_secrets.c.token_id.in_(owned)))
        # A later tenant of the same name is another tenant: it sees none of these counts.
        self._conn.execute(delete(token_usage).where(token_usage.c.tenant == name))
        self._conn.execute(delete(tokens).where(tokens.c.tenant == name))
        self._conn.execute(delete(tenants).where(tenants.c.name == name))


class SqlAuditRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, entry: AuditEntry) -> None:
        _INSERT_AUDIT.execute(
            self._conn,
            {
                "at": entry.at,
                "tenant": entry.tenant,
                "actor": entry.actor,
                "action": entry.action,
                "token_id": entry.token_id,
                "client": entry.client,
                "detail": dict(entry.detail),
            },
        )

    def search(self, query: AuditQuery, page: PageRequest) -> Page[AuditRecord]:
        c = audit.c
        conditions: list[ColumnElement[bool]] = []
        if query.tenant is not None:
            conditions.append(_equals(c.tenant, query.tenant))
        if query.actor is not None:
            conditions.append(_equals(c.actor, query.actor))
        if query.action is not None:
            conditions.append(_equals(c.action, query.action))
        if query.token_id is not None:
            conditions.append(c.token_id == query.token_id)
        if query.since is not None:
            conditions.append(c.at >= query.since)
        if query.until is not None:
            conditions.append(c.at < query.until)
        if not query.deleted_tenants:
            conditions.append(c.tenant_deleted_at.is_(None))
        total = self._conn.execute(
            select(func.count()).select_from(audit).where(*conditions)
        ).scalar_one()
        stmt = select(audit).where(*conditions).order_by(c.id.desc()).offset(page.offset)
        if page.limit is not None:
            stmt = stmt.limit(page.limit)
        items = tuple(
            AuditRecord(
                id=row.id,
                at=row.at,
                tenant=row.tenant,
                actor=row.actor,
                action=row.action,
                token_id=row.token_id,
                client=row.client,
                detail=row.detail,
            )
            for row in self._conn.execute(stmt)
        )
        return Page(items=items, total=total, page=page.page, limit=page.limit)

    def mark_tenant_deleted(self, tenant: str, at: datetime) -> None:
        self._conn.execute(
            update(audit)
            .where(_equals(audit.c.tenant, tenant), audit.c.tenant_deleted_at.is_(None))
            .values(tenant_deleted_at=at)
        )


class SqlCredentialRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def root_hash(self) -> str | None:
        found: str | None = self._conn.execute(
            select(root_credential.c.secret_hash).where(root_credential.c.id == 1)
        ).scalar()
        return found

    def set_root_hash(self, secret_hash: str, now: datetime) -> None:
        self._conn.execute(delete(root_credential))
        self._conn.execute(
            insert(root_credential).values(id=1, secret_hash=secret_hash, created_at=now)
        )


class SqlChangeLog:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, token_ids: Sequence[int | None], now: datetime) -> None:
        if self._conn.dialect.name == "postgresql":
            # Sequence numbers are handed out at insert, not at commit: two changers could
            # commit out of order and a reader pass one by. This lock, held to the commit,
            # keeps numbering and commit order the same (SQLite writers are serial anyway).
            self._conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7032)")
        _INSERT_CHANGE.execute_many(self._conn, [{"token_id": tid, "at": now} for tid in token_ids])
        if self._conn.dialect.name == "postgresql":
            self._conn.exec_driver_sql(notify_statement(token_ids))

    def latest(self) -> int:
        latest: int | None = self._conn.execute(select(func.max(token_changes.c.seq))).scalar()
        return latest or 0

    def since(self, seq: int) -> tuple[list[int | None], int]:
        rows = self._conn.execute(
            select(token_changes.c.seq, token_changes.c.token_id)
            .where(token_changes.c.seq > seq)
            .order_by(token_changes.c.seq)
        ).all()
        if not rows:
            return [], seq
        return [row.token_id for row in rows], rows[-1].seq

    def prune(self, before: datetime) -> None:
        self._conn.execute(delete(token_changes).where(token_changes.c.at < before))


# Lifecycle (docs/lifecycle.md).

_INSERT_EVENT = DriverStatement(
    insert(outbox_events).inline(),
    keys=["event_id", "tenant", "type", "body", "created_at", "fanned_out"],
)


class SqlOutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, event: OutboxEvent) -> None:
        _INSERT_EVENT.execute(
            self._conn,
            {
                "event_id": event.id,
                "tenant": event.tenant,
                "type": event.type,
                "body": event.body,
                "created_at": event.created_at,
                "fanned_out": False,
            },
        )


def _to_webhook(row: Row[Any]) -> Webhook:
    m = row._mapping
    return Webhook(
        id=m["id"],
        tenant=m["tenant"],
        url=m["url"],
        events=tuple(m["events"]),
        description=m["description"],
        active=m["active"],
        disabled_reason=m["disabled_reason"],
        failing_since=m["failing_since"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        secret_hash=m["secret_hash"],
        sealed_secret=m["sealed_secret"],
    )


class SqlWebhookRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, webhook: Webhook) -> Webhook:
        values = {
            f.name: getattr(webhook, f.name) for f in dataclasses.fields(webhook) if f.name != "id"
        }
        values["events"] = list(webhook.events)
        new_id = self._conn.execute(
            insert(webhooks).values(**values).returning(webhooks.c.id)
        ).scalar_one()
        return dataclasses.replace(webhook, id=new_id)

    def get(self, tenant: str, webhook_id: int) -> Webhook | None:
        row = self._conn.execute(
            select(webhooks).where(webhooks.c.id == webhook_id, _equals(webhooks.c.tenant, tenant))
        ).first()
        return None if row is None else _to_webhook(row)

    def list(self, tenant: str) -> Sequence[Webhook]:
        rows = self._conn.execute(
            select(webhooks).where(_equals(webhooks.c.tenant, tenant)).order_by(webhooks.c.id)
        )
        return [_to_webhook(row) for row in rows]

    def any_active(self, tenant: str) -> bool:
        found = self._conn.execute(
            select(webhooks.c.id)
            .where(_equals(webhooks.c.tenant, tenant), webhooks.c.active == true())
            .limit(1)
        ).first()
        return found is not None

    def update(self, webhook_id: int, changes: Mapping[str, Any]) -> None:
        values = dict(changes)
        if "events" in values:
            values["events"] = list(values["events"])
        self._conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(**values))

    def delete(self, webhook_id: int) -> None:
        # Attempts and deliveries go with it (ON DELETE CASCADE on both backends).
        self._conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))

    def _deliveries(
        self, *conditions: ColumnElement[bool], limit: int, offset: int = 0
    ) -> builtins.list[Delivery]:
        d, e = webhook_deliveries.c, outbox_events.c
        rows = self._conn.execute(
            select(
                d.id,
                d.webhook_id,
                d.status,
                d.next_attempt_at,
                d.created_at,
                e.tenant,
                e.event_id,
                e.type,
            )
            .join(outbox_events, e.seq == d.event_seq)
            .where(*conditions)
            .order_by(d.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        attempts: dict[int, builtins.list[Attempt]] = {row.id: [] for row in rows}
        if rows:
            a = webhook_attempts.c
            for att in self._conn.execute(
                select(webhook_attempts)
                .where(a.delivery_id.in_(list(attempts)))
                .order_by(a.delivery_id, a.id)
            ):
                attempts[att.delivery_id].append(
                    Attempt(
                        at=att.at,
                        status_code=att.status_code,
                        duration_ms=att.duration_ms,
                        error=att.error,
                    )
                )
        return [
            Delivery(
                id=row.id,
                webhook_id=row.webhook_id,
                tenant=row.tenant,
                event_id=row.event_id,
                event_type=row.type,
                status=DeliveryStatus(row.status),
                attempts=tuple(attempts[row.id]),
                next_attempt_at=row.next_attempt_at,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def deliveries(self, webhook_id: int, page: PageRequest) -> Page[Delivery]:
        assert page.limit is not None  # the service bounds it
        mine = webhook_deliveries.c.webhook_id == webhook_id
        total = self._conn.execute(
            select(func.count()).select_from(webhook_deliveries).where(mine)
        ).scalar_one()
        items = self._deliveries(mine, limit=page.limit, offset=page.offset)
        return Page(items=tuple(items), total=int(total), page=page.page, limit=page.limit)

    def get_delivery(self, webhook_id: int, delivery_id: int) -> Delivery | None:
        found = self._deliveries(
            webhook_deliveries.c.webhook_id == webhook_id,
            webhook_deliveries.c.id == delivery_id,
            limit=1,
        )
        return found[0] if found else None

    def schedule(self, delivery_id: int, at: datetime) -> None:
        self._conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=at)
        )


class SqlDispatchRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def has_new_events(self) -> bool:
        found = self._conn.execute(
            select(outbox_events.c.seq).where(outbox_events.c.fanned_out == false()).limit(1)
        ).first()
        return found is not None

    def fan_out(self, now: datetime, *, limit: int) -> int:
        e = outbox_events.c
        events = self._conn.execute(
            select(e.seq, e.tenant, e.type, e.created_at)
            .where(e.fanned_out == false())
            .order_by(e.seq)
            .limit(limit)
        ).all()
        if not events:
            return 0
        hooks: dict[str, list[Webhook]] = {}
        for tenant in {ev.tenant for ev in events}:
            hooks[tenant] = list(SqlWebhookRepository(self._conn).list(tenant))
        rows = [
            {
                "webhook_id": hook.id,
                "event_seq": ev.seq,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for ev in events
            for hook in hooks[ev.tenant]
            # Only endpoints that existed when the event happened receive it.
            if hook.wants(ev.type) and hook.created_at <= ev.created_at
        ]
        if rows:
            self._conn.execute(insert(webhook_deliveries), rows)
        self._conn.execute(
            update(outbox_events)
            .where(e.seq.in_([ev.seq for ev in events]))
            .values(fanned_out=True)
        )
        return len(events)

    def due(self, now: datetime, *, limit: int) -> Sequence[DueDelivery]:
        d, e, w = webhook_deliveries.c, outbox_events.c, webhooks.c
        rows = self._conn.execute(
            select(
                d.id,
                d.webhook_id,
                d.attempts,
                d.created_at,
                w.url,
                w.secret_hash,
                w.sealed_secret,
                e.event_id,
                e.body,
            )
            .join(webhooks, w.id == d.webhook_id)
            .join(outbox_events, e.seq == d.event_seq)
            .where(
                d.status == DeliveryStatus.PENDING.value,
                d.next_attempt_at <= now,
                w.active == true(),
            )
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        ).all()
        return [
            DueDelivery(
                id=row.id,
                webhook_id=row.webhook_id,
                url=row.url,
                secret_hash=row.secret_hash,
                sealed_secret=row.sealed_secret,
                event_id=row.event_id,
                body=row.body,
                attempts=row.attempts,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def record(
        self,
        delivery_id: int,
        attempt: Attempt,
        *,
        delivered: bool,
        next_attempt_at: datetime | None,
    ) -> None:
        self._conn.execute(
            insert(webhook_attempts).values(
                delivery_id=delivery_id,
                at=attempt.at,
                status_code=attempt.status_code,
                duration_ms=attempt.duration_ms,
                error=attempt.error,
            )
        )
        if delivered:
            status = DeliveryStatus.DELIVERED
        elif next_attempt_at is not None:
            status = DeliveryStatus.PENDING
        else:
            status = DeliveryStatus.FAILED
        self._conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(
                status=status.value,
                attempts=webhook_deliveries.c.attempts + 1,
                next_attempt_at=next_attempt_at if status is DeliveryStatus.PENDING else None,
            )
        )

    def webhook_result(
        self, webhook_id: int, *, ok: bool, now: datetime, disable_after: float
    ) -> None:
        w = webhooks.c
        if ok:
            self._conn.execute(
                update(webhooks)
                .where(w.id == webhook_id, w.failing_since.is_not(None))
                .values(failing_since=None)
            )
            return
        self._conn.execute(
            update(webhooks)
            .where(w.id == webhook_id, w.failing_since.is_(None))
            .values(failing_since=now)
        )
        since = self._conn.execute(select(w.failing_since).where(w.id == webhook_id)).scalar()
        if since is not None and (now - since).total_seconds() >= disable_after:
            days = disable_after / 86400
            self._conn.execute(
                update(webhooks)
                .where(w.id == webhook_id, w.active == true())
                .values(
                    active=False,
                    updated_at=now,
                    disabled_reason=(
                        f"disabled by the server: every delivery failed for {days:g} days "
                        f"(since {since.isoformat()})"
                    ),
                )
            )

    def prune(self, before: datetime) -> int:
        e, d = outbox_events.c, webhook_deliveries.c
        unsettled = select(d.event_seq).where(d.status == DeliveryStatus.PENDING.value)
        result = self._conn.execute(
            delete(outbox_events).where(
                e.created_at < before, e.fanned_out == true(), e.seq.not_in(unsettled)
            )
        )
        return int(result.rowcount or 0)


class SqlPolicyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, tenant: str) -> Mapping[str, Any] | None:
        if not _storable(tenant):
            return None
        found: Mapping[str, Any] | None = self._conn.execute(
            select(tenant_policies.c.policy).where(tenant_policies.c.tenant == tenant)
        ).scalar()
        return found

    def put(self, tenant: str, policy: Mapping[str, Any], now: datetime) -> None:
        self._conn.execute(delete(tenant_policies).where(tenant_policies.c.tenant == tenant))
        self._conn.execute(
            insert(tenant_policies).values(tenant=tenant, policy=dict(policy), updated_at=now)
        )

    def all(self) -> dict[str, Mapping[str, Any]]:
        rows = self._conn.execute(select(tenant_policies.c.tenant, tenant_policies.c.policy))
        return {row.tenant: row.policy for row in rows}

    def outliving(self, tenant: str, until: datetime) -> Sequence[Token]:
        t = tokens.c
        rows = self._conn.execute(
            select(tokens)
            .where(_equals(t.tenant, tenant), or_(t.expires_at.is_(None), t.expires_at > until))
            .order_by(t.id)
        )
        return [_to_token(row) for row in rows]


class SqlNoticeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _unnoticed(self, kind: str) -> ColumnElement[bool]:
        n = token_notices.c
        return ~(
            select(n.token_id)
            .where(n.token_id == tokens.c.id, n.kind == kind, n.expires_at == tokens.c.expires_at)
            .exists()
        )

    def expiring(self, now: datetime, until: datetime, kind: str, *, limit: int) -> Sequence[Token]:
        t = tokens.c
        rows = self._conn.execute(
            select(tokens)
            .where(
                t.expires_at > now,
                t.expires_at <= until,
                t.active == true(),
                self._unnoticed(kind),
            )
            .order_by(t.expires_at)
            .limit(limit)
        )
        return [_to_token(row) for row in rows]

    def expired(self, now: datetime, since: datetime, *, limit: int) -> Sequence[Token]:
        t = tokens.c
        rows = self._conn.execute(
            select(tokens)
            .where(t.expires_at > since, t.expires_at <= now, self._unnoticed("expired"))
            .order_by(t.expires_at)
            .limit(limit)
        )
        return [_to_token(row) for row in rows]

    def inactive(self, tenant: str, before: datetime, *, limit: int) -> Sequence[Token]:
        t = tokens.c
        rows = self._conn.execute(
            select(tokens)
            .where(
                _equals(t.tenant, tenant),
                t.active == true(),
                func.coalesce(t.last_used_at, t.created_at) < before,
            )
            .order_by(t.id)
            .limit(limit)
        )
        return [_to_token(row) for row in rows]

    def add(self, token_id: int, kinds: Sequence[str], expires_at: datetime, now: datetime) -> None:
        n = token_notices.c
        present = set(
            self._conn.execute(
                select(n.kind).where(
                    n.token_id == token_id, n.expires_at == expires_at, n.kind.in_(list(kinds))
                )
            ).scalars()
        )
        missing = [kind for kind in kinds if kind not in present]
        if missing:
            self._conn.execute(
                insert(token_notices),
                [
                    {"token_id": token_id, "kind": kind, "expires_at": expires_at, "at": now}
                    for kind in missing
                ],
            )


class SqlCreditRepository:
    """The live credit balances (``tables.token_credits``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def set(self, token_id: int, credits: Credits, now: datetime) -> None:
        period = 0 if credits.refill is None else credits.refill.period(now)
        self.remove(token_id)
        self._conn.execute(
            insert(token_credits).values(
                token_id=token_id, remaining=credits.remaining, period=period
            )
        )

    def remove(self, token_id: int) -> None:
        self._conn.execute(delete(token_credits).where(token_credits.c.token_id == token_id))

    def add(self, token_id: int, amount: int, period: int, refill_amount: int) -> int | None:
        """Adds to the balance, from the refill amount when a new period has begun; the new
        balance, or None for a token without a balance."""
        current = case(
            (token_credits.c.period < period, refill_amount), else_=token_credits.c.remaining
        )
        row = self._conn.execute(
            update(token_credits)
            .where(token_credits.c.token_id == token_id)
            .values(
                remaining=func.min(current + amount, limits.MAX_CREDITS)
                if self._conn.dialect.name == "sqlite"
                else func.least(current + amount, limits.MAX_CREDITS),
                period=case(
                    (token_credits.c.period < period, period), else_=token_credits.c.period
                ),
            )
            .returning(token_credits.c.remaining)
        ).first()
        return None if row is None else int(row[0])

    def spend(self, token_id: int, cost: int, period: int, amount: int) -> tuple[bool, int]:
        """Takes ``cost`` from the balance if it holds that much, in one statement: two
        spenders of the last credit cannot both see it (the row's write lock orders them, and
        the second one's condition is judged on the first one's result). ``period`` and
        ``amount``: the refill's current period and amount (0 and 0 without a refill), so
        that the first spend of a new period starts from a full balance. Answers whether it
        spent, and the balance after it (or as it is, when it did not)."""
        current = case((token_credits.c.period < period, amount), else_=token_credits.c.remaining)
        row = self._conn.execute(
            update(token_credits)
            .where(token_credits.c.token_id == token_id, current >= cost)
            .values(
                remaining=current - cost,
                period=case(
                    (token_credits.c.period < period, period), else_=token_credits.c.period
                ),
            )
            .returning(token_credits.c.remaining)
        ).first()
        if row is not None:
            return True, int(row[0])
        return False, self.balance(token_id, period, amount)

    def balance(self, token_id: int, period: int, amount: int) -> int:
        """The balance a spend would find: ``amount`` once a later refill period has begun; 0
        for a token without a balance (as ``spend`` answers it)."""
        found = self._conn.execute(
            select(token_credits.c.remaining, token_credits.c.period).where(
                token_credits.c.token_id == token_id
            )
        ).first()
        if found is None:
            return 0
        return amount if found.period < period else int(found.remaining)

    def refund(self, token_id: int, cost: int, period: int) -> None:
        """Gives back a spend that a later check refused; not across a refill (it is moot)."""
        self._conn.execute(
            update(token_credits)
            .where(token_credits.c.token_id == token_id, token_credits.c.period == period)
            .values(remaining=token_credits.c.remaining + cost)
        )


def _later_period(period: int) -> Any:
    return case((token_credits.c.period < period, period), else_=token_credits.c.period)


class SqlUsageRepository:
    """Verification counts per token, per hour and per day, per code."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, rows: Sequence[tuple[str, int, str, datetime, str, int]]) -> None:
        """Adds ``(tenant, token_id, granularity, bucket, code, count)`` to the stored counts."""
        if not rows:
            return
        if self._conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stmt = upsert(token_usage)
        stmt = stmt.on_conflict_do_update(
            index_elements=["token_id", "granularity", "bucket", "code"],
            set_={"count": token_usage.c.count + stmt.excluded.count},
        )
        self._conn.execute(
            stmt,
            [
                {
                    "tenant": tenant,
                    "token_id": token_id,
                    "granularity": granularity,
                    "bucket": bucket,
                    "code": code,
                    "count": count,
                }
                for tenant, token_id, granularity, bucket, code, count in sorted(
                    rows, key=lambda r: (r[1], r[2], r[3], r[4])
                )
            ],
        )

    def counts(
        self,
        tenant: str,
        granularity: str,
        since: datetime,
        until: datetime,
        token_id: int | None = None,
    ) -> list[tuple[datetime, str, int]]:
        """``(bucket, code, count)`` in [since, until), the token's or the tenant's totals."""
        conditions = [
            _equals(token_usage.c.tenant, tenant),
            token_usage.c.granularity == granularity,
            token_usage.c.bucket >= since,
            token_usage.c.bucket < until,
        ]
        if token_id is not None:
            conditions.append(token_usage.c.token_id == token_id)
        rows = self._conn.execute(
            select(token_usage.c.bucket, token_usage.c.code, func.sum(token_usage.c.count))
            .where(*conditions)
            .group_by(token_usage.c.bucket, token_usage.c.code)
            .order_by(token_usage.c.bucket, token_usage.c.code)
        )
        return [(bucket, code, int(count)) for bucket, code, count in rows]

    def top_tokens(
        self, tenant: str, granularity: str, since: datetime, until: datetime, limit: int
    ) -> list[tuple[int, int]]:
        """``(token_id, verifications)`` of the tenant's most verified tokens in the span."""
        total = func.sum(token_usage.c.count)
        rows = self._conn.execute(
            select(token_usage.c.token_id, total)
            .where(
                _equals(token_usage.c.tenant, tenant),
                token_usage.c.granularity == granularity,
                token_usage.c.bucket >= since,
                token_usage.c.bucket < until,
            )
            .group_by(token_usage.c.token_id)
            .order_by(total.desc(), token_usage.c.token_id)
            .limit(limit)
        )
        return [(int(token_id), int(count)) for token_id, count in rows]

    def prune(self, granularity: str, before: datetime) -> int:
        result = self._conn.execute(
            delete(token_usage).where(
                token_usage.c.granularity == granularity, token_usage.c.bucket < before
            )
        )
        return int(result.rowcount or 0)


def _keep_retired(conn: Connection, token_id: int, until: datetime) -> None:
    """Before a rotation: the token's current secret is kept, by hash, as retiring at
    ``until``, and any kept one of the token that would retire later now retires then too
    (a rotation cuts every earlier grace short, as ``replace_secret`` does)."""
    r = retired_secrets.c
    conn.execute(
        update(retired_secrets)
        .where(r.token_id == token_id, r.retires_at > until)
        .values(retires_at=until)
    )
    current = select(
        token_secrets.c.secret_hash,
        token_secrets.c.token_id,
        bindparam("until", until, EpochMillis()),
    ).where(token_secrets.c.token_id == token_id, token_secrets.c.retires_at.is_(None))
    conn.execute(
        insert(retired_secrets).from_select(["secret_hash", "token_id", "retires_at"], current)
    )


class SqlRetiredSecretRepository:
    """Rotated-out secrets by hash alone (reuse detection); ``replace_secret`` adds them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find(
        self, secret_hash: str, now: datetime, since: datetime
    ) -> tuple[int, str, datetime | None] | None:
        """(token id, its tenant, last reported) for a secret rotated out of a token that
        retired in [since, now]; None for any other hash."""
        r = retired_secrets.c
        row = self._conn.execute(
            select(r.token_id, tokens.c.tenant, r.reported_at)
            .join(tokens, tokens.c.id == r.token_id)
            .where(r.secret_hash == secret_hash, r.retires_at <= now, r.retires_at >= since)
        ).first()
        return None if row is None else (int(row.token_id), str(row.tenant), row.reported_at)

    def mark_reported(self, secret_hash: str, now: datetime) -> None:
        self._conn.execute(
            update(retired_secrets)
            .where(retired_secrets.c.secret_hash == secret_hash)
            .values(reported_at=now)
        )

    def prune(self, before: datetime) -> int:
        """Forgets secrets that retired before ``before``; returns how many."""
        result = self._conn.execute(
            delete(retired_secrets).where(retired_secrets.c.retires_at < before)
        )
        return int(result.rowcount or 0)

    def hashes(self, token_ids: Sequence[int] | None = None) -> list[str]:
        query = select(retired_secrets.c.secret_hash)
        if token_ids is None:
            return [str(row[0]) for row in self._conn.execute(query)]
        found: list[str] = []
        ids = list(token_ids)
        for start in range(0, len(ids), 10_000):  # within every database's parameter limit
            batch = query.where(retired_secrets.c.token_id.in_(ids[start : start + 10_000]))
            found.extend(str(row[0]) for row in self._conn.execute(batch))
        return found
