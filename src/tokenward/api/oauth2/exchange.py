"""Short-lived signed tokens: ``POST /oauth2/token`` (RFC 8693 token exchange, issuing RFC 9068
JWT access tokens), ``GET /.well-known/jwks.json``, ``GET /.well-known/oauth-authorization-
server`` (RFC 8414) and ``GET /oauth2/revoked`` (the JWTs whose subject was revoked).

A translator like every face: the rules are ``service/exchange.py``'s, the keys
``tokenward.signing``'s. See docs/offline.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tokenward import metrics
from tokenward.api.dependencies import CoreDep, client_address, get_engine
from tokenward.api.oauth2.errors import oauth_error
from tokenward.api.oauth2.errors import translate as translate_oauth
from tokenward.api.routing import face_route
from tokenward.domain import clock
from tokenward.domain.errors import ExchangeRefused
from tokenward.service import exchange
from tokenward.service.exchange import ACCESS_TOKEN_TYPE, JWT_TYPE, Issuance
from tokenward.signing.keys import ALGORITHMS

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def translate(request: Request, exc: Exception) -> Response:
    """RFC 6749 5.2 bodies: an exchange's own refusals carry their code; the rest as the
    introspection face answers them (``errors.translate``)."""
    if isinstance(exc, ExchangeRefused):
        return oauth_error(400, exc.error, exc.message)
    if isinstance(exc, RequestValidationError):
        return oauth_error(400, "invalid_request", "a parameter is malformed")
    return translate_oauth(request, exc)


router = APIRouter(route_class=face_route(translate), tags=["oauth2"])


def _issuance(request: Request) -> Issuance:
    issuance: Issuance = request.state.issuance
    return issuance


Field = Annotated[str | None, Form()]


@router.post(
    "/oauth2/token",
    summary="Exchange a token for a short-lived JWT (RFC 8693)",
    description="`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, "
    "`subject_token` (a tokenward secret), `subject_token_type="
    "urn:ietf:params:oauth:token-type:access_token`, optional `audience` (one of the subject "
    "token's), `scope` (space-separated, within the subject token's), `requested_token_type="
    "urn:ietf:params:oauth:token-type:jwt`. Answers a JWT access token (RFC 9068) signed with "
    "the keys of `/.well-known/jwks.json`. Refusals: `invalid_grant` (the subject token does "
    "not verify), `invalid_target` (audience), `invalid_scope`, `invalid_request`, "
    "`unsupported_grant_type`.",
)
def token(
    request: Request,
    core: CoreDep,
    grant_type: Field = None,
    subject_token: Field = None,
    subject_token_type: Field = None,
    requested_token_type: Field = None,
    audience: Annotated[list[str] | None, Form()] = None,
    scope: Field = None,
    resource: Annotated[list[str] | None, Form()] = None,
    actor_token: Field = None,
) -> JSONResponse:
    try:
        answer = _exchange(
            request,
            core,
            grant_type=grant_type,
            subject_token=subject_token,
            subject_token_type=subject_token_type,
            requested_token_type=requested_token_type,
            audience=audience,
            scope=scope,
            resource=resource,
            actor_token=actor_token,
        )
    except ExchangeRefused as refused:
        metrics.TOKEN_EXCHANGES.count(refused.error)
        raise
    metrics.TOKEN_EXCHANGES.count("issued")
    return JSONResponse(answer, headers=_NO_STORE)


def _exchange(
    request: Request,
    core: CoreDep,
    *,
    grant_type: str | None,
    subject_token: str | None,
    subject_token_type: str | None,
    requested_token_type: str | None,
    audience: list[str] | None,
    scope: str | None,
    resource: list[str] | None,
    actor_token: str | None,
) -> dict[str, Any]:
    if not grant_type:
        raise ExchangeRefused(error="invalid_request", message="grant_type is required")
    if grant_type != TOKEN_EXCHANGE_GRANT:
        raise ExchangeRefused(
            error="unsupported_grant_type", message=f"the only grant type is {TOKEN_EXCHANGE_GRANT}"
        )
    if not subject_token:
        raise ExchangeRefused(error="invalid_request", message="subject_token is required")
    if subject_token_type != ACCESS_TOKEN_TYPE:
        raise ExchangeRefused(
            error="invalid_request", message=f"subject_token_type must be {ACCESS_TOKEN_TYPE}"
        )
    if requested_token_type not in (None, JWT_TYPE, ACCESS_TOKEN_TYPE):
        raise ExchangeRefused(
            error="invalid_request", message=f"the only token type issued is {JWT_TYPE}"
        )
    if actor_token:
        raise ExchangeRefused(
            error="invalid_request", message="delegation (actor_token) is not supported"
        )
    if resource:
        raise ExchangeRefused(
            error="invalid_target", message="resource is not supported: ask for an audience"
        )
    if audience and len(audience) > 1:
        raise ExchangeRefused(error="invalid_target", message="ask for one audience at most")
    scopes = None if scope is None else scope.split()
    authorization = request.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    exchanged = exchange.exchange(
        core,
        _issuance(request),
        get_engine(request),
        subject_token=subject_token,
        audience=audience[0] if audience else None,
        scopes=scopes,
        credential=credential.strip() if scheme.lower() == "bearer" else None,
        client=client_address(request),
    )
    return {
        "access_token": exchanged.access_token,
        "issued_token_type": JWT_TYPE,
        "token_type": "Bearer",
        "expires_in": exchanged.expires_in,
        "scope": " ".join(exchanged.scope),
    }


@router.get(
    "/.well-known/jwks.json",
    summary="The public keys that sign exchanged JWTs (RFC 7517)",
    description="Public parts only. `Cache-Control: max-age` is the notice a new key gets "
    "before it signs (`TOKENWARD_JWKS_CACHE_SECONDS`).",
)
def jwks(request: Request) -> JSONResponse:
    ring = _issuance(request).ring
    return JSONResponse(
        ring.jwks(), headers={"Cache-Control": f"public, max-age={ring.cache_seconds}"}
    )


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
)
def metadata(request: Request) -> JSONResponse:
    issuance = _issuance(request)
    issuer = issuance.issuer
    body = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth2/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "grant_types_supported": [TOKEN_EXCHANGE_GRANT],
        "response_types_supported": [],
        # The subject token is the credential; no client authentication is needed.
        "token_endpoint_auth_methods_supported": ["none"],
        "access_token_signing_alg_values_supported": list(ALGORITHMS),
        "tokenward_revocation_list_endpoint": f"{issuer}/oauth2/revoked",
    }
    return JSONResponse(
        body, headers={"Cache-Control": f"public, max-age={issuance.ring.cache_seconds}"}
    )


@router.get(
    "/oauth2/revoked",
    summary="Exchanged JWTs whose subject token was revoked",
    description="`jti` and `exp` of every unexpired JWT whose subject token was disabled, "
    "deleted or cut short at or after `since` (epoch seconds; default: all). Entries stay "
    "until the JWT expires. Poll with `since` = the previous answer's `as_of` less a few "
    "seconds. No credential: the list names no token and no secret.",
)
def revoked(core: CoreDep, since: Annotated[int | None, Query(ge=0)] = None) -> JSONResponse:
    start = None if since is None else _instant(since)
    as_of, entries = exchange.revoked_since(core, start)
    body = {
        "as_of": clock.to_millis(as_of) // 1000,
        "revoked": [
            {"jti": entry.jti, "exp": clock.to_millis(entry.expires_at) // 1000}
            for entry in entries
        ],
    }
    return JSONResponse(body, headers=_NO_STORE)


def _instant(seconds: int) -> datetime:
    if seconds > clock.LAST_MILLIS // 1000:
        raise ExchangeRefused(error="invalid_request", message="since is beyond the last instant")
    return clock.from_millis(seconds * 1000)
