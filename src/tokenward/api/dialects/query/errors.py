"""The Query face's one table from errors to a status and a plain-text body.

The product answers every error as ``text/plain`` (its own messages, or serde's) and a 401 with
an empty body. Bodies here never carry request input: a token name could be a pasted secret.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from tokenward.api.errors import ErrorTable, Translator, Wording
from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import (
    is_bad_json,
    validation_messages,
)
from tokenward.domain.errors import (
    Conflict,
    ErrorCode,
    NotFound,
    SealError,
    TokenwardError,
    Unauthenticated,
)

log = logging.getLogger("tokenward.api.query")

NOT_FOUND_TEXT = "404 Not Found"
INTERNAL_TEXT = "Internal Server Error"
KEY_MISMATCH_TEXT = "KEY_MISMATCH: the server's key cannot open this sealed secret"
BAD_JSON_TEXT = "the request body is not valid JSON"

WORDING = Wording(
    # Fixed texts where the service's message would repeat the name the caller sent.
    codes={
        ErrorCode.NAME_TAKEN: "a token with this name already exists",
        ErrorCode.NAME_AMBIGUOUS: (
            "more than one token has this name; manage it through the native API"
        ),
        ErrorCode.NOT_RECOVERABLE: "this token's secret was not kept; it cannot be shown again",
    },
    classes={
        # The product's 401 is empty; the header is what RFC 6750 asks of a bearer realm.
        Unauthenticated: "",
        # One answer for every missing thing: no hint of another tenant's names.
        NotFound: NOT_FOUND_TEXT,
        Conflict: "the request conflicts with the current state",
        SealError: KEY_MISMATCH_TEXT,
    },
    # The service speaks of the native fields; this face's callers know them by these names.
    field_names={"expires_at": "expiration_date"},
)


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers=headers)


def _validation_text(errors: list[object]) -> str:
    if is_bad_json(errors):
        return BAD_JSON_TEXT
    return "; ".join(validation_messages(errors))


def _domain(
    request: Request, error: TokenwardError, status: int, text: str, headers: dict[str, str] | None
) -> Response:
    return text_response(status, text, headers)


def _validation(request: Request, exc: RequestValidationError) -> Response:
    return text_response(400, _validation_text(list(exc.errors())))


def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    return text_response(413, str(exc))


def _http(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 401:
        return text_response(401, "")
    return text_response(exc.status_code, str(exc.detail))


def _internal(request: Request) -> Response:
    return text_response(500, INTERNAL_TEXT)


TABLE = ErrorTable(
    logger=log,
    domain=_domain,
    validation=_validation,
    too_large=_too_large,
    http=_http,
    internal=_internal,
    wording=WORDING,
)
translate = Translator(TABLE)
