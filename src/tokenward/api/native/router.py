"""Handlers of the native API: parse the wire model, call one use case, build the answer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from tokenward.api.dependencies import ActorDep, CoreDep, CredentialDep, get_core
from tokenward.api.native import draining
from tokenward.api.native.errors import error_response, translate
from tokenward.api.native.schemas import (
    AuditPage,
    AuditPublic,
    CreditsAdjust,
    ErrorBody,
    RotateRequest,
    SecretReveal,
    TenantCreate,
    TenantList,
    TenantPublic,
    TenantUsagePublic,
    TokenCreate,
    TokenPage,
    TokenPublic,
    TokenUpdate,
    TokenUsagePublic,
    TokenWithSecret,
    TopToken,
    UsageBucketPublic,
    VerifyRequest,
    VerifyResponse,
)
from tokenward.api.routing import face_route
from tokenward.domain import limits
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditQuery
from tokenward.domain.errors import Invalid
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    IssuedToken,
    PageRequest,
    SortOrder,
    TokenChanges,
    TokenQuery,
    TokenSort,
    TokenSpec,
    TokenType,
)
from tokenward.service import audit, health, tenants, tokens, usage
from tokenward.service.core import Core

router = APIRouter(route_class=face_route(translate))

#: Ids are positive 64-bit integers, the store's range; a larger number would overflow the
#: database driver, so it is refused with 422 like any other malformed parameter.
TokenId = Annotated[int, Path(ge=1, le=limits.MAX_TOKEN_ID)]

#: What each error status of the native face means, with the codes it can carry
#: (docs/api.md#errors). Each operation lists only the statuses it can really answer.
_ERROR_TEXT: dict[int, str] = {
    400: "`MALFORMED_JSON` (the body is not JSON) or `INVALID_ARGUMENT` (a value the rules refuse)",
    401: "`UNAUTHENTICATED`: no credential, or one that identifies no caller; with "
    "`WWW-Authenticate: Bearer`. Every bad credential reads the same",
    403: "`FORBIDDEN`: the caller's role does not allow this",
    404: "`NOT_FOUND`: no such tenant or token, or one of another tenant",
    409: "Conflicts with the current state",
    413: "`PAYLOAD_TOO_LARGE`: the body is larger than `TOKENWARD_MAX_BODY_BYTES`",
    422: "`VALIDATION_FAILED`: wrong types, unknown fields, bad path or query parameters",
    429: "`RATE_LIMITED`: too many failed authentications from this address; `Retry-After` "
    "says when to come back",
    500: "`KEY_MISMATCH`: the server's key cannot open the sealed secret",
    503: "`UNAVAILABLE`: the database cannot be reached or is busy; try again later",
}
#: Every call that authenticates its caller can answer these.
_AUTHENTICATED = (401, 429, 503)


def _errors(*statuses: int, notes: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of an operation: its error statuses, described by ``_ERROR_TEXT`` or
    by ``notes`` where the operation says more."""
    notes = notes or {}
    return {
        status: {"model": ErrorBody, "description": notes.get(status, _ERROR_TEXT[status])}
        for status in sorted(statuses)
    }


_ESCALATION = (
    "`FORBIDDEN` (the caller's role may not do this), `ROLE_ESCALATION`, `SCOPE_ESCALATION`, "
    "`EXPIRY_ESCALATION` (the result would be more powerful than the caller), "
    "`OWNER_NOT_ALLOWED`, `USER_NOT_ALLOWED`"
)
_BAD_FIELDS = (
    "`MALFORMED_JSON`, `INVALID_ARGUMENT` (a value the rules refuse), `RESTRICTED_ADMIN` "
    "(a restricted token cannot be admin)"
)
#: A token of a tenant, named by id: each of these answers 404 alike for a missing token, a
#: missing tenant and another tenant's, and 422 for an id out of range.
_ONE_TOKEN = (*_AUTHENTICATED, 404, 422)


def _with_secret(issued: IssuedToken, core: Core) -> TokenWithSecret:
    public = TokenPublic.of(issued.token, core.clock())
    return TokenWithSecret(**public.model_dump(), secret=issued.secret)


