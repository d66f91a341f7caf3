"""An index of the recoverable tokens, so that one is found at start without a scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_tokens_sealed",
        "tokens",
        ["id"],
        sqlite_where=sa.text("sealed_secret IS NOT NULL"),
        postgresql_where=sa.text("sealed_secret IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_tokens_sealed", table_name="tokens")
