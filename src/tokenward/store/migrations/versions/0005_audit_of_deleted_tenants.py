"""Marks the audit records of a deleted tenant, so that a new tenant of the same name does
not inherit them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit", sa.Column("tenant_deleted_at", sa.BigInteger(), nullable=True))
    # Tenants deleted before this migration: their records are those older than the current
    # tenant of the name, or of a name that no tenant holds now.
    op.execute(
        "UPDATE audit SET tenant_deleted_at = at WHERE tenant IS NOT NULL AND ("
        " NOT EXISTS (SELECT 1 FROM tenants WHERE tenants.name = audit.tenant)"
        " OR at < (SELECT created_at FROM tenants WHERE tenants.name = audit.tenant))"
    )


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("tenant_deleted_at")
