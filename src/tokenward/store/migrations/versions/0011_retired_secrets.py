"""The hashes of rotated-out secrets, kept for reuse detection (docs/lifecycle.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retired_secrets",
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("token_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("retires_at", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["tokens.id"],
            name="fk_retired_secrets_token_id_tokens",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("secret_hash", name="pk_retired_secrets"),
    )
    op.create_index("ix_retired_secrets_token_id", "retired_secrets", ["token_id"])
    op.create_index("ix_retired_secrets_retires_at", "retired_secrets", ["retires_at"])


def downgrade() -> None:
    op.drop_index("ix_retired_secrets_retires_at", table_name="retired_secrets")
    op.drop_index("ix_retired_secrets_token_id", table_name="retired_secrets")
    op.drop_table("retired_secrets")
