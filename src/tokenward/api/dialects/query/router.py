"""Query's ``/_/token`` endpoint (docs/compat/query.md): tokens identified by name, admin only.

Tokens live in the caller's tenant (root acts in ``default``). Every handler authenticates and
checks the admin role before it reads the body, as the product does, so a caller without a
credential learns nothing about what the endpoint accepts.

In the product this API manages API tokens and never its admins' credentials; tokenward's
admin credentials are its management tokens (audience ``tokenward``), so those are outside this
face: not listed, not found by name, never changed, deleted or revealed here.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from tokenward.api.dependencies import CoreDep, authenticate, bearer
from tokenward.api.dialects.query.errors import NOT_FOUND_TEXT, translate
from tokenward.api.dialects.query.schemas import (
    TokenCreate,
    TokenDelete,
    TokenList,
    TokenPublic,
    TokenUpdate,
    TokenValueList,
    expiry_of,
    is_write,
    role_for,
)
from tokenward.api.routing import RawBody, face_route, json_body, request_body_doc
from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Forbidden, NotFound, Unauthenticated
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    UNSET,
    PageRequest,
    Token,
    TokenChanges,
    TokenQuery,
    TokenSpec,
)
from tokenward.service import tokens
from tokenward.service.core import Core

# `bearer` only documents the scheme in OpenAPI; `_actor` reads the header as the product does.
router = APIRouter(
    route_class=face_route(translate), tags=["query"], dependencies=[Depends(bearer)]
)

PATH = "/_/token"
VALUE_PATH = "/_/token/value"


async def _actor(request: Request) -> Actor:
    """The credential is the second word of ``Authorization`` whatever the first one says, as
    the product reads it (its ``get_token``): ``Bearer <t>``, ``Token <t>`` alike."""
    words = request.headers.get("authorization", "").split(" ")
    return await authenticate(request, words[1] if len(words) > 1 and words[1] else None)


def _admin(actor: Annotated[Actor, Depends(_actor)]) -> Actor:
    try:
        policy.require_role(actor, Role.ADMIN, "managing tokens through /_/token")
    except Forbidden:
        # The product answers a credential that is not an admin's with the same empty 401 as
        # a missing one (its validate_is_admin.hurl and validate_is_no_admin.hurl).
        raise Unauthenticated("an admin credential is required") from None
    return actor


# Declared in this order in every handler: the credential is checked before the body is read.
AdminDep = Annotated[Actor, Depends(_admin)]


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad input (text/plain)"},
    401: {"description": "Missing or invalid credential, or not an admin's (empty body)"},
    403: {"description": "An expiring admin minting past its own expiry (text/plain)"},
    409: {"description": "The name is taken, or names two tokens (text/plain)"},
}


@router.post(PATH, status_code=201, responses=_ERRORS, openapi_extra=request_body_doc(TokenCreate))
def create_token(actor: AdminDep, raw: RawBody, core: CoreDep) -> TokenValueList:
    body = json_body(TokenCreate, raw)
    spec = TokenSpec(
        name=body.name,
        role=role_for(True if body.write is None else body.write),
        active=True if body.active is None else body.active,
        expires_at=None if body.expiration_date is None else expiry_of(body.expiration_date),
        # `/value` shows the secret again, so it is kept sealed under the server's key.
        recoverable=True,
    )
    # A management token's name is not taken here: this face does not see those tokens, and a
    # 409 would tell that one of that name exists.
    issued = tokens.issue(
        core,
        actor,
        tenant=actor.home_tenant,
        spec=spec,
        unique_name=True,
        excluding_audience=policy.MANAGEMENT_AUDIENCE,
    )
    return TokenValueList.of(issued.secret)


@router.get(PATH, responses=_ERRORS)
def list_tokens(actor: AdminDep, core: CoreDep) -> TokenList:
    found = tokens.search(
        core, actor, tenant=actor.home_tenant, query=TokenQuery(), page=PageRequest(0, None)
    )
    return TokenList(data=[TokenPublic.of(t) for t in found.items if not _management(t)])


def _management(token: Token) -> bool:
    return policy.MANAGEMENT_AUDIENCE in token.audience


def _named(core: Core, actor: Actor, name: str) -> Token | None:
    """The token of that name that this face may reach; management tokens are not there."""
    return tokens.find_by_name(
        core,
        actor,
        tenant=actor.home_tenant,
        name=name,
        excluding_audience=policy.MANAGEMENT_AUDIENCE,
    )


@router.put(
    PATH,
    responses={**_ERRORS, 404: {"description": "No token of that name (text/plain)"}},
    openapi_extra=request_body_doc(TokenUpdate),
)
def update_token(actor: AdminDep, raw: RawBody, core: CoreDep) -> TokenValueList:
    """Changes the given fields, then issues a new secret, as the product does on every update."""
    body = json_body(TokenUpdate, raw)
    tenant = actor.home_tenant
    token = _named(core, actor, body.name)
    if token is None:
        raise NotFound("token not found", resource="token")
    changes = TokenChanges(
        expires_at=(UNSET if body.expiration_date is None else expiry_of(body.expiration_date)),
        # An admin token stays admin under `write: true`: it already writes.
        role=(
            UNSET
            if body.write is None or body.write == is_write(token.role)
            else role_for(body.write)
        ),
        active=UNSET if body.active is None else body.active,
    )
    issued = tokens.update_and_rotate(
        core, actor, tenant=tenant, token_id=token.id, changes=changes
    )
    return TokenValueList.of(issued.secret)


@router.delete(PATH, responses=_ERRORS, openapi_extra=request_body_doc(TokenDelete))
def delete_token(actor: AdminDep, raw: RawBody, core: CoreDep) -> Response:
    body = json_body(TokenDelete, raw)
    tenant = actor.home_tenant
    token = _named(core, actor, body.name)
    if token is not None:
        # Deleted by someone else meanwhile: the same as never there, which is a 200 too.
        with contextlib.suppress(NotFound):
            tokens.delete(core, actor, tenant=tenant, token_id=token.id)
    return Response(status_code=200)


@router.get(VALUE_PATH, responses=_ERRORS)
def token_value(actor: AdminDep, core: CoreDep, name: Annotated[str, Query()]) -> TokenValueList:
    tenant = actor.home_tenant
    token = _named(core, actor, name)
    if token is None:
        return TokenValueList.of(None)
    return TokenValueList.of(tokens.reveal(core, actor, tenant=tenant, token_id=token.id))


def _not_found() -> Response:
    return Response(NOT_FOUND_TEXT, status_code=404, media_type="text/plain")


# The product answers every other method on its paths with its not-found (before looking at
# the credential); without these, the native face's JSON 405 would answer.
@router.api_route(PATH, methods=["PATCH", "OPTIONS"], include_in_schema=False, status_code=404)
def token_other_method() -> Response:
    return _not_found()


@router.api_route(
    VALUE_PATH,
    methods=["POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
    status_code=404,
)
def value_other_method() -> Response:
    return _not_found()
