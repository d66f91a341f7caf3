"""Boomerang Flow's token API: create, delete and query under /api/v2/token.

As tokenward speaks it: docs/compat/boomerang.md. Tokens live in the caller's tenant (root acts
in ``default``). The product's document says "no authorization required"; the product requires
it and so does tokenward: every handler authenticates before it reads anything else, so a
caller without a credential learns nothing about what is accepted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from tokenward.api.dependencies import ActorDep, CoreDep
from tokenward.api.dialects.boomerang.errors import METHOD_NOT_ALLOWED, error_response, translate
from tokenward.api.dialects.boomerang.schemas import (
    SECRET_PREFIXES,
    PageToken,
    TokenCreateRequest,
    TokenCreateResponse,
    parse_create,
    parse_search,
)
from tokenward.api.routing import RawBody, face_route, request_body_doc
from tokenward.domain import limits
from tokenward.domain.errors import NotFound
from tokenward.service import tokens

router = APIRouter(route_class=face_route(translate), tags=["boomerang"])

PATH = "/api/v2/token"
ID_PATH = "/api/v2/token/{id}"
QUERY_PATH = "/api/v2/token/query"


# A string, as the product's is: whatever is not one of the store's ids is an unknown token.
TokenIdPath = Annotated[str, Path(alias="id", description="ID of the Token")]


def _error(description: str) -> dict[str, Any]:
    return {"description": f"{description} (timestamp, code, reason, message, status)"}


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or invalid credential: 401 UNAUTHORIZED"),
    403: _error("The caller may not do this: 403 PERMISSION_DENIED"),
}


@router.post(
    PATH,
    summary="Create Token",
    responses={
        **_ERRORS,
        400: _error(
            "1010 TOKEN_INVALID_REQ, 1011 TOKEN_INVALID_SESSION_REQ, 1012 TOKEN_INVALID_PERMISSION"
        ),
    },
    openapi_extra=request_body_doc(TokenCreateRequest),
)
def create_token(actor: ActorDep, raw: RawBody, core: CoreDep) -> TokenCreateResponse:
    spec = parse_create(raw)
    issued = tokens.issue(
        core, actor, tenant=actor.home_tenant, spec=spec, secret_prefix=SECRET_PREFIXES[spec.type]
    )
    return TokenCreateResponse.of(issued.token, issued.secret)


@router.get(
    QUERY_PATH,
    summary="Search for Tokens",
    responses={**_ERRORS, 400: _error("1001 QUERY_INVALID_FILTERS")},
)
def query_tokens(
    actor: ActorDep,
    core: CoreDep,
    types: Annotated[
        list[str] | None,
        Query(description="session, user, team, workflow, global; comma-separated or repeated"),
    ] = None,
    principals: Annotated[
        list[str] | None,
        Query(description="Comma-separated or repeated; never matches a global token"),
    ] = None,
    limit: Annotated[str | None, Query(description="Page size; absent: every match")] = None,
    page: Annotated[str | None, Query(description="Page number, from 0")] = None,
    order: Annotated[str | None, Query(description="ASC (default) or DESC")] = None,
    sort: Annotated[
        str | None, Query(description="creationDate (default), expirationDate or name")
    ] = None,
    from_date: Annotated[
        str | None, Query(alias="fromDate", description="Created at or after, epoch ms")
    ] = None,
    to_date: Annotated[
        str | None, Query(alias="toDate", description="Created before, epoch ms")
    ] = None,
) -> PageToken:
    search = parse_search(
        types=types,
        principals=principals,
        limit=limit,
        page=page,
        order=order,
        sort=sort,
        from_date=from_date,
        to_date=to_date,
    )
    found = tokens.search(
        core, actor, tenant=actor.home_tenant, query=search.query, page=search.page
    )
    return PageToken.of(found, core.clock())


@router.delete(
    ID_PATH,
    summary="Delete Token",
    responses={
        **_ERRORS,
        200: {"description": "Deleted; empty body"},
        400: {"description": "No such token in the caller's tenant; empty body"},
    },
)
def delete_token(token_id: TokenIdPath, actor: ActorDep, core: CoreDep) -> Response:
    number = limits.token_id_of(token_id)
    if number is None:
        return Response(status_code=400)
    try:
        tokens.delete(core, actor, tenant=actor.home_tenant, token_id=number)
    except NotFound:
        # The product answers an unknown id with an empty 400; another tenant's token is
        # answered the same way, so the answer tells nothing about other tenants.
        return Response(status_code=400)
    return Response(status_code=200)


def _method_not_allowed(allow: str) -> Response:
    response = error_response(METHOD_NOT_ALLOWED, "this method is not supported here")
    response.headers["Allow"] = allow
    return response


# Without these, another method on these paths would get the native face's error body.
# Declared after the query route, which the `{id}` pattern would otherwise swallow.
@router.api_route(
    PATH, methods=["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
)
def token_other_method() -> Response:
    return _method_not_allowed("POST")


@router.api_route(
    ID_PATH, methods=["GET", "POST", "PUT", "PATCH", "HEAD", "OPTIONS"], include_in_schema=False
)
def token_id_other_method(token_id: TokenIdPath) -> Response:
    return _method_not_allowed("GET" if f"{PATH}/{token_id}" == QUERY_PATH else "DELETE")
