"""Where a command's requests go: the database as root (operator mode) or a tokenward server
(remote mode, ``--url`` / ``TOKENWARD_URL``).

Each command is written once against ``Backend``. Its methods take the domain's inputs
(``TokenSpec``, ``TokenQuery``) and answer the client's typed results (``tokenward.client``),
which mirror the native API's wire models: ``--json`` prints them in the API's shapes in both
modes (``_common.wire``), so a script cannot tell the modes apart, and remote mode never loads
the server's pydantic models (a tenth of a second of its start). ``OperatorBackend`` calls the
service layer as root; ``RemoteBackend`` calls ``tokenward.client.Client`` with the given
credential, which the server authorizes as it would any other caller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
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
from tokenward.domain.audit import AuditQuery
from tokenward.domain.tokens import TokenChanges, TokenQuery, TokenSpec

if TYPE_CHECKING:
    from tokenward import client
    from tokenward.cli._common import Remote, Revealed


class Backend(Protocol):
    #: The tenant a command looked in, named in its "not found" message (``tenant_for``).
    searched: str | None

    def credential_tenant(self) -> str | None: ...

    def create_tenant(self, name: str) -> client.Tenant: ...

    def list_tenants(self) -> list[client.Tenant]: ...

    def get_tenant(self, name: str) -> client.Tenant: ...

    def delete_tenant(self, name: str) -> None: ...

    def issue_token(
        self, tenant: str, spec: TokenSpec, *, owner: str | None
    ) -> client.TokenWithSecret: ...

    def search_tokens(
        self, tenant: str, query: TokenQuery, *, page: int, limit: int
    ) -> client.Page[client.Token]: ...

    def get_token(self, tenant: str, token_id: int) -> client.Token: ...

    def enable_token(self, tenant: str, token_id: int) -> client.Token: ...

    def disable_token(self, tenant: str, token_id: int) -> client.Token: ...

    def rename_token(self, tenant: str, token_id: int, name: str) -> client.Token: ...

    def update_token(self, tenant: str, token_id: int, changes: TokenChanges) -> client.Token: ...

    def list_audit(
        self, query: AuditQuery, *, page: int, limit: int
    ) -> client.Page[client.AuditRecord]: ...

    def rotate_token(
        self, tenant: str, token_id: int, *, grace_seconds: int
    ) -> client.TokenWithSecret: ...

    def delete_token(self, tenant: str, token_id: int) -> None: ...

    def reveal_secret(self, tenant: str, token_id: int) -> Revealed: ...

    def verify(
        self, secret: str, *, audience: str | None, scopes: Sequence[str], resource: str | None
    ) -> client.Verification: ...

    def adjust_credits(
        self, tenant: str, token_id: int, *, set_to: int | None, add: int | None
    ) -> client.Token: ...

    def token_usage(
        self,
        tenant: str,
        token_id: int,
        *,
        since: datetime | None,
        until: datetime | None,
        bucket: str,
    ) -> list[client.UsageBucket]: ...


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
        from tokenward.domain.errors import NotFound

        with operator(ctx, database_url, data_dir) as op:
            local = OperatorBackend(op)
            try:
                yield local
            except NotFound as exc:
                fail(searched_in(exc.message, local.searched), EXIT_REFUSED)
        return
    if database_url is not None or data_dir is not None:
        fail(
            "--database-url and --data-dir are for operator mode; with --url (or "
            "TOKENWARD_URL) the server's own database is used",
            EXIT_INVALID,
        )
    from tokenward.cli._remote import RemoteBackend

    with _client(remote) as http:
        server = RemoteBackend(http, remote.token)
        with _remote_errors(remote, server):
            yield server


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


def tenant_for(tw: Backend, given: str | None) -> str:
    """The tenant a command acts in: ``--tenant`` when given, else the one the credential is
    bound to (remote mode, a tenant's token), else ``default``."""
    from tokenward.domain.tenants import DEFAULT_TENANT

    tenant = given or tw.credential_tenant() or DEFAULT_TENANT
    tw.searched = tenant
    return tenant


def searched_in(message: str, tenant: str | None) -> str:
    """A "not found" message that says which tenant was searched, when it does not yet."""
    if tenant is None or repr(tenant) in message:
        return message
    if message == "tenant not found":  # the server names no tenant: its answers echo no input
        return f"tenant {tenant!r} not found"
    return f"{message} in tenant {tenant!r} (another tenant: --tenant)"


@contextlib.contextmanager
def _remote_errors(remote: Remote, server: Backend) -> Iterator[None]:
    """The client's errors (it translates httpx's) become ``error: ...`` and an exit code."""
    from tokenward.client import NotFound, TokenwardError, TransportError, Unauthorized

    try:
        yield
    except TransportError as exc:
        fail(
            f"cannot reach {remote.url}: {exc.message} (request id {exc.request_id})",
            EXIT_UNAVAILABLE,
        )
    except TokenwardError as exc:
        found = searched_in(exc.message, server.searched) if isinstance(exc, NotFound) else None
        message = f"{found or exc.message} (request id {exc.request_id})"
        if isinstance(exc, Unauthorized) and remote.token is None:
            message += "; pass --token or set TOKENWARD_TOKEN"
        fail(message, exit_code_of_answer(exc))
