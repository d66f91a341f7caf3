"""Devo's account tokens: ``/v2/accounts/{accountName}/tokens``; the account is the tenant.

Each handler parses the product's body, calls the token use cases, and answers in the
product's shape; every error leaves through ``errors.translate`` in the product's format, and
every answer carries ``x-devo-cid``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match

from tokenward.api.dependencies import ActorDep, CoreDep
from tokenward.api.dialects.devo.errors import CID_HEADER, translate
from tokenward.api.dialects.devo.schemas import (
    PERMANENT,
    DevoError,
    DevoRename,
    DevoToken,
    DevoTokenCreate,
    DevoTokenWithSecret,
    masked,
)
from tokenward.api.routing import RawBody, face_route, json_body, request_body_doc, request_id
from tokenward.domain import limits
from tokenward.domain.tokens import PageRequest, TokenChanges, TokenSpec
from tokenward.service import tokens

_FaceRoute = face_route(translate)


class DevoRoute(_FaceRoute):  # type: ignore[misc,valid-type]
    """The face's route, which also stamps every answer, errors too, with ``x-devo-cid``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            response: Response = await handler(request)
            response.headers[CID_HEADER] = request_id(request)
            return response

        return handle


router = APIRouter(route_class=DevoRoute, tags=["devo"])

BASE = "/v2/accounts/{accountName}/tokens"
ONE = BASE + "/{tokenId}"

Account = Annotated[str, Path(alias="accountName", description="The account: a tenant")]
TokenIdText = Annotated[str, Path(alias="tokenId", description="The token's id, a number")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": DevoError, "description": "Bad request"},
    401: {"model": DevoError, "description": "Missing or invalid credential"},
    403: {"model": DevoError, "description": "The caller may not do this"},
    404: {"model": DevoError, "description": "No such account or token"},
    500: {"model": DevoError, "description": "Internal error"},
    # Also keeps FastAPI from listing a 422 this face never answers (validation is a 400).
    "4XX": {"model": DevoError, "description": "Any other client error, in the same body"},
}
_CREATE_ERRORS = {
    **_ERRORS,
    413: {"model": DevoError, "description": "Body too large"},
}


#: An id no token has (ids start at 1): what an id that does not parse is looked up as, so
#: that the service, in the call's own transaction, says whether the account or the token is
#: missing, as for any other id.
NO_TOKEN = 0


def _token_id(text: str) -> int:
    token_id = limits.token_id_of(text)
    return NO_TOKEN if token_id is None else token_id


@router.get(BASE, responses=_ERRORS, summary="List the account's tokens")
def list_tokens(account: Account, core: CoreDep, actor: ActorDep) -> list[DevoToken]:
    # The product's list is not paged: every token of the account, oldest first.
    found = tokens.search(core, actor, tenant=account, page=PageRequest(0, None))
    return [DevoToken.of(token) for token in found.items]


@router.get(ONE, responses=_ERRORS, summary="Get a token, with its secret", name="devo_get_token")
def get_token(
    account: Account, token_id: TokenIdText, core: CoreDep, actor: ActorDep
) -> DevoTokenWithSecret:
    token, secret = tokens.get_with_secret(
        core, actor, tenant=account, token_id=_token_id(token_id)
    )
    # Who is shown the secret is the service's rule (admins, and the token's owner or user,
    # within their own power); a token made elsewhere without a sealed copy has none to show.
    return DevoTokenWithSecret.revealed(token, masked(token) if secret is None else secret)


@router.post(
    BASE,
    status_code=201,
    responses=_CREATE_ERRORS,
    summary="Create a token",
    openapi_extra=request_body_doc(DevoTokenCreate),
)
def create_token(
    account: Account,
    request: Request,
    response: Response,
    core: CoreDep,
    actor: ActorDep,
    raw: RawBody,
) -> DevoTokenWithSecret:
    body = json_body(DevoTokenCreate, raw)
    spec = TokenSpec(
        name=body.token_name,
        user=body.user_name,
        scopes=body.scope_words,
        audience=body.audience or (),
        ttl_seconds=body.ttl_seconds,
        permanent=body.expires_in_seconds == PERMANENT,
        # Devo shows the secret again on GET: it is kept sealed, never in plaintext.
        recoverable=True,
    )
    issued = tokens.issue(core, actor, tenant=account, spec=spec, owner=body.owner_name)
    location = request.url_for("devo_get_token", accountName=account, tokenId=str(issued.token.id))
    response.headers["Location"] = str(location)
    return DevoTokenWithSecret.issued(issued)


@router.put(f"{ONE}/enable", responses=_ERRORS, summary="Enable a token")
def enable_token(
    account: Account, token_id: TokenIdText, core: CoreDep, actor: ActorDep
) -> DevoToken:
    token = tokens.enable(core, actor, tenant=account, token_id=_token_id(token_id))
    return DevoToken.of(token)


@router.put(f"{ONE}/disable", responses=_ERRORS, summary="Disable a token")
def disable_token(
    account: Account, token_id: TokenIdText, core: CoreDep, actor: ActorDep
) -> DevoToken:
    token = tokens.disable(core, actor, tenant=account, token_id=_token_id(token_id))
    return DevoToken.of(token)


@router.put(
    f"{ONE}/rename",
    responses=_CREATE_ERRORS,
    summary="Rename a token",
    openapi_extra=request_body_doc(DevoRename),
)
def rename_token(
    account: Account, token_id: TokenIdText, core: CoreDep, actor: ActorDep, raw: RawBody
) -> DevoToken:
    body = json_body(DevoRename, raw)
    # An empty or null name changes nothing but still answers 200, as the product does; the
    # call still goes through the service so that a missing token or a viewer is refused.
    name = body.new_name
    changes = TokenChanges() if name is None else TokenChanges(name=name)
    token = tokens.update(
        core, actor, tenant=account, token_id=_token_id(token_id), changes=changes
    )
    return DevoToken.of(token)


@router.delete(ONE, responses=_ERRORS, summary="Delete a token")
def delete_token(
    account: Account, token_id: TokenIdText, core: CoreDep, actor: ActorDep
) -> DevoToken:
    """Answers the token as it was just before it was deleted (without its secret)."""
    token = tokens.delete(core, actor, tenant=account, token_id=_token_id(token_id))
    return DevoToken.of(token)


_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/v2/accounts/{rest:path}", methods=_METHODS, include_in_schema=False)
def unknown_route(request: Request) -> Response:
    """Anything else under ``/v2/accounts`` still answers in the product's error format."""
    allowed = sorted(
        method
        for route in router.routes
        if isinstance(route, APIRoute)
        and route.endpoint is not unknown_route
        and route.matches(request.scope)[0] is Match.PARTIAL
        for method in route.methods or ()
    )
    if allowed:
        raise HTTPException(405, "method not allowed", headers={"Allow": ", ".join(allowed)})
    raise HTTPException(404, "no such endpoint")
