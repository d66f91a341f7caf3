"""RFC 6749 section 5.2 error bodies: ``{"error": "<code>", "error_description": "..."}``."""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import BEARER_CHALLENGE, error_headers, request_id
from tokenward.domain.errors import (
    Forbidden,
    RateLimited,
    TokenwardError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("tokenward.api.oauth2")


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


def translate(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Unauthenticated):
        return oauth_error(401, "invalid_client", exc.message)
    if isinstance(exc, Forbidden):
        return oauth_error(403, "unauthorized_client", exc.message)
    if isinstance(exc, RateLimited):
        # RFC 6749 has no code for this; ``temporarily_unavailable`` is the nearest it defines.
        return oauth_error(429, "temporarily_unavailable", exc.message, error_headers(exc))
    if isinstance(exc, Unavailable):
        return oauth_error(503, "temporarily_unavailable", exc.message)
    if isinstance(exc, TokenwardError):
        return oauth_error(400, "invalid_request", exc.message)
    if isinstance(exc, RequestValidationError):
        return oauth_error(400, "invalid_request", "the form needs a 'token' field")
    if isinstance(exc, BodyTooLarge):
        return oauth_error(413, "invalid_request", str(exc))
    log.error("unexpected error", exc_info=exc, extra={"request_id": request_id(request)})
    return oauth_error(500, "server_error", "internal error; see the server log")
