"""``POST /oauth2/introspect`` (RFC 7662) and ``POST /oauth2/revoke`` (RFC 7009).

Both take a form-encoded ``token`` (and an optional ``token_type_hint``, which is accepted and
ignored: tokenward has one kind of token). Callers authenticate with a bearer credential, like
every management call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tokenward.api.dependencies import ActorDep, CoreDep, EngineDep
from tokenward.api.oauth2.errors import translate
from tokenward.api.routing import face_route
from tokenward.domain import clock
from tokenward.domain.tokens import Token
from tokenward.service import tokens

router = APIRouter(route_class=face_route(translate), tags=["oauth2"])

ISSUER = "tokenward"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(BaseModel):
    """RFC 6749 5.2: every error of this face."""

    error: str
    error_description: str


def _oauth_errors(*statuses: int, forbidden: str | None = None) -> dict[int | str, Any]:
    """RFC 6749 5.2 error bodies (``{"error", "error_description"}``), by status."""
    text = {
        400: "`invalid_request`: no `token` field, or a body that is not a form",
        401: "`invalid_client`: no credential, or one that identifies no caller",
        403: f"`unauthorized_client`: {forbidden}",
        413: "`invalid_request`: the body is larger than `TOKENWARD_MAX_BODY_BYTES`",
        429: "`temporarily_unavailable`: too many failed authentications from this address",
        503: "`temporarily_unavailable`: the database cannot be reached",
    }
    return {
        status: {"model": OAuthError, "description": text[status]} for status in sorted(statuses)
    }


TokenField = Annotated[str, Form(description="The secret to introspect or revoke")]
HintField = Annotated[str | None, Form(description="Accepted and ignored")]


@router.post(
    "/oauth2/introspect",
    summary="Introspect a token (RFC 7662)",
    description='`{"active": true, ...claims}` for a valid token of a tenant the caller may '
    'see; `{"active": false}` and nothing more for anything else (unknown, malformed, '
    "disabled, expired, another tenant's). Needs a management credential.",
    responses=_oauth_errors(400, 401, 413, 429, 503),
)
def introspect(
    engine: EngineDep, actor: ActorDep, token: TokenField, token_type_hint: HintField = None
) -> JSONResponse:
    found = engine.introspect(actor, token)
    body = {"active": False} if found is None else _claims(found)
    return JSONResponse(body, headers=_NO_STORE)


@router.post(
    "/oauth2/revoke",
    summary="Revoke a token (RFC 7009)",
    description="Answers 200 `{}` whatever the token was. A token of the caller's tenant is "
    "disabled (it can be enabled again through the API); another tenant's is left alone.",
    responses=_oauth_errors(
        400, 401, 403, 413, 429, 503, forbidden="the caller may not change this token"
    ),
)
def revoke(
    core: CoreDep, actor: ActorDep, token: TokenField, token_type_hint: HintField = None
) -> JSONResponse:
    """200 whether or not the token existed (RFC 7009 2.2): the answer reveals nothing."""
    tokens.revoke(core, actor, secret=token)
    return JSONResponse({}, headers=_NO_STORE)


def _claims(token: Token) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "active": True,
        "scope": " ".join(token.scopes),
        "client_id": str(token.id),
        "username": token.user,
        "token_type": "Bearer",
        "iat": clock.to_millis(token.created_at) // 1000,
        "sub": token.principal or token.user,
        "aud": list(token.audience),
        "iss": ISSUER,
    }
    if token.expires_at is not None:
        claims["exp"] = clock.to_millis(token.expires_at) // 1000
    return claims
