"""The change log that keeps every process's verification cache fresh.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "token_changes",
        sa.Column("seq", Id, autoincrement=True, nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_token_changes"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("token_changes")
