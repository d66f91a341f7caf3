"""``tokenward backup PATH`` and ``tokenward restore PATH``: a SQLite store copied while it
serves, and put back only after the copy is checked.

SQLite's online backup API copies a consistent snapshot page by page while servers go on
writing; the same API writes a checked copy back over a live store, under SQLite's own locks,
so that no server reads a half-copied file. PostgreSQL has ``pg_dump``/``pg_restore`` for
this (docs/operations.md). Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from tokenward.cli._common import (
    EXIT_INVALID,
    EXIT_REFUSED,
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    YesOption,
    fail,
    load_settings,
    note,
    print_json,
    sqlite_store_path,
)

#: Beside a backup ``PATH``, with ``--with-key``: the key ring, laid out as in the data
#: directory (``secret.key``, ``keys/<id>.key``).
KEYS_SUFFIX = ".keys"
#: How many pages the online backup copies per step; servers write between steps.
_PAGES_PER_STEP = 1024


def _sqlite_store(settings_url: str, what: str) -> Path:
    store = sqlite_store_path(settings_url)
    if store is None:
        fail(
            f"'tokenward {what}' copies SQLite stores; for PostgreSQL use pg_dump and "
            "pg_restore as docs/operations.md shows",
            EXIT_INVALID,
        )
    return store


def backup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The file to write the copy to (must not exist)")],
    with_key: Annotated[
        bool,
        typer.Option(
            "--with-key",
            help=f"Also copy the key files into PATH{KEYS_SUFFIX}/ (0600): whoever holds both "
            "can open every recoverable secret",
        ),
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Copy the SQLite store while it serves (a consistent snapshot), and the key files
    beside it only when asked."""
    import sqlite3

    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir)
    store = _sqlite_store(settings.resolved_database_url, "backup")
    if not store.exists():
        fail(f"no store at {store}: check --data-dir / TOKENWARD_DATA_DIR", EXIT_INVALID)
    target = path.resolve()
    if target.exists() or target.is_symlink():
        fail(f"{target} exists already: back up to a new file", EXIT_REFUSED)
    if not target.parent.is_dir():
        fail(f"no directory {target.parent} to write the copy in", EXIT_INVALID)
    keys_target = Path(f"{target}{KEYS_SUFFIX}")
    if with_key and keys_target.exists():
        fail(f"{keys_target} exists already: back up to a new name", EXIT_REFUSED)
    # The copy holds token data: 0600 before a byte is written.
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        source = sqlite3.connect(store, timeout=30)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy, pages=_PAGES_PER_STEP)
            # One file, no -wal beside it: the copy is whole on its own.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
            source.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        fail(f"the backup failed, nothing kept: {exc}", EXIT_INVALID)
    copied_keys: list[str] = []
    if with_key:
        copied_keys = _copy_keys(settings.data_dir, keys_target)
        if settings.secret_key is not None:
            note("TOKENWARD_SECRET_KEY is set: its key is not a file, keep it with the backup")
    if as_json:
        print_json({"path": str(target), "keys": copied_keys})
        return
    typer.echo(f"backed up {store} to {target}")
    for name in copied_keys:
        typer.echo(f"copied key file {name}")


def _copy_keys(data_dir: Path, target: Path) -> list[str]:
    from tokenward.keys import KEY_FILE_NAME, RING_DIR_NAME, ring_files

    target.mkdir(mode=0o700)
    copied = []
    legacy = data_dir / KEY_FILE_NAME
    sources = [(legacy, target / KEY_FILE_NAME)] if legacy.is_file() else []
    for key_id, source in sorted(ring_files(data_dir).items()):
        sources.append((source, target / RING_DIR_NAME / f"{key_id}.key"))
    for source, destination in sources:
        destination.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(source.read_bytes())
        copied.append(str(destination.relative_to(target)))
    return copied