@router.post(
    "/v1/tenants",
    status_code=201,
    tags=["tenants"],
    summary="Create a tenant",
    description="A new namespace for tokens. Root only. A name is 1 to 128 letters, digits and "
    "`@ . _ : -`, starting with a letter or digit.",
    responses=_errors(
        *_AUTHENTICATED,
        400,
        403,
        409,
        413,
        422,
        notes={403: "`FORBIDDEN`: only root creates tenants", 409: "`TENANT_EXISTS`"},
    ),
)
def create_tenant(body: TenantCreate, core: CoreDep, actor: ActorDep) -> TenantPublic:
    return TenantPublic.of(tenants.create(core, actor, name=body.name))


@router.get(
    "/v1/tenants",
    tags=["tenants"],
    summary="List tenants",
    description="Root sees every tenant; a token sees only its own.",
    responses=_errors(*_AUTHENTICATED),
)
def list_tenants(core: CoreDep, actor: ActorDep) -> TenantList:
    return TenantList(items=[TenantPublic.of(t) for t in tenants.list_all(core, actor)])


@router.get(
    "/v1/tenants/{tenant}",
    tags=["tenants"],
    summary="Get a tenant",
    description="Another tenant's name is answered 404, as one that does not exist.",
    responses=_errors(*_AUTHENTICATED, 404),
)
def get_tenant(tenant: str, core: CoreDep, actor: ActorDep) -> TenantPublic:
    return TenantPublic.of(tenants.get(core, actor, name=tenant))


@router.delete(
    "/v1/tenants/{tenant}",
    status_code=204,
    tags=["tenants"],
    summary="Delete a tenant and its tokens",
    description="Root only. The tenant's tokens are deleted with it and stop verifying at "
    "once. `default` cannot be deleted.",
    responses=_errors(
        *_AUTHENTICATED,
        403,
        404,
        409,
        notes={403: "`FORBIDDEN`: only root deletes tenants", 409: "`DEFAULT_TENANT`"},
    ),
)
def delete_tenant(tenant: str, core: CoreDep, actor: ActorDep) -> Response:
    tenants.delete(core, actor, name=tenant)
    return Response(status_code=204)


@router.post(
    "/v1/tenants/{tenant}/tokens",
    status_code=201,
    tags=["tokens"],
    summary="Issue a token",
    description="Creates a token and answers it with its `secret`, shown this once (unless the "
    "token is `recoverable`). The new token is never more powerful than the caller: its role, "
    "scopes and expiry are bounded by the caller's (docs/permissions.md).",
    responses=_errors(
        *_AUTHENTICATED,
        400,
        403,
        404,
        413,
        422,
        notes={400: _BAD_FIELDS, 403: _ESCALATION},
    ),
)
async def issue_token(
    tenant: str, body: TokenCreate, request: Request, actor: ActorDep
) -> TokenWithSecret:
    return await run_in_threadpool(_issue_token, get_core(request), actor, tenant, body)


def _issue_token(core: Core, actor: Actor, tenant: str, body: TokenCreate) -> TokenWithSecret:
    """Creates are the busiest writes. A sync handler costs a thread hop for each sync
    dependency, one for itself and one for checking its answer; this path has two."""
    spec = TokenSpec(
        name=body.name,
        description=body.description,
        type=body.type,
        principal=body.principal,
        user=body.user,
        role=body.role,
        scopes=tuple(body.scopes),
        audience=tuple(body.audience),
        resources=tuple(body.resources),
        restricted=body.restricted,
        active=body.active,
        expires_at=body.expires_at,
        ttl_seconds=body.ttl_seconds,
        permanent="expires_at" in body.model_fields_set and body.expires_at is None,
        recoverable=body.recoverable,
        metadata=body.metadata,
        rate_limits=tuple(rate.domain() for rate in body.rate_limits),
        credits=None if body.credits is None else body.credits.domain(),
        ip_allowlist=tuple(body.ip_allowlist),
    )
    issued = tokens.issue(core, actor, tenant=tenant, spec=spec, owner=body.owner)
    return _with_secret(issued, core)


