"""Handlers of the native API: parse the wire model, call one use case, build the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from tokenward.api.dependencies import ActorDep, CoreDep, CredentialDep, client_address, get_core
from tokenward.api.native.errors import error_response, translate
from tokenward.api.native.schemas import (
    AuditPage,
    AuditPublic,
    ErrorBody,
    RotateRequest,
    SecretReveal,
    TenantCreate,
    TenantList,
    TenantPublic,
    TokenCreate,
    TokenPage,
    TokenPublic,
    TokenUpdate,
    TokenWithSecret,
    VerifyRequest,
    VerifyResponse,
)
from tokenward.api.routing import face_route
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditQuery
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
from tokenward.service import audit, health, tenants, tokens, verification
from tokenward.service.core import Core

router = APIRouter(route_class=face_route(translate))

#: Ids are positive 64-bit integers, the store's range; a larger number would overflow the
#: database driver, so it is refused with 422 like any other malformed parameter.
MAX_ID = 2**63 - 1
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad input"},
    401: {"model": ErrorBody, "description": "Missing or invalid credential"},
    403: {"model": ErrorBody, "description": "The caller may not do this"},
    404: {"model": ErrorBody, "description": "Not found (or not visible to the caller)"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state"},
    413: {"model": ErrorBody, "description": "Body larger than TOKENWARD_MAX_BODY_BYTES"},
    422: {"model": ErrorBody, "description": "Wrong types, unknown fields, bad parameters"},
    503: {"model": ErrorBody, "description": "The database cannot be reached"},
}


def _with_secret(issued: IssuedToken, core: Core) -> TokenWithSecret:
    public = TokenPublic.of(issued.token, core.clock())
    return TokenWithSecret(**public.model_dump(), secret=issued.secret)


@router.post("/v1/tenants", status_code=201, tags=["tenants"], responses=_ERRORS)
def create_tenant(body: TenantCreate, core: CoreDep, actor: ActorDep) -> TenantPublic:
    return TenantPublic.of(tenants.create(core, actor, name=body.name))


@router.get("/v1/tenants", tags=["tenants"], responses=_ERRORS)
def list_tenants(core: CoreDep, actor: ActorDep) -> TenantList:
    return TenantList(items=[TenantPublic.of(t) for t in tenants.list_all(core, actor)])


@router.get("/v1/tenants/{tenant}", tags=["tenants"], responses=_ERRORS)
def get_tenant(tenant: str, core: CoreDep, actor: ActorDep) -> TenantPublic:
    return TenantPublic.of(tenants.get(core, actor, name=tenant))


@router.delete("/v1/tenants/{tenant}", status_code=204, tags=["tenants"], responses=_ERRORS)
def delete_tenant(tenant: str, core: CoreDep, actor: ActorDep) -> Response:
    tenants.delete(core, actor, name=tenant)
    return Response(status_code=204)


@router.post("/v1/tenants/{tenant}/tokens", status_code=201, tags=["tokens"], responses=_ERRORS)
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
        recoverable=body.recoverable,
        metadata=body.metadata,
    )
    issued = tokens.issue(core, actor, tenant=tenant, spec=spec, owner=body.owner)
    return _with_secret(issued, core)


@router.get("/v1/tenants/{tenant}/tokens", tags=["tokens"], responses=_ERRORS)
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
    page: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=tokens.MAX_PAGE_SIZE)] = 50,
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


@router.get("/v1/tenants/{tenant}/tokens/{token_id}", tags=["tokens"], responses=_ERRORS)
def get_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> TokenPublic:
    return TokenPublic.of(tokens.get(core, actor, tenant=tenant, token_id=token_id), core.clock())


@router.patch("/v1/tenants/{tenant}/tokens/{token_id}", tags=["tokens"], responses=_ERRORS)
def update_token(
    tenant: str, token_id: TokenId, body: TokenUpdate, core: CoreDep, actor: ActorDep
) -> TokenPublic:
    given = {name: getattr(body, name) for name in body.model_fields_set}
    for key in ("scopes", "audience", "resources"):
        if given.get(key) is not None:
            given[key] = tuple(given[key])
    changed = tokens.update(
        core, actor, tenant=tenant, token_id=token_id, changes=TokenChanges(**given)
    )
    return TokenPublic.of(changed, core.clock())


@router.delete(
    "/v1/tenants/{tenant}/tokens/{token_id}", status_code=204, tags=["tokens"], responses=_ERRORS
)
def delete_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> Response:
    tokens.delete(core, actor, tenant=tenant, token_id=token_id)
    return Response(status_code=204)


@router.post("/v1/tenants/{tenant}/tokens/{token_id}/enable", tags=["tokens"], responses=_ERRORS)
def enable_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> TokenPublic:
    token = tokens.enable(core, actor, tenant=tenant, token_id=token_id)
    return TokenPublic.of(token, core.clock())


@router.post("/v1/tenants/{tenant}/tokens/{token_id}/disable", tags=["tokens"], responses=_ERRORS)
def disable_token(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> TokenPublic:
    token = tokens.disable(core, actor, tenant=tenant, token_id=token_id)
    return TokenPublic.of(token, core.clock())


@router.post("/v1/tenants/{tenant}/tokens/{token_id}/rotate", tags=["tokens"], responses=_ERRORS)
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


@router.get("/v1/tenants/{tenant}/tokens/{token_id}/secret", tags=["tokens"], responses=_ERRORS)
def reveal_secret(tenant: str, token_id: TokenId, core: CoreDep, actor: ActorDep) -> SecretReveal:
    secret = tokens.reveal(core, actor, tenant=tenant, token_id=token_id)
    return SecretReveal(id=token_id, secret=secret)


@router.post("/v1/verify", tags=["verification"], responses=_ERRORS)
def verify_token(
    body: VerifyRequest, request: Request, core: CoreDep, credentials: CredentialDep
) -> VerifyResponse:
    result = verification.verify(
        core,
        body.token,
        audience=body.audience,
        scopes=body.scopes,
        resource=body.resource,
        credential=credentials.credentials if credentials else None,
        client=client_address(request),
    )
    token = None if result.token is None else TokenPublic.of(result.token, core.clock())
    return VerifyResponse(valid=result.valid, code=result.code, token=token)


@router.get("/v1/audit", tags=["audit"], responses=_ERRORS)
def list_audit(
    core: CoreDep,
    actor: ActorDep,
    tenant: str | None = None,
    actor_name: Annotated[str | None, Query(alias="actor")] = None,
    action: str | None = None,
    token_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    page: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=tokens.MAX_PAGE_SIZE)] = 50,
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


@router.get("/healthz", tags=["health"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["health"],
    responses={503: {"description": "Database unreachable, read-only or out of disk space"}},
)
def readyz(request: Request, core: CoreDep) -> JSONResponse:
    reason = health.not_ready(core)
    if reason is None:
        return JSONResponse({"status": "ready"})
    return error_response(request, 503, "NOT_READY", reason)
