"""``tokenward export`` and ``tokenward import``: tenants and token metadata as JSON Lines.

An export is a line per tenant (``"kind": "tenant"``), then a line per token (``"kind":
"token"``; older exports have no kind). Secrets are never exported: a token line holds its
metadata, id and its secret's SHA-256, which is what lets the imported token keep verifying,
and its controls: rate limits, IP allowlist and credits (the balance as it stood at the export,
and the refill); rate-limit counters are not carried (they start empty).
The sealed copy of a recoverable secret is written only with ``--include-sealed``, and opens
only under the same key-encryption key; without it the token comes back marked as
recoverable with its sealed copy left behind (``SEALED_COPY_NOT_IMPORTED``), so that
``reveal`` says so.

Ids are kept, since audit records and the compatible faces name tokens by id: an import into a
store where another token holds one of them is refused as a whole, before anything is written,
unless ``--new-ids`` gives those tokens new ids and reports each.
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
    EXIT_REFUSED,
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    fail,
    note,
    operator,
    print_json,
)
from tokenward.domain.errors import Conflict, ErrorCode, Invalid, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    SEALED_COPY_NOT_IMPORTED,
    Credits,
    PageRequest,
    RateLimit,
    Refill,
    RefillInterval,
    Token,
    TokenType,
)

_PAGE = 1000
TENANT_KIND = "tenant"
TOKEN_KIND = "token"  # noqa: S105 (a record kind, not a secret)

ProgressSecondsOption = Annotated[
    float,
    typer.Option(
        "--progress-seconds",
        metavar="SECONDS",
        help="When standard error is not a terminal: a progress line this often",
    ),
]


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
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the tenants and every token's metadata as JSON Lines; never a secret."""
    from rich.progress import Progress

    from tokenward.service import tenants, tokens

    with operator(ctx, database_url, data_dir) as op:
        if tenant:
            chosen = [tenants.get(op.core, op.actor, name=name) for name in tenant]
        else:
            chosen = list(tenants.list_all(op.core, op.actor))
        target: TextIO = output.open("w", encoding="utf-8") if output else sys.stdout
        written = 0
        totals = {
            t.name: tokens.search(op.core, op.actor, tenant=t.name, page=PageRequest(0, 1)).total
            for t in chosen
        }
        try:
            for one in chosen:
                line = {"kind": TENANT_KIND, "name": one.name}
                target.write(json.dumps(line | {"created_at": one.created_at.isoformat()}) + "\n")
            with Progress(transient=True, console=_stderr_console()) as progress:
                task = progress.add_task("exporting", total=sum(totals.values()))
                for name, total in totals.items():
                    for page in range(-(-total // _PAGE)):
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
    summary = {"tenants": len(chosen), "tokens": written, "sealed_included": include_sealed}
    if as_json:
        # With the export itself on standard output, the summary goes to standard error.
        typer.echo(json.dumps(summary), err=output is None)
    else:
        note(f"exported {len(chosen)} tenant(s) and {written} token(s)")


def import_(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="A JSON Lines file written by export; - for stdin")
    ],
    new_ids: Annotated[
        bool,
        typer.Option(
            "--new-ids",
            help="Give new ids to tokens whose id is taken here (each is reported)",
        ),
    ] = False,
    progress_seconds: ProgressSecondsOption = 5.0,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Store the tenants and tokens of an export; their secrets keep working, their ids are
    kept. Already stored tokens are skipped; ids taken by other tokens refuse the import."""
    from tokenward.service import tenants, tokens

    if str(source) == "-":
        lines = sys.stdin.readlines()
    else:
        try:
            with source.open(encoding="utf-8") as file:  # not splitlines(): U+2028 is JSON text
                lines = file.readlines()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {source}: {exc}", EXIT_INVALID)
    tenant_names: list[str] = []
    found: list[tuple[int, Token]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if record.get("kind") == TENANT_KIND:
                tenant_names.append(str(record["name"]))
            else:  # a token; exports before tenants were exported have no "kind"
                found.append((number, _token(record)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            fail(f"line {number}: {exc}", EXIT_INVALID)
    for _, token in found:
        if token.tenant not in tenant_names:
            tenant_names.append(token.tenant)

    with operator(ctx, database_url, data_dir, create=True) as op:
        ids = [token.id for _, token in found]
        stored = tokens.stored_secret_hashes(op.core, op.actor, ids=ids)
        taken = [t for _, t in found if t.id in stored and stored[t.id] != t.secret_hash]
        if taken and not new_ids:
            shown = ", ".join(str(t.id) for t in taken[:10]) + (", ..." if len(taken) > 10 else "")
            fail(
                f"{len(taken)} token id(s) of the file are taken in this store by other tokens "
                f"({shown}); nothing was imported. Import into a store without them, or pass "
                "--new-ids to give those tokens new ids (each is reported)",
                EXIT_REFUSED,
            )
        created = []
        for name in tenant_names:
            try:
                tenants.get(op.core, op.actor, name=name)
            except NotFound:
                tenants.create(op.core, op.actor, name=name)
                created.append(name)
        moved = {t.id for t in taken}
        # Tokens keeping their ids first, so that a new id never takes one of theirs.
        ordered = [f for f in found if f[1].id not in moved] + [
            f for f in found if f[1].id in moved
        ]
        counts = {"imported": 0, "already_stored": 0}
        renumbered: list[dict[str, Any]] = []
        with _ImportProgress(len(ordered), progress_seconds) as progress:
            for number, token in ordered:
                try:
                    kept = token.id not in moved
                    restored = tokens.restore(op.core, op.actor, token=token, keep_id=kept)
                    counts["imported"] += 1
                    if not kept:
                        renumbered.append(
                            {"tenant": token.tenant, "old_id": token.id, "new_id": restored.id}
                        )
                except Conflict as exc:
                    if exc.code != ErrorCode.ALREADY_STORED:
                        fail(f"line {number}: {exc.message}", EXIT_REFUSED)
                    counts["already_stored"] += 1
                except (Invalid, NotFound) as exc:
                    fail(f"line {number}: {exc.message}", EXIT_INVALID)
                progress.advance(counts)
    for change in renumbered:
        note(f"token {change['old_id']} of tenant {change['tenant']} is now {change['new_id']}")
    if as_json:
        print_json({**counts, "tenants_created": created, "new_ids": renumbered})
        return
    note(
        f"imported {counts['imported']} token(s); {counts['already_stored']} already stored; "
        f"{len(renumbered)} given new ids; created {len(created)} tenant(s)"
        + (f": {', '.join(created)}" if created else "")
    )


class _ImportProgress:
    """A progress bar on a terminal; elsewhere (a log, a CI job) a line every ``every``
    seconds, so that a long import shows that it moves."""

    def __init__(self, total: int, every: float) -> None:
        self._total = total
        self._every = every
        self._done = 0
        self._bar: Any = None
        self._task: Any = None
        self._next = 0.0

    def __enter__(self) -> _ImportProgress:
        import time

        if sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True, console=_stderr_console())
            self._bar.__enter__()
            self._task = self._bar.add_task("importing", total=self._total)
        self._next = time.monotonic() + self._every
        return self

    def advance(self, counts: dict[str, int]) -> None:
        import time

        self._done += 1
        if self._bar is not None:
            self._bar.advance(self._task)
        elif time.monotonic() >= self._next:
            self._next = time.monotonic() + self._every
            note(
                f"import: {self._done} of {self._total} token(s) done "
                f"({counts['imported']} imported, {counts['already_stored']} already stored)"
            )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _record(token: Token, include_sealed: bool, now: datetime) -> dict[str, Any]:
    """The native API's token document, plus what a restore needs: the secret's hash and,
    when asked for, the sealed copy of a recoverable secret."""
    from tokenward.api.native.schemas import TokenPublic

    record = {"kind": TOKEN_KIND} | TokenPublic.of(token, now).model_dump(mode="json")
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
    if sealed is not None:
        sealed_secret: bytes | None = base64.b64decode(sealed)
    elif record.get("recoverable"):
        # Exported without --include-sealed: the token says so rather than "not recoverable".
        sealed_secret = SEALED_COPY_NOT_IMPORTED
    else:
        sealed_secret = None
    return Token(
        id=int(record.get("id") or 0),
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
        sealed_secret=sealed_secret,
        metadata=dict(record.get("metadata", {})),
        rate_limits=tuple(
            RateLimit(str(rate["name"]), int(rate["limit"]), int(rate["window_seconds"]))
            for rate in record.get("rate_limits") or ()
        ),
        credits=_credits(record.get("credits")),
        ip_allowlist=tuple(str(entry) for entry in record.get("ip_allowlist") or ()),
    )


def _credits(value: dict[str, Any] | None) -> Credits | None:
    """The native API's ``credits`` document; its bounds are checked by the restore."""
    if value is None:
        return None
    refill = value.get("refill")
    return Credits(
        int(value["remaining"]),
        None
        if refill is None
        else Refill(int(refill["amount"]), RefillInterval(refill["interval"])),
    )
