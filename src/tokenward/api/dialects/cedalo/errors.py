"""The Cedalo face's one table from errors to ``{"message", "code", "status", "info"}``.

The product's codes are textual: INVALID, UNAUTHORIZED, NOT_ALLOWED, NOT_FOUND, CONFLICT,
INTERNAL_ERROR. tokenward adds PAYLOAD_TOO_LARGE (413) and UNAVAILABLE (503), which the product
does not document. ``info.reason`` carries tokenward's own finer code (NAME_TAKEN,
ROLE_ESCALATION, RESTRICTED_ADMIN, ...). Messages never carry request input: a token name or
a date could be a pasted secret.
"""

from __future__ import annotations

import logging
from typing import Any

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
from tokenward.domain.errors import (
    Conflict,
    ErrorCode,
    NotFound,
    SealError,
    TokenwardError,
)

log = logging.getLogger("tokenward.api.cedalo")

#: The product's code for each status this face answers.
CODE_OF_STATUS: dict[int, str] = {
    400: "INVALID",
    401: "UNAUTHORIZED",
    403: "NOT_ALLOWED",
    404: "NOT_FOUND",
    # The product's document lists no code for 405; this face's own, in the product's body.
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}

NOT_FOUND_TEXT = "project not found"
INTERNAL_TEXT = "internal error; see the server log"
BAD_JSON_TEXT = "the request body is not valid JSON"

WORDING = Wording(
    codes={
        # Fixed texts where the service's message would repeat what the caller sent.
        ErrorCode.NAME_TAKEN: "a token with this name already exists in the project",
        # The service's text, with the product's name for resources.
        ErrorCode.RESOURCE_ESCALATION: (
            "a restricted caller grants only restricted tokens within its own brokers"
        ),
    },
    classes={
        # One answer for a missing project and another tenant's: no existence oracle.
        NotFound: NOT_FOUND_TEXT,
        Conflict: "the request conflicts with the current state",
        SealError: INTERNAL_TEXT,
    },
    # The service speaks of the native fields; this face's callers know them by these names.
    field_names={"expires_at": "valid_date", "resources": "brokers"},
)


def error_response(
    request: Request,
    status: int,
    message: str,
    info: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "message": message,
        "code": CODE_OF_STATUS.get(status, "ERROR"),
        "status": status,
        "info": {**(info or {}), "request_id": request_id(request)},
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _domain(
    request: Request, error: TokenwardError, status: int, text: str, headers: dict[str, str] | None
) -> JSONResponse:
    return error_response(request, status, text, {"reason": error.code}, headers=headers)


def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = list(error.errors())
    if is_bad_json(errors):
        return error_response(request, 400, BAD_JSON_TEXT, {"reason": "MALFORMED_JSON"})
    messages = validation_messages(errors)
    return error_response(
        request, 400, "; ".join(messages), {"reason": "VALIDATION_FAILED", "errors": messages}
    )


def _too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
    return error_response(
        request, 413, str(error), {"reason": "BODY_TOO_LARGE", "limit": error.limit}
    )


def _http(request: Request, error: HTTPException) -> JSONResponse:
    headers = dict(error.headers) if error.headers else None
    return error_response(
        request, error.status_code, str(error.detail), {"reason": "HTTP_ERROR"}, headers=headers
    )


def _internal(request: Request) -> JSONResponse:
    return error_response(request, 500, INTERNAL_TEXT, {"reason": "INTERNAL"})


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
