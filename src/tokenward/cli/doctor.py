"""``tokenward doctor``: checks the configuration and says what to fix."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from tokenward.cli._common import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    load_settings,
    print_json,
    sqlite_store_path,
)

if TYPE_CHECKING:
    from tokenward.settings import Settings


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


def doctor(
    ctx: typer.Context,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check configuration, database, migrations and key file; exit 1 if anything needs fixing."""
    from tokenward.settings import config_file

    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir)
    path = config_file()
    findings = [Finding(True, f"configuration file: {path or 'none (defaults and environment)'}")]
    for check in (_data_dir, _key, _database):
        findings += check(settings)
    if as_json:
        print_json(
            {
                "ok": all(f.ok for f in findings),
                "findings": [{"ok": f.ok, "what": f.what, "fix": f.fix} for f in findings],
            }
        )
    for finding in [] if as_json else findings:
        mark = typer.style("ok  ", fg="green") if finding.ok else typer.style("FIX ", fg="red")
        typer.echo(f"{mark} {finding.what}")
        if finding.fix:
            typer.echo(f"     -> {finding.fix}")
    if not all(f.ok for f in findings):
        raise typer.Exit(1)


def _data_dir(settings: Settings) -> list[Finding]:
    where = settings.data_dir.resolve()
    if not where.exists():
        return [Finding(True, f"data directory {where} will be created at first start")]
    if not os.access(where, os.W_OK):
        return [Finding(False, f"data directory {where} is not writable", f"chmod u+w {where}")]
    return [Finding(True, f"data directory {where} is writable")]


def _key(settings: Settings) -> list[Finding]:
    from tokenward.keys import KEY_FILE_NAME

    if settings.secret_key is not None:
        from tokenward.domain.secrets import MIN_OPERATOR_SECRET

        if len(settings.secret_key) < MIN_OPERATOR_SECRET:
            return [
                Finding(
                    False,
                    f"TOKENWARD_SECRET_KEY is shorter than {MIN_OPERATOR_SECRET} characters",
                    "set a longer key (and keep the old one to open existing secrets)",
                )
            ]
        return [Finding(True, "key-encryption key from TOKENWARD_SECRET_KEY")]
    key = settings.data_dir.resolve() / KEY_FILE_NAME
    if not key.exists():
        return [Finding(True, f"key file {key} will be created at first start")]
    mode = stat.S_IMODE(key.stat().st_mode)
    if mode & 0o077:
        return [
            Finding(
                False, f"key file {key} has mode {mode:o}: others may read it", f"chmod 600 {key}"
            )
        ]
    return [Finding(True, f"key file {key} has mode 600")]


def _database(settings: Settings) -> list[Finding]:
    from sqlalchemy.exc import ArgumentError, OperationalError

    from tokenward.app import open_engine
    from tokenward.store import migrate

    url = settings.resolved_database_url
    shown = url.split("@")[-1] if "@" in url else url
    try:
        store = sqlite_store_path(url)
        if store is not None and not store.exists():
            # Opening it would create it: a check must not change anything.
            return [
                Finding(
                    False,
                    f"no store at {store}",
                    "'tokenward migrate' or 'tokenward serve' creates it there; or fix "
                    "TOKENWARD_DATA_DIR / TOKENWARD_DATABASE_URL",
                )
            ]
        engine = open_engine(settings)
    except (ArgumentError, ImportError) as exc:
        return [Finding(False, f"database URL is not valid: {exc}", "fix TOKENWARD_DATABASE_URL")]
    try:
        pending = migrate.pending(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return [
            Finding(
                False,
                f"database {shown} is not reachable: {reason}",
                "start the database server or fix TOKENWARD_DATABASE_URL",
            )
        ]
    finally:
        engine.dispose()
    found = [Finding(True, f"database {shown} is reachable")]
    if pending:
        found.append(
            Finding(
                False,
                f"{len(pending)} migration(s) pending: {', '.join(pending)}",
                "run 'tokenward migrate' (serve does it too)",
            )
        )
    else:
        found.append(Finding(True, "database schema is up to date"))
        key_finding = _key_against_data(settings)
        found.append(key_finding)
        if key_finding.ok:
            found.append(_root(settings))
    return found


def _key_against_data(settings: Settings) -> Finding:
    """Opens one stored sealed secret of every key that sealed any with the configured key
    ring (and shows nothing of them)."""
    from tokenward.app import open_engine
    from tokenward.keys import FileKeys, KeyProblem, check_ring, key_source
    from tokenward.service import sealing
    from tokenward.store.unit_of_work import SqlUnitOfWorkFactory

    engine = open_engine(settings)
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            samples = uow.sealed.samples()
    finally:
        engine.dispose()
    source = key_source(settings.secret_key, settings.data_dir)
    if not samples:
        return Finding(True, "no sealed secrets stored yet: any key will do")
    try:
        ring = FileKeys(settings.secret_key, settings.data_dir).load()
        check_ring(sealing.Sealer(keys=ring) if ring else None, samples, source)
    except KeyProblem as exc:
        return Finding(False, exc.message, "restore the key that sealed the stored secrets")
    count = len(samples)
    return Finding(
        True,
        f"{source} opens the sealed secrets stored in the database"
        + (f" ({count} keys in the ring sealed them)" if count > 1 else ""),
    )


def _root(settings: Settings) -> Finding:
    from tokenward.app import build_core, open_engine
    from tokenward.keys import KEY_FILE_NAME
    from tokenward.service import bootstrap

    if settings.admin_token is not None:
        return Finding(True, "root credential from TOKENWARD_ADMIN_TOKEN")
    key = settings.data_dir.resolve() / KEY_FILE_NAME
    if settings.secret_key is None and not key.exists():
        # Building the core would create the key file; a check must not change anything.
        return Finding(True, "root credential: checked after the first start")
    engine = open_engine(settings)
    try:
        stored = bootstrap.has_root_credential(build_core(settings, engine))
    finally:
        engine.dispose()
    if stored:
        return Finding(True, "root credential stored (as a hash)")
    return Finding(
        False,
        "no root credential yet",
        "start 'tokenward serve' once (it prints one) or run 'tokenward admin-token reset'",
    )
