"""The first schema: tenants, tokens, their secrets, audit, the root credential.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_tenants"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("principal", sa.String(200), nullable=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("secret_hint", sa.String(64), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.name"], name="fk_tokens_tenant_tenants", ondelete="CASCADE"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_tokens_tenant_created_at_id", "tokens", ["tenant", "created_at", "id"])
    op.create_index("ix_tokens_tenant_name", "tokens", ["tenant", "name"])
    op.create_index("ix_tokens_tenant_type_principal", "tokens", ["tenant", "type", "principal"])
    op.create_table(
        "token_secrets",
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("token_id", Id, nullable=False),
        sa.Column("retires_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("secret_hash", name="pk_token_secrets"),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name="fk_token_secrets_token_id_tokens", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_token_secrets_token_id", "token_secrets", ["token_id"])
    op.create_table(
        "audit",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_tenant_at", "audit", ["tenant", "at"])
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_table(
        "root_credential",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_root_credential"),
    )
    op.bulk_insert(tenants, [{"name": "default", "created_at": int(time.time() * 1000)}])


def downgrade() -> None:
    op.drop_table("root_credential")
    op.drop_table("audit")
    op.drop_table("token_secrets")
    op.drop_table("tokens")
    op.drop_table("tenants")
