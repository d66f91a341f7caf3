"""Exact token counts per tenant, type, role and active, kept by triggers on ``tokens``.

A listing's total is then a sum over a few tally rows instead of a count of every match.
Triggers, not repository code, so that every writer keeps them right: the service, bulk
loads (PostgreSQL runs statement triggers for COPY too), and the cascade of a tenant's deletion.

- A tally row that reaches zero stays: a decrement then never races a re-insert. The rows of a
  tenant go with it (foreign key); that also makes PostgreSQL's ``TRUNCATE tenants CASCADE``
  empty this table.
- PostgreSQL: inserts and deletes are counted once per statement from its transition table (a
  COPY of 1M rows is one aggregate, not 1M updates of one row); a change of a key column is
  counted per row. Rows are touched in key order, so concurrent writers cannot deadlock on
  them. Decrements are plain updates: in a tenant's cascade the tally rows may be gone first.
- PostgreSQL's TRUNCATE of ``tokens`` empties the tallies too.
- SQLite has row triggers only; writers are serial there.
- On SQLite, a later batch migration that recreates ``tokens`` drops these triggers: it must
  create them again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_POSTGRESQL = [
    """
    CREATE FUNCTION token_tallies_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO token_tallies AS t (tenant, type, role, active, count)
        SELECT tenant, type, role, active, count(*) FROM added
        GROUP BY tenant, type, role, active
        ORDER BY tenant, type, role, active
        ON CONFLICT (tenant, type, role, active) DO UPDATE SET count = t.count + excluded.count;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION token_tallies_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        gone record;
    BEGIN
        FOR gone IN
            SELECT tenant, type, role, active, count(*) AS n FROM removed
            GROUP BY tenant, type, role, active
            ORDER BY tenant, type, role, active
        LOOP
            UPDATE token_tallies SET count = count - gone.n
            WHERE tenant = gone.tenant AND type = gone.type AND role = gone.role
                AND active = gone.active;
        END LOOP;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION token_tallies_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO token_tallies AS t (tenant, type, role, active, count)
        SELECT * FROM (
            VALUES (OLD.tenant, OLD.type, OLD.role, OLD.active, -1),
                   (NEW.tenant, NEW.type, NEW.role, NEW.active, 1)
        ) AS d (tenant, type, role, active, count)
        ORDER BY tenant, type, role, active
        ON CONFLICT (tenant, type, role, active) DO UPDATE SET count = t.count + excluded.count;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION token_tallies_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM token_tallies;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER token_tallies_insert AFTER INSERT ON tokens
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION token_tallies_on_insert()
    """,
    """
    CREATE TRIGGER token_tallies_delete AFTER DELETE ON tokens
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION token_tallies_on_delete()
    """,
    """
    CREATE TRIGGER token_tallies_update AFTER UPDATE OF tenant, type, role, active ON tokens
    FOR EACH ROW
    WHEN ((OLD.tenant, OLD.type, OLD.role, OLD.active)
          IS DISTINCT FROM (NEW.tenant, NEW.type, NEW.role, NEW.active))
    EXECUTE FUNCTION token_tallies_on_update()
    """,
    """
    CREATE TRIGGER token_tallies_truncate AFTER TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION token_tallies_on_truncate()
    """,
]

_SQLITE = [
    """
    CREATE TRIGGER token_tallies_insert AFTER INSERT ON tokens
    BEGIN
        INSERT INTO token_tallies (tenant, type, role, active, count)
        VALUES (NEW.tenant, NEW.type, NEW.role, NEW.active, 1)
        ON CONFLICT (tenant, type, role, active) DO UPDATE SET count = count + 1;
    END
    """,
    """
    CREATE TRIGGER token_tallies_delete AFTER DELETE ON tokens
    BEGIN
        UPDATE token_tallies SET count = count - 1
        WHERE tenant = OLD.tenant AND type = OLD.type AND role = OLD.role
            AND active = OLD.active;
    END
    """,
    """
    CREATE TRIGGER token_tallies_update AFTER UPDATE OF tenant, type, role, active ON tokens
    WHEN OLD.tenant IS NOT NEW.tenant OR OLD.type IS NOT NEW.type
        OR OLD.role IS NOT NEW.role OR OLD.active IS NOT NEW.active
    BEGIN
        UPDATE token_tallies SET count = count - 1
        WHERE tenant = OLD.tenant AND type = OLD.type AND role = OLD.role
            AND active = OLD.active;
        INSERT INTO token_tallies (tenant, type, role, active, count)
        VALUES (NEW.tenant, NEW.type, NEW.role, NEW.active, 1)
        ON CONFLICT (tenant, type, role, active) DO UPDATE SET count = count + 1;
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "token_tallies",
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "type", "role", "active", name="pk_token_tallies"),
        sa.ForeignKeyConstraint(
            ["tenant"], ["tenants.name"], name="fk_token_tallies_tenant_tenants", ondelete="CASCADE"
        ),
    )
    # Triggers first: on PostgreSQL creating them locks out writers of ``tokens`` until the
    # commit, so the backfill below sees every row and no row is counted twice.
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)
    op.execute(
        "INSERT INTO token_tallies (tenant, type, role, active, count)"
        " SELECT tenant, type, role, active, count(*) FROM tokens"
        " GROUP BY tenant, type, role, active"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in ("insert", "delete", "update", "truncate"):
            op.execute(f"DROP TRIGGER token_tallies_{event} ON tokens")
            op.execute(f"DROP FUNCTION token_tallies_on_{event}()")
    else:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER token_tallies_{event}")
    op.drop_table("token_tallies")