@router.get(
    "/v1/tenants/{tenant}/tokens",
    tags=["tokens"],
    summary="List and search tokens",
    description="Filters combine with AND. `total` counts every match, not only the page. "
    "Tokens without an expiry or a last use sort last in either order; ties are broken by id.",
    responses=_errors(*_AUTHENTICATED, 404, 422),
)
def list_tokens(
    tenant: str,
    core: CoreDep,
    actor: ActorDep,
    type: Annotated[list[TokenType] | None, Query()] = None,
    principal: Annotated[list[str] | None, Query()] = None,
    owner: str | None = None,
    user: str | None = None,
    role: Role | None = None,
    active: bool | None = None,
    expired: bool | None = None,
    name: Annotated[str | None, Query(description="Name contains, ignoring case")] = None,
    created_after: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    expires_after: AwareDatetime | None = None,
    expires_before: AwareDatetime | None = None,
    sort: TokenSort = TokenSort.CREATED,
    order: SortOrder = SortOrder.ASC,
    page: Annotated[int, Query(ge=0, le=limits.MAX_PAGE)] = 0,
    limit: Annotated[int, Query(ge=1, le=limits.MAX_PAGE_SIZE)] = 50,
) -> TokenPage:
    query = TokenQuery(
        types=tuple(type) if type else None,
        principals=tuple(principal) if principal else None,
        owner=owner,
        user=user,
        role=role,
        active=active,
        expired=expired,
        name_contains=name,
        created_after=created_after,
        created_before=created_before,
        expires_after=expires_after,
        expires_before=expires_before,
        sort=sort,
        order=order,
    )
    found = tokens.search(core, actor, tenant=tenant, query=query, page=PageRequest(page, limit))
    now = core.clock()
    return TokenPage(
        items=[TokenPublic.of(t, now) for t in found.items],
        total=found.total,
        page=found.page,
        limit=limit,
    )


@router.get(
    "/v1/tenants/{tenant}/tokens/{token_id}",
    tags=["tokens"],
    summary="Get a token",
    description="The token's metadata; never its secret.",
    responses=_errors(*_ONE_TOKEN),
)
def get_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> TokenPublic:
    return TokenPublic.of(tokens.get(core, actor, tenant=tenant, token_id=token_id), core.clock())


@router.patch(
    "/v1/tenants/{tenant}/tokens/{token_id}",
    tags=["tokens"],
    summary="Change a token",
    description="Only the fields present change; `expires_at: null` makes the token permanent. "
    "The result is never more powerful than the caller.",
    responses=_errors(*_ONE_TOKEN, 400, 403, 413, notes={400: _BAD_FIELDS, 403: _ESCALATION}),
)
def update_token(
    tenant: str, token_id: TokenId, body: TokenUpdate, core: CoreDep, actor: ActorDep
) -> TokenPublic:
    given = {name: getattr(body, name) for name in body.model_fields_set}
    for key in ("scopes", "audience", "resources", "ip_allowlist"):
        if given.get(key) is not None:
            given[key] = tuple(given[key])
    if given.get("rate_limits") is not None:
        given["rate_limits"] = tuple(rate.domain() for rate in body.rate_limits or ())
    if body.credits is not None:
        given["credits"] = body.credits.domain()
    changed = tokens.update(
        core, actor, tenant=tenant, token_id=token_id, changes=TokenChanges(**given)
    )
    return TokenPublic.of(changed, core.clock())


@router.delete(
    "/v1/tenants/{tenant}/tokens/{token_id}",
    status_code=204,
    tags=["tokens"],
    summary="Delete a token",
    description="Its secret stops verifying at once.",
    responses=_errors(*_ONE_TOKEN, 403),
)
def delete_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> Response:
    tokens.delete(core, actor, tenant=tenant, token_id=token_id)
    return Response(status_code=204)


@router.post(
    "/v1/tenants/{tenant}/tokens/{token_id}/enable",
    tags=["tokens"],
    summary="Enable a token",
    description="Idempotent. An enabled token verifies again, unless it has expired.",
    responses=_errors(*_ONE_TOKEN, 403, notes={403: _ESCALATION}),
)
def enable_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> TokenPublic:
    token = tokens.enable(core, actor, tenant=tenant, token_id=token_id)
    return TokenPublic.of(token, core.clock())


@router.post(
    "/v1/tenants/{tenant}/tokens/{token_id}/disable",
    tags=["tokens"],
    summary="Disable a token",
    description="Idempotent. A disabled token verifies as `DISABLED` until it is enabled.",
    responses=_errors(*_ONE_TOKEN, 403),
)
def disable_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> TokenPublic:
    token = tokens.disable(core, actor, tenant=tenant, token_id=token_id)
    return TokenPublic.of(token, core.clock())


