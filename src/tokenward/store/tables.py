"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` build the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

from tokenward.domain.clock import from_millis, to_millis


class EpochMillis(TypeDecorator[datetime]):
    """Instants as integer milliseconds: the same on both backends, cheap to sort and compare."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_millis(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_millis(int(value))


#: SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = Table(
    "tenants",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("created_at", EpochMillis(), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "tenant",
        String(128),
        ForeignKey("tenants.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("type", String(16), nullable=False),
    Column("principal", String(200), nullable=True),
    Column("owner", String(200), nullable=False),
    Column("user", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("scopes", JSON(), nullable=False),
    Column("audience", JSON(), nullable=False),
    Column("resources", JSON(), nullable=False),
    Column("restricted", Boolean(), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("expires_at", EpochMillis(), nullable=True),
    Column("created_at", EpochMillis(), nullable=False),
    Column("updated_at", EpochMillis(), nullable=False),
    Column("last_used_at", EpochMillis(), nullable=True),
    Column("secret_hash", String(64), nullable=False),
    Column("secret_hint", String(64), nullable=False),
    Column("sealed_secret", LargeBinary(), nullable=True),
    Column("metadata", JSON(), nullable=False),
    # Controls at verification (migration 0007); ``store/controls.py`` maps them.
    Column("rate_limits", JSON(), nullable=False, server_default=text("'[]'")),
    Column("credits", JSON(), nullable=True),
    Column("ip_allowlist", JSON(), nullable=False, server_default=text("'[]'")),
    Index(None, "tenant", "created_at", "id"),
    Index(None, "tenant", "name"),
    Index(None, "tenant", "type", "principal"),
    # The scheduler's range scans of expiring and expired tokens (migration 0008).
    Index(None, "expires_at"),
    # The few recoverable tokens, found without a scan: at start, one of them tells whether
    # the key is the one that sealed them (migration 0006).
    Index(
        "ix_tokens_sealed",
        "id",
        sqlite_where=text("sealed_secret IS NOT NULL"),
        postgresql_where=text("sealed_secret IS NOT NULL"),
    ),
    # Ids are never reused: a retried delete by id must not hit a newer token.
    sqlite_autoincrement=True,
)

# Exact counts of a tenant's tokens by type, role and active, so that a listing's total is a
# sum of a few rows, not a count of every match. Triggers on ``tokens`` (migration 0003) keep
# them, whoever writes; rows that reach zero stay.
token_tallies = Table(
    "token_tallies",
    metadata,
    Column(
        "tenant",
        String(128),
        ForeignKey("tenants.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("type", String(16), primary_key=True),
    Column("role", String(16), primary_key=True),
    Column("active", Boolean(), primary_key=True),
    Column("count", BigInteger(), nullable=False),
)

# Every secret that opens a token: the current one (retires_at NULL) and rotated-out ones
# in their grace period. The primary key is the lookup by hash.
token_secrets = Table(
    "token_secrets",
    metadata,
    Column("secret_hash", String(64), primary_key=True),
    Column("token_id", Id, ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False),
    Column("retires_at", EpochMillis(), nullable=True),
    Index(None, "token_id"),
    # The lookup by hash finds the row in the key's own B-tree (migration 0004).
    sqlite_with_rowid=False,
)

audit = Table(
    "audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", EpochMillis(), nullable=False),
    Column("tenant", String(128), nullable=True),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("token_id", BigInteger(), nullable=True),
    Column("client", String(64), nullable=True),
    Column("detail", JSON(), nullable=False),
    # Set when the tenant is deleted: a later tenant of the same name is another tenant, and
    # its admins see none of these records (root still does). Migration 0005.
    Column("tenant_deleted_at", EpochMillis(), nullable=True),
    Index(None, "tenant", "at"),
    Index(None, "at"),
    sqlite_autoincrement=True,
)

# Every change to a token, in commit order, so that each process can drop what its cache holds
# of changed tokens. token_id NULL means "every token" (a tenant was deleted).
token_changes = Table(
    "token_changes",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("token_id", BigInteger(), nullable=True),
    Column("at", EpochMillis(), nullable=False),
    # A pruned log must not hand out sequence numbers that readers have already passed.
    sqlite_autoincrement=True,
)

root_credential = Table(
    "root_credential",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", EpochMillis(), nullable=False),
)

# Keys that sign the JWT access tokens of the token exchange (``tokenward.signing``), shared
# by every process of an installation. The private key is sealed under the key-encryption
# key, bound to its kid. ``generation`` is unique: of two servers that rotate at once, one
# adds the key and the other's insert conflicts (migration 0009).
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("generation", BigInteger(), nullable=False, unique=True),
    Column("alg", String(16), nullable=False),
    Column("created_at", EpochMillis(), nullable=False),
    Column("activates_at", EpochMillis(), nullable=False),
    Column("public_jwk", Text(), nullable=False),
    Column("sealed_private", LargeBinary(), nullable=False),
)

# The JWTs issued by exchange, until they expire: the revocation list names those whose
# subject token was disabled, deleted or cut short (``revoked_at``, set when first seen).
# No foreign key: a JWT of a deleted token must stay listed.
issued_jwts = Table(
    "issued_jwts",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("token_id", BigInteger(), nullable=False),
    Column("expires_at", EpochMillis(), nullable=False),
    Column("revoked_at", EpochMillis(), nullable=True),
    Index(None, "token_id"),
    Index(None, "revoked_at"),
    Index(None, "expires_at"),
)

# Lifecycle (docs/lifecycle.md, migration 0008). A tenant's rules for its tokens; no row: the
# defaults, which change nothing.
tenant_policies = Table(
    "tenant_policies",
    metadata,
    Column(
        "tenant",
        String(128),
        ForeignKey("tenants.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("policy", JSON(), nullable=False),
    Column("updated_at", EpochMillis(), nullable=False),
)

# Endpoints that receive a tenant's events. The signing secret is kept sealed, bound to its
# hash, as recoverable token secrets are.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "tenant",
        String(128),
        ForeignKey("tenants.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("url", Text(), nullable=False),
    Column("events", JSON(), nullable=False),
    Column("description", Text(), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("disabled_reason", Text(), nullable=True),
    Column("failing_since", EpochMillis(), nullable=True),
    Column("secret_hash", String(64), nullable=False),
    Column("sealed_secret", LargeBinary(), nullable=False),
    Column("created_at", EpochMillis(), nullable=False),
    Column("updated_at", EpochMillis(), nullable=False),
    Index(None, "tenant", "id"),
    sqlite_autoincrement=True,
)

# The outbox: each event is written in the transaction of the change that causes it, so a
# crash loses none; the dispatcher turns it into one delivery per subscribed webhook
# (``fanned_out``) and sends those.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("tenant", String(128), nullable=False),
    Column("type", String(64), nullable=False),
    Column("body", Text(), nullable=False),
    Column("created_at", EpochMillis(), nullable=False),
    Column("fanned_out", Boolean(), nullable=False),
    Index(None, "fanned_out", "seq"),
    sqlite_autoincrement=True,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("webhook_id", Id, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_seq", Id, ForeignKey("outbox_events.seq", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", EpochMillis(), nullable=True),
    Column("created_at", EpochMillis(), nullable=False),
    Index(None, "status", "next_attempt_at"),
    Index(None, "webhook_id", "id"),
    Index(None, "event_seq"),
    sqlite_autoincrement=True,
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "delivery_id", Id, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", EpochMillis(), nullable=False),
    Column("status_code", Integer(), nullable=True),
    Column("duration_ms", Integer(), nullable=False),
    Column("error", Text(), nullable=True),
    Index(None, "delivery_id"),
    sqlite_autoincrement=True,
)

# Time-driven events already announced: one row per token, kind (``expired``,
# ``expiring:<window seconds>``) and the expiry it was about, so a changed expiry is
# announced again and a kept one never twice.
token_notices = Table(
    "token_notices",
    metadata,
    Column("token_id", Id, ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("expires_at", EpochMillis(), primary_key=True),
    Column("at", EpochMillis(), nullable=False),
)

# The web console's sign-ins (tokenward.console): only the SHA-256 of the session id that the
# browser holds, and the credential sealed under the server's key, bound to that hash, so
# that every request re-authenticates it and a disabled or deleted token ends its sessions
# at once. Migration 0010.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("sealed_credential", LargeBinary(), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("created_at", EpochMillis(), nullable=False),
    Column("last_seen_at", EpochMillis(), nullable=False),
    Index(None, "last_seen_at"),
)

# The live credit balance of each token with credits: spent by one conditional UPDATE per
# verification (``store/controls.py``), so that no two workers or servers spend one credit
# twice. ``period`` names the refill period the balance belongs to (a day or a month since
# the epoch); a spend in a later period starts again from the refill amount.
token_credits = Table(
    "token_credits",
    metadata,
    Column("token_id", Id, ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("remaining", BigInteger(), nullable=False),
    Column("period", BigInteger(), nullable=False),
)

# Verifications per token, per hour or day (``granularity`` "h" or "d"), per code, added to
# by each worker's buffered flushes (``service/usage.py``).
token_usage = Table(
    "token_usage",
    metadata,
    Column("token_id", BigInteger(), primary_key=True),
    Column("granularity", String(1), primary_key=True),
    Column("bucket", EpochMillis(), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("count", BigInteger(), nullable=False),
    Index(None, "tenant", "granularity", "bucket"),
    Index(None, "granularity", "bucket"),
)

# The secrets rotated out of tokens, by hash alone, kept after they stopped working so that
# one presented again is recognised as a kept copy (reuse detection, docs/lifecycle.md).
# ``retires_at``: when it stopped opening the token; ``reported_at``: the last report of its
# reuse, so that a replayed copy is reported once per period, not per request. Migration 0011.
retired_secrets = Table(
    "retired_secrets",
    metadata,
    Column("secret_hash", String(64), primary_key=True),
    Column("token_id", Id, ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False),
    Column("retires_at", EpochMillis(), nullable=False),
    Column("reported_at", EpochMillis(), nullable=True),
    Index(None, "token_id"),
    Index(None, "retires_at"),
)