def restore(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A copy made by 'tokenward backup'")],
    with_key: Annotated[
        bool,
        typer.Option(
            "--with-key",
            help=f"Also put back the key files from PATH{KEYS_SUFFIX}/ (never overwriting a "
            "different key of the same name)",
        ),
    ] = False,
    yes: YesOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check a backup (integrity, migrations, keys), then replace the SQLite store with it.
    Stop the servers first: they hold the old data in their caches."""
    import sqlite3

    from tokenward import keys
    from tokenward.service import sealing

    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir)
    store = _sqlite_store(settings.resolved_database_url, "restore")
    copy_path = path.resolve()
    if not copy_path.is_file():
        fail(f"no backup at {copy_path}", EXIT_INVALID)
    problem, revision = _check_copy(copy_path)
    if problem is not None:
        fail(f"{copy_path} is not restorable, nothing replaced: {problem}", EXIT_REFUSED)
    keys_source = Path(f"{copy_path}{KEYS_SUFFIX}")
    if with_key and not keys_source.is_dir():
        fail(f"--with-key: no key files at {keys_source}", EXIT_INVALID)
    # The keys the store will be opened with after the restore must open the copy's secrets.
    ring = dict(keys.FileKeys(settings.secret_key, settings.data_dir).load())
    conflicts: list[str] = []
    if with_key:
        backed_up = keys.FileKeys(None, keys_source).load()
        for key_id, material in backed_up.items():
            if key_id in ring and ring[key_id] != material:
                conflicts.append(key_id or "legacy")
            ring.setdefault(key_id, material)
    if conflicts:
        fail(
            f"the data directory holds different keys of the same id as the backup: "
            f"{', '.join(conflicts)}; nothing replaced",
            EXIT_REFUSED,
        )
    samples = _samples_of(copy_path)
    if samples:
        try:
            keys.check_ring(sealing.Sealer(keys=ring) if ring else None, samples, "the key ring")
        except keys.KeyProblem as exc:
            fail(
                f"the backup's sealed secrets would not open, nothing replaced: {exc.message} "
                f"(restore with --with-key, or put the key files back first)",
                EXIT_REFUSED,
            )
    if not yes:
        typer.confirm(f"Replace the store {store} with {copy_path}?", abort=True)
    if with_key:
        _put_back_keys(keys_source, settings.data_dir)
    keys.secure_data_dir(settings.data_dir)
    store.parent.mkdir(parents=True, exist_ok=True)
    if not store.exists():
        os.close(os.open(store, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect(f"file:{copy_path}?mode=ro", uri=True)
    live = sqlite3.connect(store, timeout=30)
    try:
        source.backup(live, pages=_PAGES_PER_STEP)
    finally:
        live.close()
        source.close()
    if as_json:
        print_json({"restored": str(copy_path), "store": str(store), "revision": revision})
        return
    typer.echo(f"restored {store} from {copy_path} (schema {revision})")
    note("start the servers: they apply any newer migration")


def _check_copy(path: Path) -> tuple[str | None, str | None]:
    """(what is wrong, the copy's schema revision): a copy that fails SQLite's integrity
    check, or whose schema this code does not know, is refused."""
    import sqlite3

    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    from tokenward.store import migrate

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"cannot open it: {exc}", None
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            return f"integrity check failed: {'; '.join(map(str, verdict[:3]))}", None
        versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.DatabaseError as exc:
        return f"not a tokenward SQLite store: {exc}", None
    finally:
        conn.close()
    if len(versions) != 1:
        return "it records no schema revision", None
    script = ScriptDirectory.from_config(migrate._config())
    try:
        known = script.get_revision(versions[0])
    except CommandError:
        known = None
    if known is None:
        return (
            f"its schema revision {versions[0]} is newer than, or unknown to, this tokenward: "
            "restore it with the version that made it",
            versions[0],
        )
    return None, versions[0]


def _samples_of(path: Path) -> dict[str, tuple[str, bytes]]:
    from sqlalchemy import create_engine

    from tokenward.store.unit_of_work import SqlUnitOfWorkFactory

    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            return uow.sealed.samples()
    finally:
        engine.dispose()


def _put_back_keys(source: Path, data_dir: Path) -> None:
    from tokenward.keys import secure_data_dir

    secure_data_dir(data_dir)
    for path in sorted(source.rglob("*.key")):
        destination = data_dir / path.relative_to(source)
        if destination.exists():
            continue  # the same key: checked above
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(path.read_bytes())
