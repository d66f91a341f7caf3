"""Where a command's requests go: the database as root (operator mode) or a tokenward server
(remote mode, ``--url`` / ``TOKENWARD_URL``).

Each command is written once against ``Backend``. Its methods take the domain's inputs
(``TokenSpec``, ``TokenQuery``) and answer the native API's wire models, so that ``--json``
prints the same shapes in both modes and a script cannot tell them apart. ``OperatorBackend``
calls the service layer as root; ``RemoteBackend`` calls ``tokenward.client.Client`` with the
given credential, which the server authorizes as it would any other caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import typer

from tokenward.cli._common import (
    EXIT_INVALID,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    fail,
    operator,
    remote_of,
)
from tokenward.domain.tokens import TokenQuery, TokenSpec

if TYPE_CHECKING:
    from tokenward import client
    from tokenward.api.native.schemas import (
        SecretReveal,
        TenantPublic,
        TokenPage,
        TokenPublic,
        TokenWithSecret,
        VerifyResponse,
    )
    from tokenward.cli._common import Remote


class Backend(Protocol):
    def create_tenant(self, name: str) -> TenantPublic: ...

    def list_tenants(self) -> list[TenantPublic]: ...

    def get_tenant(self, name: str) -> TenantPublic: ...

    def delete_tenant(self, name: str) -> None: ...

    def issue_token(
        self, tenant: str, spec: TokenSpec, *, owner: str | None
    ) -> TokenWithSecret: ...

    def search_tokens(
        self, tenant: str, query: TokenQuery, *, page: int, limit: int
    ) -> TokenPage: ...

    def get_token(self, tenant: str, token_id: int) -> TokenPublic: ...

    def enable_token(self, tenant: str, token_id: int) -> TokenPublic: ...

    def disable_token(self, tenant: str, token_id: int) -> TokenPublic: ...

    def rename_token(self, tenant: str, token_id: int, name: str) -> TokenPublic: ...

    def rotate_token(
        self, tenant: str, token_id: int, *, grace_seconds: int
    ) -> TokenWithSecret: ...

    def delete_token(self, tenant: str, token_id: int) -> None: ...

    def reveal_secret(self, tenant: str, token_id: int) -> SecretReveal: ...

    def verify(
        self, secret: str, *, audience: str | None, scopes: Sequence[str], resource: str | None
    ) -> VerifyResponse: ...


@contextlib.contextmanager
def backend(
    ctx: typer.Context, database_url: str | None = None, data_dir: Path | None = None
) -> Iterator[Backend]:
    """The server's backend when a URL is given, else the database's; errors of either become
    ``error: ...`` and the exit code."""
    remote = remote_of(ctx)
    if remote is None:
        # Imported here: the service layer and its store are operator mode's alone.
        from tokenward.cli._local import OperatorBackend

        with operator(ctx, database_url, data_dir) as op:
            yield OperatorBackend(op)
        return
    if database_url is not None or data_dir is not None:
        fail(
            "--database-url and --data-dir are for operator mode; with --url (or "
            "TOKENWARD_URL) the server's own database is used",
            EXIT_INVALID,
        )
    from tokenward.cli._remote import RemoteBackend

    with _remote_errors(remote), _client(remote) as http:
        yield RemoteBackend(http)


@contextlib.contextmanager
def _client(remote: Remote) -> Iterator[client.Client]:
    from tokenward.client import Client

    with Client(remote.url, remote.token) as http:
        yield http


#: Statuses that say the input was wrong; other 4xx answers are refusals (1).
_INVALID_STATUSES = frozenset({400, 413, 422})


def exit_code_of_answer(error: client.TokenwardError) -> int:
    """400/413/422 -> 2; 5xx or no answer -> 3; any other refusal (401, 403, 404, 409,
    429) -> 1."""
    if error.status is None or error.status >= 500:
        return EXIT_UNAVAILABLE
    return EXIT_INVALID if error.status in _INVALID_STATUSES else EXIT_REFUSED


@contextlib.contextmanager
def _remote_errors(remote: Remote) -> Iterator[None]:
    """The client's errors (it translates httpx's) become ``error: ...`` and an exit code."""
    from tokenward.client import TokenwardError, TransportError, Unauthorized

    try:
        yield
    except TransportError as exc:
        fail(
            f"cannot reach {remote.url}: {exc.message} (request id {exc.request_id})",
            EXIT_UNAVAILABLE,
        )
    except TokenwardError as exc:
        message = f"{exc.message} (request id {exc.request_id})"
        if isinstance(exc, Unauthorized) and remote.token is None:
            message += "; pass --token or set TOKENWARD_TOKEN"
        fail(message, exit_code_of_answer(exc))
