"""Applying the Alembic migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_SCRIPTS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine) -> None:
    """Applies every pending migration; a no-op on an up-to-date database."""
    config = _config()
    with engine.connect() as conn:
        conn = conn.execution_options(tokenward_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # Two servers starting together on one database migrate one after the other.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7031)")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def pending(engine: Engine) -> list[str]:
    """Revisions the database has not applied yet."""
    script = ScriptDirectory.from_config(_config())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = {rev.revision for rev in script.walk_revisions()}
    applied: set[str] = set()
    for head in current:
        applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
    return sorted(heads - applied)
