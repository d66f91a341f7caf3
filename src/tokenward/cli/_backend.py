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
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import typer

from tokenward.api.native.schemas import (
    SecretReveal,
    TenantPublic,
    TokenPage,
    TokenPublic,
    TokenWithSecret,
    VerifyResponse,
)
from tokenward.cli._common import (
    EXIT_INVALID,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    Operator,
    fail,
    operator,
    remote_of,
)
from tokenward.domain.tokens import (
    IssuedToken,
    PageRequest,
    Token,
    TokenChanges,
    TokenQuery,
    TokenSpec,
)
from tokenward.service import tenants, tokens, verification

if TYPE_CHECKING:
    from tokenward import client
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
        with operator(ctx, database_url, data_dir) as op:
            yield OperatorBackend(op)
        return
    if database_url is not None or data_dir is not None:
        fail(
            "--database-url and --data-dir are for operator mode; with --url (or "
            "TOKENWARD_URL) the server's own database is used",
            EXIT_INVALID,
        )
    with _remote_errors(remote), _client(remote) as http:
        yield RemoteBackend(http)


# --- operator mode -------------------------------------------------------------------------


class OperatorBackend:
    """The service layer on the database, as root."""

    def __init__(self, op: Operator) -> None:
        self._op = op

    def _public(self, token: Token) -> TokenPublic:
        return TokenPublic.of(token, self._op.now())

    def _with_secret(self, issued: IssuedToken) -> TokenWithSecret:
        return TokenWithSecret(**self._public(issued.token).model_dump(), secret=issued.secret)

    def create_tenant(self, name: str) -> TenantPublic:
        return TenantPublic.of(tenants.create(self._op.core, self._op.actor, name=name))

    def list_tenants(self) -> list[TenantPublic]:
        return [TenantPublic.of(t) for t in tenants.list_all(self._op.core, self._op.actor)]

    def get_tenant(self, name: str) -> TenantPublic:
        return TenantPublic.of(tenants.get(self._op.core, self._op.actor, name=name))

    def delete_tenant(self, name: str) -> None:
        tenants.delete(self._op.core, self._op.actor, name=name)

    def issue_token(self, tenant: str, spec: TokenSpec, *, owner: str | None) -> TokenWithSecret:
        op = self._op
        issued = tokens.issue(op.core, op.actor, tenant=tenant, spec=spec, owner=owner)
        return self._with_secret(issued)

    def search_tokens(self, tenant: str, query: TokenQuery, *, page: int, limit: int) -> TokenPage:
        op = self._op
        found = tokens.search(
            op.core, op.actor, tenant=tenant, query=query, page=PageRequest(page, limit)
        )
        now = op.now()
        return TokenPage(
            items=[TokenPublic.of(token, now) for token in found.items],
            total=found.total,
            page=found.page,
            limit=limit,
        )

    def get_token(self, tenant: str, token_id: int) -> TokenPublic:
        op = self._op
        return self._public(tokens.get(op.core, op.actor, tenant=tenant, token_id=token_id))

    def enable_token(self, tenant: str, token_id: int) -> TokenPublic:
        op = self._op
        return self._public(tokens.enable(op.core, op.actor, tenant=tenant, token_id=token_id))

    def disable_token(self, tenant: str, token_id: int) -> TokenPublic:
        op = self._op
        return self._public(tokens.disable(op.core, op.actor, tenant=tenant, token_id=token_id))

    def rename_token(self, tenant: str, token_id: int, name: str) -> TokenPublic:
        op = self._op
        changes = TokenChanges(name=name)
        token = tokens.update(op.core, op.actor, tenant=tenant, token_id=token_id, changes=changes)
        return self._public(token)

    def rotate_token(self, tenant: str, token_id: int, *, grace_seconds: int) -> TokenWithSecret:
        op = self._op
        issued = tokens.rotate(
            op.core, op.actor, tenant=tenant, token_id=token_id, grace_seconds=grace_seconds
        )
        return self._with_secret(issued)

    def delete_token(self, tenant: str, token_id: int) -> None:
        tokens.delete(self._op.core, self._op.actor, tenant=tenant, token_id=token_id)

    def reveal_secret(self, tenant: str, token_id: int) -> SecretReveal:
        op = self._op
        secret = tokens.reveal(op.core, op.actor, tenant=tenant, token_id=token_id)
        return SecretReveal(id=token_id, secret=secret)

    def verify(
        self, secret: str, *, audience: str | None, scopes: Sequence[str], resource: str | None
    ) -> VerifyResponse:
        # TOKENWARD_VERIFY_REQUIRES_AUTH guards the HTTP endpoint against strangers; the
        # operator already holds the database, and acts as root, so no credential is asked.
        core = dataclasses.replace(self._op.core, verify_requires_auth=False)
        result = verification.verify(
            core, secret, audience=audience, scopes=scopes, resource=resource
        )
        core.flush_last_use()
        token = None if result.token is None else self._public(result.token)
        return VerifyResponse(valid=result.valid, code=result.code, token=token)


