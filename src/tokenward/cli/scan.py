"""``tokenward scan PATH...``: finds tokenward secrets in files, for pre-commit hooks and CI.

A match is a string of the secret format whose checksum holds (``domain/secrets.py``), so
random text almost never matches. Whether each is live is asked of the server (``--url``) or
the database (operator mode) by its SHA-256 only: the secret never leaves this process, and
it is never printed either (only its hint). Exit code 1 when a live secret is found (with
``--offline``, when any secret is found), 0 otherwise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from tokenward.cli._common import (
    EXIT_REFUSED,
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    print_json,
    remote_of,
    warn,
)
from tokenward.domain import secrets as secret_format

#: The secret format as other scanners take it (docs/security.md gives it for gitleaks and
#: trufflehog): a prefix, ``_``, 28 random and 6 checksum base62 characters, not inside a
#: longer word. The checksum is checked after the match.
PATTERN = re.compile(r"(?<![0-9A-Za-z])[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{34}(?![0-9A-Za-z])")
#: Directories that hold no source of one's own.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "__pycache__"})
#: Larger files are skipped (with a warning): secrets live in source and configuration.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Hashes asked per request (the server takes up to 1000).
BATCH = 500


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    column: int
    hint: str
    hash: str


def find(paths: Iterable[Path]) -> Iterator[Finding]:
    """The well-formed secrets in the files under ``paths``, in file and line order."""
    for path in _files(paths):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                warn(f"{path}: skipped, larger than {MAX_FILE_BYTES} bytes")
                continue
            data = path.read_bytes()
        except OSError as error:
            warn(f"{path}: cannot read: {error.strerror or error}")
            continue
        if b"\0" in data[:8192]:  # binary: no text secrets to find, and no lines to name
            continue
        text = data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for match in PATTERN.finditer(line):
                secret = match.group(0)
                if secret_format.is_well_formed(secret):
                    yield Finding(
                        path=str(path),
                        line=number,
                        column=match.start() + 1,
                        hint=secret_format.hint(secret),
                        hash=secret_format.hash_secret(secret),
                    )


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
                for name in sorted(names):
                    candidate = Path(root, name)
                    if candidate.is_file() and not candidate.is_symlink():
                        yield candidate
        elif path.exists():
            yield path
        else:
            warn(f"{path}: no such file or directory")


def scan(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files and directories to scan")],
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Do not ask whether secrets are live: any secret found fails"
        ),
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Find tokenward secrets in files; exit 1 when one is live.

    Each is printed as FILE:LINE:COLUMN with its hint and state (live, not live, unknown),
    never whole. Liveness is asked by hash of the server (--url) or the database."""
    findings = list(find(paths))
    states: dict[str, bool | None] = {}
    if findings and not offline:
        states = _liveness(ctx, sorted({f.hash for f in findings}), database_url, data_dir)
    rows: list[dict[str, object]] = []
    lives: list[bool | None] = []
    for f in findings:
        live = None if offline else states.get(f.hash, False)
        lives.append(live)
        rows.append(
            {
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "hint": f.hint,
                "hash": f.hash,
                "live": live,
            }
        )
    if as_json:
        print_json(rows)
    else:
        for f, live in zip(findings, lives, strict=True):
            state = {True: "LIVE", False: "not live", None: "found"}[live]
            typer.echo(f"{f.path}:{f.line}:{f.column}: {f.hint} {state}")
        live_count = sum(1 for live in lives if live)
        typer.echo(
            f"{len(rows)} secret(s) found" + ("" if offline else f", {live_count} live"), err=True
        )
    if any(lives) or (offline and rows):
        raise typer.Exit(EXIT_REFUSED)


def _liveness(
    ctx: typer.Context,
    hashes: Sequence[str],
    database_url: str | None,
    data_dir: Path | None,
) -> dict[str, bool | None]:
    remote = remote_of(ctx)
    if remote is not None:
        from tokenward.cli._server import server_client

        with server_client(remote) as http:
            states = [
                s
                for i in range(0, len(hashes), BATCH)
                for s in http.check_secrets(hashes[i : i + BATCH])
            ]
        return {s.hash: s.live for s in states}
    from tokenward.cli._common import operator
    from tokenward.service import leaks

    with operator(ctx, database_url, data_dir) as op:
        found = [
            s
            for i in range(0, len(hashes), BATCH)
            for s in leaks.check(op.core, op.actor, hashes=hashes[i : i + BATCH])
        ]
    return {s.hash: s.live for s in found}
