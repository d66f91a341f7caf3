"""Lifecycle: tenant policies, webhooks, the event outbox, deliveries and their attempts,
and the time-driven notices already sent (docs/lifecycle.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # The scheduler's range scans of expiring and expired tokens.
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])
    op.create_table(
        "tenant_policies",
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"],
            ["tenants.name"],
            name="fk_tenant_policies_tenant_tenants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant", name="pk_tenant_policies"),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.BigInteger(), nullable=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.name"], name="fk_webhooks_tenant_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhooks_tenant_id", "webhooks", ["tenant", "id"])
    op.create_table(
        "outbox_events",
        sa.Column("seq", Id, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox_events"),
        sa.UniqueConstraint("event_id", name="uq_outbox_events_event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_events_fanned_out_seq", "outbox_events", ["fanned_out", "seq"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("webhook_id", Id, nullable=False),
        sa.Column("event_seq", Id, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_deliveries_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_seq"],
            ["outbox_events.seq"],
            name="fk_webhook_deliveries_event_seq_outbox_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_id", "webhook_deliveries", ["webhook_id", "id"]
    )
    op.create_index("ix_webhook_deliveries_event_seq", "webhook_deliveries", ["event_seq"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.create_table(
        "token_notices",
        sa.Column("token_id", Id, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["tokens.id"],
            name="fk_token_notices_token_id_tokens",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", "kind", "expires_at", name="pk_token_notices"),
    )


def downgrade() -> None:
    for table in (
        "token_notices",
        "webhook_attempts",
        "webhook_deliveries",
        "outbox_events",
        "webhooks",
        "tenant_policies",
    ):
        op.drop_table(table)
    op.drop_index("ix_tokens_expires_at", table_name="tokens")
