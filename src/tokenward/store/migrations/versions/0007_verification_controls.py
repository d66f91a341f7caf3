"""Controls at verification: rate limits, credits and IP allowlists on tokens, the live
credit balances, and usage counts (issue 17).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: a batch rebuilds the table on SQLite, and the tally
    # triggers of migration 0003 would go with the old one.
    op.add_column(
        "tokens",
        sa.Column("rate_limits", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column("tokens", sa.Column("credits", sa.JSON(), nullable=True))
    op.add_column(
        "tokens",
        sa.Column("ip_allowlist", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.create_table(
        "token_credits",
        sa.Column(
            "token_id",
            _ID,
            sa.ForeignKey("tokens.id", ondelete="CASCADE", name="fk_token_credits_token_id_tokens"),
            primary_key=True,
        ),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", name="pk_token_credits"),
    )
    op.create_table(
        "token_usage",
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("granularity", sa.String(1), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_id", "granularity", "bucket", "code", name="pk_token_usage"),
    )
    op.create_index(
        "ix_token_usage_tenant_granularity_bucket",
        "token_usage",
        ["tenant", "granularity", "bucket"],
    )
    op.create_index("ix_token_usage_granularity_bucket", "token_usage", ["granularity", "bucket"])


def downgrade() -> None:
    op.drop_table("token_usage")
    op.drop_table("token_credits")
    # ALTER TABLE ... DROP COLUMN: SQLite has it since 3.35, and no batch rebuild (see above).
    for column in ("ip_allowlist", "credits", "rate_limits"):
        op.execute(f"ALTER TABLE tokens DROP COLUMN {column}")
