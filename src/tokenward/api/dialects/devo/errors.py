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

from tokenward.api.errors import ErrorTable, Translator, Wording
from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import (
    is_bad_json,
    request_id,
    validation_messages,
)
from tokenward.domain.errors import ErrorCode, SealError, TokenwardError

log = logging.getLogger("tokenward.api.devo")

CID_HEADER = "x-devo-cid"

ACCOUNT_NOT_FOUND_TEXT = "account not found"
TOKEN_NOT_FOUND_TEXT = "token not found"  # noqa: S105 (a message, not a secret)
BAD_JSON_TEXT = "the request body is not valid JSON"
INTERNAL_TEXT = "internal error; see the server log"
KEY_MISMATCH_TEXT = "KEY_MISMATCH: the server's key cannot open this sealed secret"

WORDING = Wording(
    # Fixed texts for the service's errors whose message would repeat what the caller sent.
    codes={
        ErrorCode.SCOPE_ESCALATION: "cannot grant scopes the caller does not hold",
        ErrorCode.NAME_TAKEN: "a token with this name already exists in the account",
    },
    # One answer for a missing account and another tenant's: no existence oracle. A missing
    # thing the service does not name is the token, the one thing these paths name besides.
    not_found={
        "tenant": ACCOUNT_NOT_FOUND_TEXT,
        "token": TOKEN_NOT_FOUND_TEXT,
        None: TOKEN_NOT_FOUND_TEXT,
    },
    classes={SealError: KEY_MISMATCH_TEXT},
    # The service speaks of the native fields; this face's callers know them by these names.
    field_names={"ttl_seconds": "expiresInSeconds", "expires_at": "expiration"},
)


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    rid = request_id(request)
    return JSONResponse(
        {"error": {"code": status, "message": message}},
        status_code=status,
        headers={**(headers or {}), CID_HEADER: rid},
    )


def _domain(
    request: Request, error: TokenwardError, status: int, text: str, headers: dict[str, str] | None
) -> JSONResponse:
    return error_response(request, status, text, headers)


def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = list(error.errors())
    if is_bad_json(errors):
        return error_response(request, 400, BAD_JSON_TEXT)
    # pydantic prefixes what a validator raised with "Value error, "; the reason reads alone.
    messages = [m.replace("Value error, ", "") for m in validation_messages(errors)]
    return error_response(request, 400, "; ".join(messages))


def _too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
    return error_response(request, 413, str(error))


def _http(request: Request, error: HTTPException) -> JSONResponse:
    headers = dict(error.headers) if error.headers else None
    return error_response(request, error.status_code, str(error.detail), headers)


def _internal(request: Request) -> JSONResponse:
    return error_response(request, 500, INTERNAL_TEXT)


TABLE = ErrorTable(
    logger=log,
    domain=_domain,
    validation=_validation_error,
    too_large=_too_large,
    http=_http,
    internal=_internal,
    wording=WORDING,
)
translate = Translator(TABLE)
