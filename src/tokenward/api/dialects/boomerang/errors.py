"""The Boomerang face's one table from errors to the product's error body.

Boomerang Flow answers ``{"timestamp", "code", "reason", "message", "status"}``: ``code`` is
the product's number (``BoomerangError`` in flow.services), ``reason`` its constant and
``status`` Spring's ``HttpStatus`` text such as ``"400 BAD_REQUEST"``. Messages never carry
request input: a name or a permission could be a pasted secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tokenward.api.dialects.boomerang.dates import format_date
from tokenward.api.errors import ErrorTable, Translator, Wording, by_class
from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import (
    BEARER_CHALLENGE,
    is_bad_json,
    validation_messages,
)
from tokenward.domain import clock
from tokenward.domain.errors import (
    Conflict,
    ErrorCode,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    SealError,
    TokenwardError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("tokenward.api.boomerang")

#: Spring's ``HttpStatus`` names, which the product writes after the number in ``status``.
HTTP_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


@dataclass(frozen=True, slots=True)
class Kind:
    """One row of the product's ``BoomerangError`` table: number, constant, HTTP status."""

    code: int
    reason: str
    http: int


# The product's own codes for this API (flow.services ``BoomerangError``).
QUERY_INVALID_FILTERS = Kind(1001, "QUERY_INVALID_FILTERS", 400)
TOKEN_INVALID_REQ = Kind(1010, "TOKEN_INVALID_REQ", 400)
TOKEN_INVALID_SESSION_REQ = Kind(1011, "TOKEN_INVALID_SESSION_REQ", 400)
TOKEN_INVALID_PERMISSION = Kind(1012, "TOKEN_INVALID_PERMISSION", 400)
# The product's PERMISSION_DENIED is code 403; it sends it as HTTP 401, tokenward as 403.
PERMISSION_DENIED = Kind(403, "PERMISSION_DENIED", 403)
# The product answers a failed authentication with an empty 401; tokenward gives it a body in
# the same format, with the HTTP status as its code, as the product's generic codes do.
UNAUTHORIZED = Kind(401, "UNAUTHORIZED", 401)
NOT_FOUND = Kind(404, "NOT_FOUND", 404)
METHOD_NOT_ALLOWED = Kind(405, "METHOD_NOT_ALLOWED", 405)
CONFLICT = Kind(409, "CONFLICT", 409)
PAYLOAD_TOO_LARGE = Kind(413, "PAYLOAD_TOO_LARGE", 413)
TOO_MANY_REQUESTS = Kind(429, "TOO_MANY_REQUESTS", 429)
INTERNAL = Kind(500, "INTERNAL_SERVER_ERROR", 500)
UNAVAILABLE = Kind(503, "SERVICE_UNAVAILABLE", 503)

KIND_OF: dict[type[TokenwardError], Kind] = {
    Invalid: TOKEN_INVALID_REQ,
    Unauthenticated: UNAUTHORIZED,
    Forbidden: PERMISSION_DENIED,
    NotFound: NOT_FOUND,
    Conflict: CONFLICT,
    RateLimited: TOO_MANY_REQUESTS,
    Unavailable: UNAVAILABLE,
    SealError: INTERNAL,
}

NOT_FOUND_TEXT = "not found"
INTERNAL_TEXT = "internal error; see the server log"

WORDING = Wording(
    # Where the service's message could repeat what the caller sent.
    codes={ErrorCode.SCOPE_ESCALATION: "cannot grant permissions that the caller does not hold"},
    classes={
        # One answer for every missing thing: no hint of another tenant's names.
        NotFound: NOT_FOUND_TEXT,
        # The cause is the operator's, in the log.
        SealError: INTERNAL_TEXT,
    },
    # The service names the core's fields; this face's callers know them by the product's.
    field_names={
        "expires_at": "expirationDate",
        "scopes": "permissions",
        "ttl_seconds": "expirationDate",
    },
)


class BoomerangError(HTTPException):
    """An error this face raises itself, already in the product's terms (an HTTP error to
    the translator, which answers it with its own kind)."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(kind.http, message)
        self.kind = kind
        self.message = message


def error_response(kind: Kind, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {
        "timestamp": format_date(clock.utcnow()),
        "code": kind.code,
        "reason": kind.reason,
        "message": message,
        "status": f"{kind.http} {HTTP_NAMES.get(kind.http, 'ERROR')}",
        # The product's RestErrorResponse has a cause, set only when configured to include
        # it; Jackson writes the unset field as null. Never set here: causes stay in the log.
        "cause": None,
    }
    if kind.http == 401:
        headers = {**(headers or {}), "WWW-Authenticate": BEARER_CHALLENGE}
    return JSONResponse(body, status_code=kind.http, headers=headers)


def kind_of(error: TokenwardError) -> Kind:
    return by_class(KIND_OF, error) or TOKEN_INVALID_REQ


def _domain(
    request: Request, error: TokenwardError, status: int, text: str, headers: dict[str, str] | None
) -> Response:
    return error_response(kind_of(error), text, headers)


def _validation(request: Request, exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    if is_bad_json(errors):
        return error_response(TOKEN_INVALID_REQ, "the request body is not valid JSON")
    return error_response(TOKEN_INVALID_REQ, "; ".join(validation_messages(errors)))


def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    return error_response(PAYLOAD_TOO_LARGE, str(exc))


def _http(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, BoomerangError):
        return error_response(exc.kind, exc.message)
    kind = Kind(exc.status_code, HTTP_NAMES.get(exc.status_code, "ERROR"), exc.status_code)
    return error_response(kind, str(exc.detail), dict(exc.headers) if exc.headers else None)


def _internal(request: Request) -> Response:
    return error_response(INTERNAL, INTERNAL_TEXT)


TABLE = ErrorTable(
    logger=log,
    domain=_domain,
    validation=_validation,
    too_large=_too_large,
    http=_http,
    internal=_internal,
    wording=WORDING,
    status={cls: kind.http for cls, kind in KIND_OF.items()},
)
translate = Translator(TABLE)