# --- remote mode ---------------------------------------------------------------------------


class RemoteBackend:
    """The native API through ``tokenward.client``, with the caller's credential."""

    def __init__(self, http: client.Client) -> None:
        self._http = http

    def create_tenant(self, name: str) -> TenantPublic:
        return _tenant(self._http.create_tenant(name))

    def list_tenants(self) -> list[TenantPublic]:
        return [_tenant(t) for t in self._http.list_tenants()]

    def get_tenant(self, name: str) -> TenantPublic:
        return _tenant(self._http.get_tenant(name))

    def delete_tenant(self, name: str) -> None:
        self._http.delete_tenant(name)

    def issue_token(self, tenant: str, spec: TokenSpec, *, owner: str | None) -> TokenWithSecret:
        issued = self._http.create_token(
            tenant,
            name=spec.name,
            description=spec.description,
            type=spec.type.value,
            principal=spec.principal,
            owner=owner,
            user=spec.user,
            role=spec.role.value,
            scopes=spec.scopes,
            audience=spec.audience,
            resources=spec.resources,
            restricted=spec.restricted,
            active=spec.active,
            expires_at=spec.expires_at,
            ttl_seconds=spec.ttl_seconds,
            recoverable=spec.recoverable,
            metadata=spec.metadata or None,
        )
        return TokenWithSecret.model_validate(dataclasses.asdict(issued))

    def search_tokens(self, tenant: str, query: TokenQuery, *, page: int, limit: int) -> TokenPage:
        found = self._http.list_tokens(
            tenant,
            type=[t.value for t in query.types] if query.types else None,
            principal=list(query.principals) if query.principals else None,
            owner=query.owner,
            user=query.user,
            role=None if query.role is None else query.role.value,
            active=query.active,
            expired=query.expired,
            name=query.name_contains,
            created_after=query.created_after,
            created_before=query.created_before,
            expires_after=query.expires_after,
            expires_before=query.expires_before,
            sort=query.sort.value,
            order=query.order.value,
            page=page,
            limit=limit,
        )
        return TokenPage(
            items=[_token(t) for t in found.items],
            total=found.total,
            page=found.page,
            limit=found.limit,
        )

    def get_token(self, tenant: str, token_id: int) -> TokenPublic:
        return _token(self._http.get_token(tenant, token_id))

    def enable_token(self, tenant: str, token_id: int) -> TokenPublic:
        return _token(self._http.enable_token(tenant, token_id))

    def disable_token(self, tenant: str, token_id: int) -> TokenPublic:
        return _token(self._http.disable_token(tenant, token_id))

    def rename_token(self, tenant: str, token_id: int, name: str) -> TokenPublic:
        return _token(self._http.update_token(tenant, token_id, name=name))

    def rotate_token(self, tenant: str, token_id: int, *, grace_seconds: int) -> TokenWithSecret:
        rotated = self._http.rotate_token(tenant, token_id, grace_seconds=grace_seconds)
        return TokenWithSecret.model_validate(dataclasses.asdict(rotated))

    def delete_token(self, tenant: str, token_id: int) -> None:
        self._http.delete_token(tenant, token_id)

    def reveal_secret(self, tenant: str, token_id: int) -> SecretReveal:
        return SecretReveal(id=token_id, secret=self._http.reveal_secret(tenant, token_id))

    def verify(
        self, secret: str, *, audience: str | None, scopes: Sequence[str], resource: str | None
    ) -> VerifyResponse:
        verdict = self._http.verify(secret, audience=audience, scopes=scopes, resource=resource)
        token = None if verdict.token is None else dataclasses.asdict(verdict.token)
        return VerifyResponse.model_validate(
            {"valid": verdict.valid, "code": verdict.code, "token": token}
        )


def _tenant(tenant: client.Tenant) -> TenantPublic:
    return TenantPublic(name=tenant.name, created_at=tenant.created_at)


def _token(token: client.Token) -> TokenPublic:
    return TokenPublic.model_validate(dataclasses.asdict(token))


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
