"""The Query face's one table from errors to a status and a plain-text body.

The product answers every error as ``text/plain`` (its own messages, or serde's) and a 401 with
an empty body. Bodies here never carry request input: a token name could be a pasted secret.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
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
    Conflict,
    NotFound,
    TokenwardError,
)
from tokenward.service.sealing import SealError

log = logging.getLogger("tokenward.api.query")

#: Fixed texts where the service's message would repeat the name the caller sent.
CONFLICT_TEXT = {
    "NAME_TAKEN": "a token with this name already exists",
    "NAME_AMBIGUOUS": "more than one token has this name; manage it through the native API",
    "NOT_RECOVERABLE": "this token's secret was not kept; it cannot be shown again",
}
NOT_FOUND_TEXT = "404 Not Found"
INTERNAL_TEXT = "Internal Server Error"
KEY_MISMATCH_TEXT = "KEY_MISMATCH: the server's key cannot open this sealed secret"
BAD_JSON_TEXT = "the request body is not valid JSON"

#: The service speaks of the native fields; this face's callers know them by these names.
_FIELD_NAMES = {"expires_at": "expiration_date"}


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers=headers)


def _domain_text(error: TokenwardError) -> str:
    if isinstance(error, NotFound):
        # One answer for every missing thing: no hint of another tenant's names.
        return NOT_FOUND_TEXT
    if isinstance(error, Conflict):
        return CONFLICT_TEXT.get(error.code, "the request conflicts with the current state")
    message = error.message
    for native, wire in _FIELD_NAMES.items():
        message = message.replace(native, wire)
    return message


def _validation_text(errors: list[object]) -> str:
    if is_bad_json(errors):
        return BAD_JSON_TEXT
    return "; ".join(validation_messages(errors))


def translate(request: Request, exc: Exception) -> Response:
    if isinstance(exc, TokenwardError):
        status = http_status(exc)
        # The product's 401 is empty; the header is what RFC 6750 asks of a bearer realm.
        text = "" if status == 401 else exc.message if status == 429 else _domain_text(exc)
        return text_response(status, text, error_headers(exc))
    if isinstance(exc, RequestValidationError):
        return text_response(400, _validation_text(list(exc.errors())))
    if isinstance(exc, BodyTooLarge):
        return text_response(413, str(exc))
    if isinstance(exc, HTTPException):
        if exc.status_code == 401:
            return text_response(401, "")
        return text_response(exc.status_code, str(exc.detail))
    if isinstance(exc, SealError):
        log.error(
            "a sealed secret does not open: is TOKENWARD_SECRET_KEY the one it was sealed with?"
        )
        return text_response(500, KEY_MISMATCH_TEXT)
    log.exception("unexpected error", extra={"request_id": request_id(request)})
    return text_response(500, INTERNAL_TEXT)
