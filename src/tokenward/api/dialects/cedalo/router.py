"""Cedalo's project tokens: ``/api/projects/{projectId}/tokens``; the project is the tenant.

Each handler parses the product's body, calls the token use cases, and answers in the
product's shape; every error leaves through ``errors.translate`` in the product's format.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from tokenward.api.dependencies import ActorDep, CoreDep
from tokenward.api.dialects.cedalo.errors import error_response, translate
from tokenward.api.dialects.cedalo.schemas import (
    CedaloError,
    CedaloToken,
    CedaloTokenCreate,
    CedaloTokenCreated,
)
from tokenward.api.routing import RawBody, face_route, json_body, request_body_doc
from tokenward.domain import limits, policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Forbidden, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import PageRequest, TokenSpec
from tokenward.service import tokens

router = APIRouter(route_class=face_route(translate), tags=["cedalo"])

BASE = "/api/projects/{projectId}/tokens"

ProjectId = Annotated[str, Path(alias="projectId", description="The project: a tenant")]
TokenId = Annotated[str, Path(alias="tokenId", description="A token id")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": CedaloError, "description": "Invalid request (code INVALID)"},
    401: {"model": CedaloError, "description": "Unauthorized request (code UNAUTHORIZED)"},
    403: {"model": CedaloError, "description": "Request is not allowed (code NOT_ALLOWED)"},
    404: {"model": CedaloError, "description": "Project not found (code NOT_FOUND)"},
    500: {"model": CedaloError, "description": "Internal server error (code INTERNAL_ERROR)"},
}
_CREATE_ERRORS = {
    **_ERRORS,
    409: {"model": CedaloError, "description": "Name taken in the project (code CONFLICT)"},
    413: {"model": CedaloError, "description": "Body too large (code PAYLOAD_TOO_LARGE)"},
}


@router.get(BASE, responses=_ERRORS, summary="List the project's tokens")
def list_tokens(project_id: ProjectId, core: CoreDep, actor: ActorDep) -> list[CedaloToken]:
    # The product's list is not paged: every token of the project, oldest first.
    found = tokens.search(core, actor, tenant=project_id, page=PageRequest(0, None))
    show_hash = _handles_secrets(actor)
    return [CedaloToken.of(token, show_hash=show_hash) for token in found.items]


def _handles_secrets(actor: Actor) -> bool:
    """Whether the list shows each token's full SHA-256. The product documents ``hash`` only
    on the created token, which only an editor or an admin receives; a viewer handles no
    secrets, and a hash lets whoever holds a candidate secret confirm offline that it is a
    live credential of the project, and which. So a viewer's list has ``hash: null``."""
    try:
        policy.require_role(actor, Role.EDITOR, "seeing the hashes of secrets")
    except Forbidden:
        return False
    return True


@router.post(
    BASE,
    responses=_CREATE_ERRORS,
    summary="Create a project token",
    openapi_extra=request_body_doc(CedaloTokenCreate),
)
def create_token(
    project_id: ProjectId, core: CoreDep, actor: ActorDep, raw: RawBody
) -> CedaloTokenCreated:
    body = json_body(CedaloTokenCreate, raw)
    spec = TokenSpec(
        name=body.name,
        role=Role(body.role),
        resources=tuple(body.brokers),
        restricted=body.restricted,
        expires_at=body.valid_date,
    )
    # Names identify tokens in the product, so a taken name is refused (409), not repeated.
    issued = tokens.issue(core, actor, tenant=project_id, spec=spec, unique_name=True)
    return CedaloTokenCreated.issued(issued)


@router.delete(f"{BASE}/{{tokenId}}", responses=_ERRORS, summary="Delete a project token")
def delete_token(project_id: ProjectId, token_id: TokenId, core: CoreDep, actor: ActorDep) -> bool:
    # A token the project does not hold is the product's false; a project that is missing,
    # or another tenant's, is a 404 (the service says which of the two is missing). An id
    # that does not parse is looked up as 0, which no token has, so that it answers alike.
    number = limits.token_id_of(token_id) or 0
    try:
        tokens.delete(core, actor, tenant=project_id, token_id=number)
    except NotFound as exc:
        if exc.resource == "tenant":
            raise
        return False
    return True


# Other methods on the face's paths answer 405 in the face's error format (without these
# routes the application's default, the native format, would answer).
@router.api_route(BASE, methods=["PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False)
def tokens_other_method(request: Request) -> Response:
    return error_response(request, 405, "method not allowed", headers={"Allow": "GET, POST"})


@router.api_route(
    f"{BASE}/{{tokenId}}",
    methods=["GET", "POST", "PUT", "PATCH", "OPTIONS"],
    include_in_schema=False,
)
def token_other_method(request: Request) -> Response:
    return error_response(request, 405, "method not allowed", headers={"Allow": "DELETE"})
