"""Query's ``/_/token`` endpoint (docs/compat/query.md): tokens identified by name, admin only.

Tokens live in the caller's tenant (root acts in ``default``). Every handler authenticates and
checks the admin role before it reads the body, as the product does, so a caller without a
credential learns nothing about what the endpoint accepts.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from tokenward.api.dependencies import ActorDep, CoreDep
from tokenward.api.dialects.query.errors import translate
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
from tokenward.api.routing import RawBody, face_route, request_body_doc
from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import UNSET, PageRequest, TokenChanges, TokenQuery, TokenSpec
from tokenward.service import tokens

router = APIRouter(route_class=face_route(translate), tags=["query"])

PATH = "/_/token"
VALUE_PATH = "/_/token/value"

Model = TypeVar("Model", bound=BaseModel)


def _admin(actor: ActorDep) -> Actor:
    policy.require_role(actor, Role.ADMIN, "managing tokens through /_/token")
    return actor


# Declared in this order in every handler: the credential is checked before the body is read.
AdminDep = Annotated[Actor, Depends(_admin)]


def _parse(model: type[Model], raw: bytes) -> Model:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad input (text/plain)"},
    401: {"description": "Missing or invalid credential (empty body)"},
    403: {"description": "The caller is not an admin (text/plain)"},
    409: {"description": "The name is taken, or names two tokens (text/plain)"},
}


@router.post(PATH, status_code=201, responses=_ERRORS, openapi_extra=request_body_doc(TokenCreate))
def create_token(actor: AdminDep, raw: RawBody, core: CoreDep) -> TokenValueList:
    body = _parse(TokenCreate, raw)
    spec = TokenSpec(
        name=body.name,
        role=role_for(True if body.write is None else body.write),
        active=True if body.active is None else body.active,
        expires_at=None if body.expiration_date is None else expiry_of(body.expiration_date),
        # `/value` shows the secret again, so it is kept sealed under the server's key.
        recoverable=True,
    )
    issued = tokens.issue(core, actor, tenant=actor.home_tenant, spec=spec, unique_name=True)
    return TokenValueList.of(issued.secret)


@router.get(PATH, responses=_ERRORS)
def list_tokens(actor: AdminDep, core: CoreDep) -> TokenList:
    found = tokens.search(
        core, actor, tenant=actor.home_tenant, query=TokenQuery(), page=PageRequest(0, None)
    )
    return TokenList(data=[TokenPublic.of(t) for t in found.items])


@router.put(
    PATH,
    responses={**_ERRORS, 404: {"description": "No token of that name (text/plain)"}},
    openapi_extra=request_body_doc(TokenUpdate),
)
def update_token(actor: AdminDep, raw: RawBody, core: CoreDep) -> TokenValueList:
    """Changes the given fields, then issues a new secret, as the product does on every update."""
    body = _parse(TokenUpdate, raw)
    tenant = actor.home_tenant
    token = tokens.find_by_name(core, actor, tenant=tenant, name=body.name)
    if token is None:
        raise NotFound("token not found")
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
    body = _parse(TokenDelete, raw)
    tenant = actor.home_tenant
    token = tokens.find_by_name(core, actor, tenant=tenant, name=body.name)
    if token is not None:
        # Deleted by someone else meanwhile: the same as never there, which is a 200 too.
        with contextlib.suppress(NotFound):
            tokens.delete(core, actor, tenant=tenant, token_id=token.id)
    return Response(status_code=200)


@router.get(VALUE_PATH, responses=_ERRORS)
def token_value(actor: AdminDep, core: CoreDep, name: Annotated[str, Query()]) -> TokenValueList:
    tenant = actor.home_tenant
    token = tokens.find_by_name(core, actor, tenant=tenant, name=name)
    if token is None:
        return TokenValueList.of(None)
    return TokenValueList.of(tokens.reveal(core, actor, tenant=tenant, token_id=token.id))


def _method_not_allowed(allow: str) -> Response:
    return Response(status_code=405, headers={"Allow": allow})


# Without these, another method on these paths would get the native face's JSON 405.
@router.api_route(PATH, methods=["PATCH", "OPTIONS"], include_in_schema=False, status_code=405)
def token_other_method() -> Response:
    return _method_not_allowed("GET, POST, PUT, DELETE")


@router.api_route(
    VALUE_PATH,
    methods=["POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
    status_code=405,
)
def value_other_method() -> Response:
    return _method_not_allowed("GET")
