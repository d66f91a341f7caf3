"""What every command shares: settings, the database, the root actor, the server, output.

Exit codes (also in ``tokenward --help``): 0 success; 1 the request was refused (not found,
forbidden, conflict, a secret that does not verify, a declined confirmation; in remote mode
also a rejected credential or a rate limit); 2 bad input or a bad setting (usage errors,
``Invalid``, a malformed ``TOKENWARD_*`` value, an operator-only command given a server URL);
3 the database or the server is unavailable (retrying later may work).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from tokenward.domain.actors import Actor
from tokenward.domain.errors import (
    Conflict,
    ExchangeRefused,
    Forbidden,
    Invalid,
    NotFound,
    PolicyViolation,
    RateLimited,
    SealError,
    TokenwardError,
    Unauthenticated,
    Unavailable,
)

if TYPE_CHECKING:
    from pydantic import ValidationError
    from sqlalchemy import Engine

    from tokenward import verification
    from tokenward.service.core import Core
    from tokenward.settings import Settings

EXIT_REFUSED = 1
EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3

EXIT_CODE_OF: dict[type[TokenwardError], int] = {
    Invalid: EXIT_INVALID,
    PolicyViolation: EXIT_INVALID,
    ExchangeRefused: EXIT_INVALID,
    Unauthenticated: EXIT_REFUSED,
    Forbidden: EXIT_REFUSED,
    NotFound: EXIT_REFUSED,
    Conflict: EXIT_REFUSED,
    Unavailable: EXIT_UNAVAILABLE,
    RateLimited: EXIT_REFUSED,
    SealError: EXIT_REFUSED,
}


def exit_code_of(error: TokenwardError) -> int:
    return next(
        (code for cls, code in EXIT_CODE_OF.items() if isinstance(error, cls)), EXIT_REFUSED
    )


CLI_CLIENT = "cli"
_DATABASE_PANEL = "Database"
_SERVER_PANEL = "Server (remote mode)"
URL_ENV = "TOKENWARD_URL"
TOKEN_ENV = "TOKENWARD_TOKEN"  # noqa: S105 (the name of a variable, not a secret)

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL; overrides TOKENWARD_DATABASE_URL",
        show_default=False,
        rich_help_panel=_DATABASE_PANEL,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Directory of the SQLite file and key file; overrides TOKENWARD_DATA_DIR",
        show_default=False,
        rich_help_panel=_DATABASE_PANEL,
    ),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar=URL_ENV,
        help="Talk to this tokenward server instead of the database (remote mode)",
        show_default=False,
        rich_help_panel=_SERVER_PANEL,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=TOKEN_ENV,
        help="Credential sent to the server as 'Authorization: Bearer' (remote mode)",
        show_default=False,
        rich_help_panel=_SERVER_PANEL,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        "-t",
        help="Tenant of the token (default: the credential's own tenant, else 'default')",
        show_default=False,
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]


@dataclass(frozen=True, slots=True)
class Overrides:
    """Connection options given before the command (``tokenward --data-dir D token list``)."""

    database_url: str | None = None
    data_dir: Path | None = None
    url: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Remote:
    """Remote mode: the server at ``url``, with ``token`` as the bearer credential."""

    url: str
    token: str | None


@dataclass(frozen=True, slots=True)
class Operator:
    """Operator mode: the service layer on the database, acting as root."""

    settings: Settings
    core: Core
    verifier: verification.Engine
    actor: Actor

    def now(self) -> datetime:
        return self.core.clock()


def fail(message: str, code: int) -> NoReturn:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    typer.secho(f"warning: {message}", fg="yellow", err=True)


def note(message: str) -> None:
    typer.echo(message, err=True)


def remote_of(ctx: typer.Context) -> Remote | None:
    """The server to talk to, when ``--url`` or ``TOKENWARD_URL`` names one."""
    outer = ctx.find_root().obj
    if not isinstance(outer, Overrides) or not outer.url:
        return None
    import httpx

    try:
        parsed = httpx.URL(outer.url)
    except httpx.InvalidURL as exc:
        fail(f"invalid server URL {outer.url!r}: {exc}", EXIT_INVALID)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        fail(f"invalid server URL {outer.url!r}: expected http(s)://host[:port]", EXIT_INVALID)
    return Remote(url=outer.url, token=outer.token or None)


def require_operator_mode(ctx: typer.Context) -> None:
    """Refuses a server URL for a command that only works on the database: silently acting
    on the local database when the caller meant a server would be the worse surprise."""
    outer = ctx.find_root().obj
    if isinstance(outer, Overrides) and outer.url:
        command = " ".join(["tokenward", *ctx.command_path.split()[1:]])
        fail(
            f"'{command}' works on the database directly (operator mode) and cannot use a "
            f"server; drop --url and unset {URL_ENV}",
            EXIT_INVALID,
        )


def load_settings(
    ctx: typer.Context | None = None,
    *,
    database_url: str | None = None,
    data_dir: Path | None = None,
    refuse_url: bool = True,
) -> Settings:
    """Settings from ``TOKENWARD_*``; the command's options win over the global ones. Only
    operator mode reads them, so a server URL is refused here, except by ``serve``: it is
    the server, and a ``TOKENWARD_URL`` meant for clients in its environment must not stop
    it from starting."""
    from pydantic import ValidationError

    from tokenward.settings import Settings

    if ctx is not None and refuse_url:
        require_operator_mode(ctx)
    outer = ctx.find_root().obj if ctx is not None else None
    if isinstance(outer, Overrides):
        database_url = database_url if database_url is not None else outer.database_url
        data_dir = data_dir if data_dir is not None else outer.data_dir
    given: dict[str, Any] = {"database_url": database_url, "data_dir": data_dir}
    try:
        return Settings(**{key: value for key, value in given.items() if value is not None})
    except ValidationError as exc:
        fail("; ".join(_setting_problems(exc)), EXIT_INVALID)
    except ValueError as exc:  # the configuration file: missing, or with an unknown key
        fail(str(exc), EXIT_INVALID)


def _setting_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        name = "TOKENWARD_" + "_".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(message if name in message else f"invalid setting {name}: {message}")
    return problems


@contextlib.contextmanager
def operator(
    ctx: typer.Context,
    database_url: str | None = None,
    data_dir: Path | None = None,
    *,
    create: bool = False,
) -> Iterator[Operator]:
    """Opens the database (applying pending migrations, as ``serve`` does) and yields the
    service's dependencies with the root actor; domain errors become ``error:`` and an exit
    code. ``create``: the command may create a SQLite store that is not there yet."""
    from tokenward.app import build_core, build_verifier

    settings = load_settings(ctx, database_url=database_url, data_dir=data_dir)
    engine = open_database(settings, create=create)
    apply_migrations(engine)
    verifier = build_verifier(settings, engine)
    try:
        try:
            core = build_core(settings, engine, verifier)
        except (ValueError, OSError) as exc:  # the key: a short TOKENWARD_SECRET_KEY, a bad file
            fail(str(exc), EXIT_INVALID)
        yield Operator(
            settings=settings, core=core, verifier=verifier, actor=Actor.root(client=CLI_CLIENT)
        )
    except SealError as exc:  # before its parent: the operator is told which key to use
        fail(
            f"{exc}: run this command with the server's TOKENWARD_SECRET_KEY or data directory",
            EXIT_REFUSED,
        )
    except TokenwardError as exc:
        fail(exc.message, exit_code_of(exc))
    finally:
        engine.dispose()
        verifier.close()  # after the engine: see SqlSecretLookup.close


#: The databases tokenward stores its data in, by SQLAlchemy backend name.
SUPPORTED_DATABASES = ("sqlite", "postgresql")


def sqlite_store_path(url: str) -> Path | None:
    """The file of a SQLite store URL; None for other databases, memory and URI names.
    Raises ``ArgumentError`` for a URL that does not parse."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri") in ("true", "1"):
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).resolve()


