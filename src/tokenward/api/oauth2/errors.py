"""RFC 6749 section 5.2 error bodies: ``{"error": "<code>", "error_description": "..."}``."""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tokenward.api.errors import ErrorTable, Translator, Wording, by_class
from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import BEARER_CHALLENGE, request_id
from tokenward.domain.errors import (
    Forbidden,
    RateLimited,
    SealError,
    TokenwardError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("tokenward.api.oauth2")

INTERNAL_TEXT = "internal error; see the server log"

#: The RFC answers most refusals 400 ``invalid_request``; the other rows are the statuses
#: every face gives.
STATUS: dict[type[TokenwardError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    RateLimited: 429,
    Unavailable: 503,
    SealError: 500,
    TokenwardError: 400,
}
ERROR_OF: dict[type[TokenwardError], str] = {
    Unauthenticated: "invalid_client",
    Forbidden: "unauthorized_client",
    # RFC 6749 has no code for this; ``temporarily_unavailable`` is the nearest it defines.
    RateLimited: "temporarily_unavailable",
    Unavailable: "temporarily_unavailable",
    SealError: "server_error",
    TokenwardError: "invalid_request",
}


def oauth_error(
    status: int, error: str, description: str, extra: dict[str, str] | None = None
) -> JSONResponse:
    headers = {"WWW-Authenticate": BEARER_CHALLENGE} if status == 401 else extra
    # RFC 6749 5.1: responses carrying credentials or their state must not be cached.
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**(headers or {}), "Cache-Control": "no-store"},
    )


def _domain(
    request: Request, error: TokenwardError, status: int, text: str, headers: dict[str, str] | None
) -> Response:
    return oauth_error(status, by_class(ERROR_OF, error) or "invalid_request", text, headers)


def _validation(request: Request, exc: RequestValidationError) -> Response:
    return oauth_error(400, "invalid_request", "the form needs a 'token' field")


def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    return oauth_error(413, "invalid_request", str(exc))


def _http(request: Request, exc: HTTPException) -> Response:
    # No route of this face raises one; were one to, it is the unforeseen.
    log.error("unexpected error", exc_info=exc, extra={"request_id": request_id(request)})
    return _internal(request)


def _internal(request: Request) -> Response:
    return oauth_error(500, "server_error", INTERNAL_TEXT)


TABLE = ErrorTable(
    logger=log,
    domain=_domain,
    validation=_validation,
    too_large=_too_large,
    http=_http,
    internal=_internal,
    wording=Wording(classes={SealError: INTERNAL_TEXT}),
    status=STATUS,
)
translate = Translator(TABLE)