@router.post(
    "/v1/tenants/{tenant}/tokens/{token_id}/rotate",
    tags=["tokens"],
    summary="Give a token a new secret",
    description="Answers the token with its new `secret`. The old secret keeps verifying for "
    "`grace_seconds` (0 to 30 days; 0, the default, stops it at once).",
    responses=_errors(*_ONE_TOKEN, 400, 403, 413, notes={403: _ESCALATION}),
)
def rotate_token(
    tenant: str,
    token_id: TokenId,
    core: CoreDep,
    actor: ActorDep,
    body: RotateRequest | None = None,
) -> TokenWithSecret:
    grace = body.grace_seconds if body else 0
    issued = tokens.rotate(core, actor, tenant=tenant, token_id=token_id, grace_seconds=grace)
    return _with_secret(issued, core)


@router.post(
    "/v1/tenants/{tenant}/tokens/{token_id}/credits",
    tags=["tokens"],
    summary="Set or add to a token's credits",
    description='`{"set": n}` or `{"add": n}`; audited as `token.credits`. Lowering the '
    "balance is an editor's; raising it needs the right to mint the token with the raised "
    "balance. `set` gives a token without credits a balance; `add` to one answers 409 "
    "`NO_CREDITS`.",
    responses=_errors(*_ONE_TOKEN, 400, 403, 409, 413, notes={403: _ESCALATION}),
)
def adjust_credits(
    tenant: str, token_id: TokenId, body: CreditsAdjust, core: CoreDep, actor: ActorDep
) -> TokenPublic:
    token = tokens.adjust_credits(
        core, actor, tenant=tenant, token_id=token_id, set_to=body.set, add=body.add
    )
    return TokenPublic.of(token, core.clock())


@contextlib.contextmanager
def _span_errors() -> Iterator[None]:
    """A span the service refuses is a bad query parameter: 422, as every read answers."""
    try:
        yield
    except Invalid as exc:
        raise RequestValidationError(
            [{"loc": ("query", "since"), "msg": exc.message, "type": "value_error"}]
        ) from exc


UsageBucketName = Annotated[Literal["hour", "day"], Query(description="hour or day")]


@router.get(
    "/v1/tenants/{tenant}/tokens/{token_id}/usage",
    tags=["usage"],
    summary="A token's verifications per hour or day",
    description="Counts per bucket and verification code, in [`since`, `until`) (default: the "
    "last 24 hours, or 30 days by day). Each server writes its counts every few seconds "
    "(`TOKENWARD_USAGE_FLUSH_SECONDS`); buckets without verifications are left out.",
    responses=_errors(*_ONE_TOKEN),
)
def token_usage(
    tenant: str,
    token_id: TokenId,
    core: CoreDep,
    actor: ActorDep,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    bucket: UsageBucketName = "hour",
) -> TokenUsagePublic:
    with _span_errors():
        found = usage.of_token(
            core, actor, tenant=tenant, token_id=token_id, since=since, until=until, bucket=bucket
        )
    return TokenUsagePublic(
        buckets=[UsageBucketPublic(start=b.start, counts=b.counts) for b in found]
    )


@router.get(
    "/v1/tenants/{tenant}/usage",
    tags=["usage"],
    summary="A tenant's verifications per hour or day, and its most verified tokens",
    description="The totals of the tenant's tokens per bucket and code, in [`since`, `until`), "
    "and its ten most verified tokens over the span; as for one token's usage.",
    responses=_errors(*_AUTHENTICATED, 404, 422),
)
def tenant_usage(
    tenant: str,
    core: CoreDep,
    actor: ActorDep,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    bucket: UsageBucketName = "hour",
) -> TenantUsagePublic:
    with _span_errors():
        found = usage.of_tenant(core, actor, tenant=tenant, since=since, until=until, bucket=bucket)
    return TenantUsagePublic(
        buckets=[UsageBucketPublic(start=b.start, counts=b.counts) for b in found.buckets],
        top_tokens=[TopToken(id=tid, verifications=n) for tid, n in found.top_tokens],
    )


