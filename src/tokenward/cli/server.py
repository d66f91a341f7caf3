"""``tokenward serve``, ``tokenward migrate`` and ``tokenward admin-token reset``."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from tokenward.cli._common import (
    EXIT_INVALID,
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    YesOption,
    apply_migrations,
    fail,
    load_settings,
    open_database,
    operator,
    print_json,
    warn,
)
from tokenward.keys import KeyProblem

admin_app = typer.Typer(no_args_is_help=True, help="Manage the root (bootstrap) credential.")


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Directory for the database and key")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes")] = None,
    print_root_credential: Annotated[
        bool,
        typer.Option(
            "--print-root-credential",
            help="Print a generated root credential even when standard error is not a terminal",
        ),
    ] = False,
) -> None:
    """Apply pending migrations, then serve the HTTP API."""
    import uvicorn

    from tokenward.app import build_core
    from tokenward.service import bootstrap

    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir, refuse_url=False)
    # Workers are separate processes that read their settings from the environment.
    if settings.database_url is not None:
        os.environ["TOKENWARD_DATABASE_URL"] = settings.database_url
    os.environ["TOKENWARD_DATA_DIR"] = str(settings.data_dir)
    engine = open_database(settings, create=True)
    apply_migrations(engine)
    try:
        # Here, before any worker: a key that is missing, unreadable or not the one that
        # sealed the stored secrets stops the start with a message, not a traceback each.
        core = build_core(settings, engine)
    except KeyProblem as exc:
        engine.dispose()
        fail(exc.message, EXIT_INVALID)
    secret = bootstrap.ensure_root_credential(core)
    engine.dispose()
    if secret is not None:
        _announce_root_credential(secret, print_root_credential)
    worker_count = workers or settings.workers
    shared_counts = None
    if worker_count > 1 and settings.metrics_dir is None:
        # Each worker counts its own requests; here they add up each other's for /metrics.
        shared_counts = tempfile.mkdtemp(prefix="tokenward-metrics-")
        os.environ["TOKENWARD_METRICS_DIR"] = shared_counts
    rate_counts = None
    if worker_count > 1 and not settings.redis_url and settings.rate_limit_dir is None:
        # Without Redis the workers count rate limits together, in a file of this server's
        # (verification/controls/shared_counters.py); removed at exit, like the metrics'.
        rate_counts = tempfile.mkdtemp(prefix="tokenward-rates-")
        os.environ["TOKENWARD_RATE_LIMIT_DIR"] = rate_counts
    try:
        uvicorn.run(
            "tokenward.app:serve_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=worker_count,
            log_level=settings.log_level,
            # tokenward logs each request itself (api/observability.py), in its own format.
            access_log=False,
            # Forwarded headers only from the proxies the operator names: uvicorn's default
            # believes any loopback peer, so a client on the host could pick its address.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=settings.trusted_proxies or None,
            log_config=None,  # tokenward.log_config sets up logging in each worker
        )
    finally:
        if shared_counts is not None:
            shutil.rmtree(shared_counts, ignore_errors=True)
        if rate_counts is not None:
            shutil.rmtree(rate_counts, ignore_errors=True)


def migrate(
    ctx: typer.Context,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Apply pending database migrations (creating a new SQLite store if there is none)."""
    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir)
    engine = open_database(settings, create=True)
    try:
        applied = apply_migrations(engine)
    finally:
        engine.dispose()
    if as_json:
        print_json({"applied": applied})
        return
    typer.echo(f"applied {len(applied)} migration(s)" if applied else "database is up to date")


@admin_app.command()
def reset(
    ctx: typer.Context,
    yes: YesOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Generate a new root credential and print it once; the old one stops working."""
    from tokenward.service import bootstrap

    with operator(ctx, database_url, data_dir) as op:
        if not yes:
            # Asked before anything changes: every client holding the old credential breaks.
            if not sys.stdin.isatty():
                fail(
                    "this replaces the root credential, and the old one stops working at once; "
                    "not on a terminal, so pass --yes to confirm",
                    EXIT_INVALID,
                )
            typer.confirm(
                "Replace the root credential? The current one stops working at once.",
                abort=True,
                err=True,
            )
        secret = bootstrap.reset_root_credential(op.core)
        overridden = op.settings.admin_token is not None
    if overridden:
        warn(
            "TOKENWARD_ADMIN_TOKEN is set and overrides the stored credential: the new one "
            "takes effect only where that variable is unset."
        )
    if as_json:
        print_json({"secret": secret})
        return
    typer.echo(
        "New root credential. It is shown this once and stored only as a hash; keep it in a\n"
        "password manager or secret store:\n\n"
        f"    {secret}\n\n"
        "The previous credential stopped working. Use this one as\n"
        "'Authorization: Bearer <credential>'."
    )


def _announce_root_credential(secret: str, asked: bool) -> None:
    """Shows a generated root credential on the terminal: written to standard error, never
    as a log record, and not at all when standard error is not a terminal (a log collector
    or a file would keep it) unless ``--print-root-credential`` asks for it."""
    if not asked and not sys.stderr.isatty():
        print(
            "tokenward generated its root credential and stored only its hash; it is not shown "
            "because standard error is not a terminal. Get a new one with 'tokenward "
            "admin-token reset --yes', or start with --print-root-credential, or set "
            "TOKENWARD_ADMIN_TOKEN.",
            file=sys.stderr,
            flush=True,
        )
        return
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
