"""The Devo face's one table from errors to ``{"error": {"code": <status>, "message": ...}}``.

The product documents its errors only as ``{"error": {"code": 4xx, "message": "string"}}``;
tokenward puts the HTTP status in ``code``. Every answer of this face, an error too, carries
the request id in ``x-devo-cid`` (the product's correlation header) besides ``X-Request-ID``.
Messages never carry request input: an account name, a token name or a scope could be a
pasted secret.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import (
    error_headers,
    http_status,
    is_bad_json,
    request_id,
    validation_messages,
)
from tokenward.domain.errors import (
    NotFound,
    TokenwardError,
)
from tokenward.service.sealing import SealError

log = logging.getLogger("tokenward.api.devo")

CID_HEADER = "x-devo-cid"

#: The code of the NotFound this face raises when the account itself is missing (or another
#: tenant's): any other NotFound on these paths is about the token.
ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"

ACCOUNT_NOT_FOUND_TEXT = "account not found"
TOKEN_NOT_FOUND_TEXT = "token not found"  # noqa: S105 (a message, not a secret)
BAD_JSON_TEXT = "the request body is not valid JSON"
INTERNAL_TEXT = "internal error; see the server log"
KEY_MISMATCH_TEXT = "KEY_MISMATCH: the server's key cannot open this sealed secret"
#: Fixed texts for the service's errors whose message would repeat what the caller sent.
FIXED_TEXT = {
    "SCOPE_ESCALATION": "cannot grant scopes the caller does not hold",
    "NAME_TAKEN": "a token with this name already exists in the account",
}

#: The service speaks of the native fields; this face's callers know them by these names.
_FIELD_NAMES = {"ttl_seconds": "expiresInSeconds", "expires_at": "expiration"}


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    rid = request_id(request)
    return JSONResponse(
        {"error": {"code": status, "message": message}},
        status_code=status,
        headers={**(headers or {}), CID_HEADER: rid},
    )


def _domain_message(error: TokenwardError) -> str:
    if isinstance(error, NotFound):
        # One answer for a missing account and another tenant's: no existence oracle.
        return ACCOUNT_NOT_FOUND_TEXT if error.code == ACCOUNT_NOT_FOUND else TOKEN_NOT_FOUND_TEXT
    if error.code in FIXED_TEXT:
        return FIXED_TEXT[error.code]
    message = error.message
    for native, wire in _FIELD_NAMES.items():
        message = message.replace(native, wire)
    return message


def _domain_error(request: Request, error: TokenwardError) -> JSONResponse:
    status, headers = http_status(error), error_headers(error)
    return error_response(request, status, _domain_message(error), headers)


def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = list(error.errors())
    if is_bad_json(errors):
        return error_response(request, 400, BAD_JSON_TEXT)
    # pydantic prefixes what a validator raised with "Value error, "; the reason reads alone.
    messages = [m.replace("Value error, ", "") for m in validation_messages(errors)]
    return error_response(request, 400, "; ".join(messages))


def _too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
    return error_response(request, 413, str(error))


def translate(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, TokenwardError):
        return _domain_error(request, exc)
    if isinstance(exc, RequestValidationError):
        return _validation_error(request, exc)
    if isinstance(exc, BodyTooLarge):
        return _too_large(request, exc)
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, str(exc.detail), headers)
    if isinstance(exc, SealError):
        log.error(
            "a sealed secret does not open: is TOKENWARD_SECRET_KEY the one it was sealed with?"
        )
        return error_response(request, 500, KEY_MISMATCH_TEXT)
    log.exception("unexpected error", exc_info=exc, extra={"request_id": request_id(request)})
    return error_response(request, 500, INTERNAL_TEXT)
