"""Signing keys of the token exchange, and the JWTs it issued (for the revocation list).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("activates_at", sa.BigInteger(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
        sa.UniqueConstraint("generation", name="uq_signing_keys_generation"),
    )
    op.create_table(
        "issued_jwts",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("jti", name="pk_issued_jwts"),
    )
    op.create_index("ix_issued_jwts_token_id", "issued_jwts", ["token_id"])
    op.create_index("ix_issued_jwts_revoked_at", "issued_jwts", ["revoked_at"])
    op.create_index("ix_issued_jwts_expires_at", "issued_jwts", ["expires_at"])


def downgrade() -> None:
    op.drop_table("issued_jwts")
    op.drop_table("signing_keys")