def open_database(settings: Settings, *, create: bool = False) -> Engine:
    """An engine on the configured database; a bad URL ends the command with a message.

    Only ``serve``, ``migrate`` and ``import`` pass ``create``: a mistyped data directory must
    not quietly become a new, empty store (and its directories) under a read-only command.
    The path of a store being created is echoed, so that a typo shows at once."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from tokenward.app import open_engine

    url = settings.resolved_database_url
    try:
        backend = make_url(url).get_backend_name()
        store = sqlite_store_path(url)
    except ArgumentError as exc:
        fail(f"invalid database URL: {exc}", EXIT_INVALID)
    if backend not in SUPPORTED_DATABASES:
        fail(
            f"unsupported database {backend!r} in TOKENWARD_DATABASE_URL / --database-url: "
            "tokenward stores its data in SQLite (sqlite:///PATH) or PostgreSQL "
            "(postgresql://USER@HOST/DATABASE)",
            EXIT_INVALID,
        )
    if store is not None and not store.exists():
        if not create:
            fail(
                f"no store at {store}: check --data-dir / TOKENWARD_DATA_DIR (or "
                "--database-url); 'tokenward migrate' or 'tokenward serve' creates a new one",
                EXIT_INVALID,
            )
        note(f"creating a new store at {store}")
    try:
        return open_engine(settings)
    except ArgumentError as exc:
        fail(f"invalid database URL: {exc}", EXIT_INVALID)
    except ImportError as exc:  # a driver named in the URL that is not installed
        fail(f"the database driver of the URL is not installed: {exc}", EXIT_INVALID)
    except OSError as exc:
        fail(f"cannot prepare the data directory: {exc}", EXIT_INVALID)


def apply_migrations(engine: Engine) -> list[str]:
    """Applies pending migrations and returns them; an unreachable server ends the command."""
    from sqlalchemy.exc import OperationalError

    from tokenward.store import migrate as migrations

    try:
        pending = migrations.pending(engine)
        if pending:
            migrations.upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        fail(f"the database is not reachable: {reason}", EXIT_UNAVAILABLE)
    return pending


# --- output ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revealed:
    """The answer of ``token reveal``: the native API's ``SecretReveal``."""

    id: int
    secret: str = field(repr=False)


def wire(value: Any) -> Any:
    """A command's result in the native API's JSON form: the client's dataclasses as their
    wire models, instants as pydantic writes them (``Z`` for UTC), tuples as lists. Both
    modes print through here; remote mode never loads the server's pydantic models."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return value


def print_json(data: Any) -> None:
    typer.echo(json.dumps(wire(data), indent=2, ensure_ascii=False))


def cell(value: Any) -> str:
    """How a table shows one value: ``-`` for nothing, lists joined, times in RFC 3339."""
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str | None = None,
    no_wrap: Sequence[str] = (),
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, caption=caption, caption_justify="left", header_style="bold")
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = column.header in no_wrap
    for row in rows:
        # Text, not markup: a name like "[admin]" must print as it is.
        table.add_row(*(Text(cell(value)) for value in row))
    Console().print(table)


def print_record(record: Mapping[str, Any]) -> None:
    print_table(("field", "value"), [(key, value) for key, value in record.items()])
