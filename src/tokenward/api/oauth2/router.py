"""``POST /oauth2/introspect`` (RFC 7662) and ``POST /oauth2/revoke`` (RFC 7009).

Both take a form-encoded ``token`` (and an optional ``token_type_hint``, which is accepted and
ignored: tokenward has one kind of token). Callers authenticate with a bearer credential, like
every management call.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse

from tokenward.api.dependencies import ActorDep, CoreDep
from tokenward.api.oauth2.errors import translate
from tokenward.api.routing import face_route
from tokenward.domain import clock
from tokenward.domain.tokens import Token
from tokenward.service import tokens, verification

router = APIRouter(route_class=face_route(translate), tags=["oauth2"])

ISSUER = "tokenward"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

TokenField = Annotated[str, Form(description="The secret to introspect or revoke")]
HintField = Annotated[str | None, Form(description="Accepted and ignored")]


@router.post("/oauth2/introspect")
def introspect(
    core: CoreDep, actor: ActorDep, token: TokenField, token_type_hint: HintField = None
) -> JSONResponse:
    found = verification.introspect(core, actor, token)
    body = {"active": False} if found is None else _claims(found)
    return JSONResponse(body, headers=_NO_STORE)


@router.post("/oauth2/revoke")
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
