"""The ``tokenward`` command: serve, migrate, and the tenant, token and verify commands.

In operator mode those commands act on the database directly (``TOKENWARD_DATABASE_URL`` /
``TOKENWARD_DATA_DIR``, or ``--database-url`` / ``--data-dir``) as root, through the service
layer. With ``--url`` / ``TOKENWARD_URL`` (remote mode) the same commands ask that server
instead, with the credential of ``--token`` / ``TOKENWARD_TOKEN`` (see ``_backend.py``).

This module imports nothing but the standard library: it is the entry point of a client-only
install too, where it says which extra to install instead of failing on an import. The
commands themselves import what they need when they run, so that ``--help`` and remote
commands do not pay for SQLAlchemy and the server's settings (bench/run.py measures it).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

#: Distributions of the ``server`` extra that the command needs, by module name.
SERVER_MODULES = ("typer", "rich", "sqlalchemy", "fastapi", "uvicorn", "pydantic_settings")
SERVER_EXTRA_HINT = (
    "the tokenward command needs the server extra, which this installation lacks; install it "
    "with: pip install 'tokenward[server]' (from a checkout: pip install '.[server]')"
)


def missing_server_modules() -> list[str]:
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def main() -> None:
    if sys.argv[1:] == ["--version"]:  # answered by a client-only install too
        from tokenward import __version__

        print(f"tokenward {__version__}")
        return
    missing = missing_server_modules()
    if missing:
        print(f"error: {SERVER_EXTRA_HINT} (missing: {', '.join(missing)})", file=sys.stderr)
        raise SystemExit(2)
    # httpx imports its own command line (httpx._main: rich, click, pygments) whenever those
    # are installed, as they are beside typer; that was half of a remote command's start.
    # tokenward never runs httpx's command, and httpx falls back to a stub without it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from tokenward.cli._app import app

    app()


def __getattr__(name: str) -> Any:
    # ``from tokenward.cli import app`` keeps working without importing typer here.
    if name == "app":
        from tokenward.cli._app import app

        return app
    raise AttributeError(name)


if TYPE_CHECKING:
    app: typer.Typer