@router.get(
    "/v1/tenants/{tenant}/tokens/{token_id}/secret",
    tags=["tokens"],
    summary="Reveal a recoverable token's secret",
    description="For a token created `recoverable`, whose secret is kept sealed. An admin of "
    "the token's tenant, root, or the token's owner may reveal it; every reveal is audited.",
    responses=_errors(
        *_ONE_TOKEN,
        403,
        409,
        500,
        notes={409: "`NOT_RECOVERABLE`: the token was not created recoverable"},
    ),
)
def reveal_secret(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> SecretReveal:
    secret = tokens.reveal(core, actor, tenant=tenant, token_id=token_id)
    return SecretReveal(id=token_id, secret=secret)


@router.post(
    "/v1/verify",
    tags=["verification"],
    summary="Verify a token",
    description="Answers 200 for every verdict: `valid`, the reason `code` (`VALID`, "
    "`MALFORMED`, `NOT_FOUND`, `DISABLED`, `EXPIRED`, `AUDIENCE_MISMATCH`, "
    "`INSUFFICIENT_SCOPE`, `RESOURCE_DENIED`) and the token's metadata when the secret was "
    "found. Open unless the server sets `TOKENWARD_VERIFY_REQUIRES_AUTH`; then it needs a "
    "credential like the management calls.",
    responses=_errors(
        400,
        401,
        413,
        422,
        503,
        notes={
            400: "`MALFORMED_JSON`: the body is not JSON",
            401: "`UNAUTHENTICATED`: only when `TOKENWARD_VERIFY_REQUIRES_AUTH` is set and the "
            "credential identifies no caller",
        },
    ),
)
def verify_token(body: VerifyRequest, credentials: CredentialDep) -> VerifyResponse:
    """Declared for the OpenAPI document only (the body, the answer, the optional Bearer
    credential): ``fast_verify.VerifyFastPath``, which ``create_app`` puts in front of the
    app, answers every ``POST /v1/verify`` before routing, so this is unreachable by design."""
    raise AssertionError("POST /v1/verify is answered by api.native.fast_verify")


@router.get(
    "/v1/audit",
    tags=["audit"],
    summary="Read the audit trail",
    description="Newest first. Admins read their tenant's records, root every tenant's.",
    responses=_errors(
        *_AUTHENTICATED,
        403,
        404,
        422,
        notes={
            403: "`FORBIDDEN`: the audit trail needs the admin role",
            404: "`NOT_FOUND`: `tenant` names another tenant",
        },
    ),
)
def list_audit(
    core: CoreDep,
    actor: ActorDep,
    tenant: str | None = None,
    actor_name: Annotated[str | None, Query(alias="actor")] = None,
    action: str | None = None,
    token_id: Annotated[int | None, Query(ge=1, le=limits.MAX_TOKEN_ID)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    page: Annotated[int, Query(ge=0, le=limits.MAX_PAGE)] = 0,
    limit: Annotated[int, Query(ge=1, le=limits.MAX_PAGE_SIZE)] = 50,
) -> AuditPage:
    query = AuditQuery(
        tenant=tenant,
        actor=actor_name,
        action=action,
        token_id=token_id,
        since=since,
        until=until,
    )
    found = audit.search(core, actor, query=query, page=PageRequest(page, limit))
    return AuditPage(
        items=[AuditPublic.of(r) for r in found.items],
        total=found.total,
        page=found.page,
        limit=limit,
    )


@router.get(
    "/healthz",
    tags=["health"],
    summary="Liveness",
    description="200 while the process serves; reads nothing.",
)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["health"],
    summary="Readiness",
    description=(
        "200 when the database answers, is migrated, and can take writes, and the process is "
        "not draining before it stops."
    ),
    responses=_errors(
        503,
        notes={
            503: "`NOT_READY`: the database is unreachable, read-only or out of disk, or the "
            "process is draining after `SIGTERM`"
        },
    ),
)
def readyz(request: Request, core: CoreDep) -> JSONResponse:
    if draining.active():  # asked first: a draining process must leave rotation regardless
        return error_response(request, 503, "NOT_READY", "the server is draining to stop")
    reason = health.not_ready(core)
    if reason is None:
        return JSONResponse({"status": "ready"})
    return error_response(request, 503, "NOT_READY", reason)
