"""``tokenward export`` and ``tokenward import``: token metadata as JSON Lines.

Secrets are never exported: a line holds the token's metadata and its secret's SHA-256, which
is what lets the imported token keep verifying. The sealed copy of a recoverable secret is
written only with ``--include-sealed``, and opens only under the same key-encryption key.
"""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from tokenward.cli._common import (
    EXIT_INVALID,
    DatabaseUrlOption,
    DataDirOption,
    fail,
    note,
    operator,
)
from tokenward.domain.errors import Conflict, Invalid, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import PageRequest, Token, TokenType

_PAGE = 1000


def export(
    ctx: typer.Context,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="Only this tenant (repeatable)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout)")
    ] = None,
    include_sealed: Annotated[
        bool, typer.Option("--include-sealed", help="Also write sealed recoverable secrets")
    ] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write every token's metadata as JSON Lines; never a secret."""
    from rich.progress import Progress

    from tokenward.service import tenants, tokens

    with operator(ctx, database_url, data_dir) as op:
        names = tenant or [t.name for t in tenants.list_all(op.core, op.actor)]
        target: TextIO = output.open("w", encoding="utf-8") if output else sys.stdout
        written = 0
        totals = {
            name: tokens.search(op.core, op.actor, tenant=name, page=PageRequest(0, 1)).total
            for name in names
        }
        try:
            with Progress(transient=True, console=_stderr_console()) as progress:
                task = progress.add_task("exporting", total=sum(totals.values()))
                for name in names:
                    for page in range(-(-totals[name] // _PAGE)):
                        found = tokens.search(
                            op.core, op.actor, tenant=name, page=PageRequest(page, _PAGE)
                        )
                        for token in found.items:
                            target.write(
                                json.dumps(_record(token, include_sealed, op.now())) + "\n"
                            )
                            written += 1
                        progress.advance(task, len(found.items))
        finally:
            if output:
                target.close()
    note(f"exported {written} token(s)")


def import_(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="A JSON Lines file written by export; - for stdin")
    ],
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Store tokens from an export; their secrets keep working. Already stored ones are skipped."""
    from rich.progress import Progress

    from tokenward.service import tokens

    if str(source) == "-":
        lines = sys.stdin.readlines()
    else:
        try:
            with source.open(encoding="utf-8") as file:  # not splitlines(): U+2028 is JSON text
                lines = file.readlines()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {source}: {exc}", EXIT_INVALID)
    imported = skipped = 0
    with (
        operator(ctx, database_url, data_dir, create=True) as op,
        Progress(transient=True, console=_stderr_console()) as progress,
    ):
        task = progress.add_task("importing", total=len(lines))
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                token = _token(json.loads(line))
                tokens.restore(op.core, op.actor, token=token)
                imported += 1
            except Conflict:
                skipped += 1
            except (ValueError, KeyError, TypeError, Invalid, NotFound) as exc:
                message = exc.message if isinstance(exc, Invalid | NotFound) else str(exc)
                fail(f"line {number}: {message}", EXIT_INVALID)
            progress.advance(task)
    note(f"imported {imported} token(s); {skipped} already stored")


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _record(token: Token, include_sealed: bool, now: datetime) -> dict[str, Any]:
    """The native API's token document, plus what a restore needs: the secret's hash and,
    when asked for, the sealed copy of a recoverable secret."""
    from tokenward.api.native.schemas import TokenPublic

    record = TokenPublic.of(token, now).model_dump(mode="json")
    record["secret_hash"] = token.secret_hash
    if include_sealed and token.sealed_secret is not None:
        record["sealed_secret"] = base64.b64encode(token.sealed_secret).decode("ascii")
    return record


def _token(record: dict[str, Any]) -> Token:
    def instant(key: str) -> datetime | None:
        value = record.get(key)
        return None if value is None else datetime.fromisoformat(value)

    created = instant("created_at")
    if created is None or created.tzinfo is None:
        raise ValueError("created_at must be an instant with an offset")
    sealed = record.get("sealed_secret")
    return Token(
        id=0,
        tenant=str(record["tenant"]),
        name=str(record["name"]),
        description=str(record.get("description", "")),
        type=TokenType(record["type"]),
        principal=record.get("principal"),
        owner=str(record["owner"]),
        user=str(record["user"]),
        role=Role(record["role"]),
        scopes=tuple(record.get("scopes", ())),
        audience=tuple(record.get("audience", ())),
        resources=tuple(record.get("resources", ())),
        restricted=bool(record.get("restricted", False)),
        active=bool(record.get("active", True)),
        expires_at=instant("expires_at"),
        created_at=created,
        updated_at=instant("updated_at") or created,
        last_used_at=instant("last_used_at"),
        secret_hash=str(record["secret_hash"]),
        secret_hint=str(record["secret_hint"]),
        sealed_secret=None if sealed is None else base64.b64decode(sealed),
        metadata=dict(record.get("metadata", {})),
    )
