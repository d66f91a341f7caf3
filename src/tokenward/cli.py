"""The ``tokenward`` command: serve, migrate, and operator commands on the database."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from tokenward.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Issue, manage and verify API tokens.")


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Directory for the database and key")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes")] = None,
) -> None:
    """Apply pending migrations, then serve the HTTP API."""
    import uvicorn

    from tokenward.app import build_core, open_engine
    from tokenward.service import bootstrap
    from tokenward.store import migrate as migrations

    # Workers are separate processes that read their settings from the environment.
    for name, value in (("DATABASE_URL", database_url), ("DATA_DIR", data_dir)):
        if value is not None:
            os.environ[f"TOKENWARD_{name}"] = str(value)
    settings = _settings()
    engine = open_engine(settings)
    migrations.upgrade(engine)
    secret = bootstrap.ensure_root_credential(build_core(settings, engine))
    engine.dispose()
    if secret is not None:
        _announce_root_credential(secret)
    uvicorn.run(
        "tokenward.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
    )


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from tokenward.app import open_engine
    from tokenward.store import migrate as migrations

    engine = open_engine(_settings())
    pending = migrations.pending(engine)
    migrations.upgrade(engine)
    engine.dispose()
    typer.echo(f"applied {len(pending)} migration(s)" if pending else "database is up to date")


def _announce_root_credential(secret: str) -> None:
    print(
        "\n"
        "tokenward generated its root credential. It is shown this once and stored only as a\n"
        "hash; keep it in a password manager or secret store:\n\n"
        f"    {secret}\n\n"
        "Use it as 'Authorization: Bearer <credential>'. To replace it, run\n"
        "'tokenward admin-token reset'; to choose your own, set TOKENWARD_ADMIN_TOKEN.\n",
        file=sys.stderr,
        flush=True,
    )


def main() -> None:
    app()
