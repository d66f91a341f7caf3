"""The native face's one table from errors to HTTP status and ``{"error": {...}}`` body."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tokenward.api.errors import HTTP_STATUS, ErrorTable, Translator, Wording, error_headers
from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import (
    is_bad_json,
    request_id,
    validation_messages,
)
from tokenward.domain.errors import ErrorCode, PolicyViolation, TokenwardError

log = logging.getLogger("tokenward.api")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


_UNREADABLE = "the request body is not valid JSON, or is nested too deeply to read"
INTERNAL_TEXT = "internal error; see the server log"

#: The native face answers the service's own message, but for a key that does not open a
#: sealed secret: the cause is for the log.
WORDING = Wording(codes={ErrorCode.KEY_MISMATCH: "the server's key cannot open this sealed secret"})


def _body(code: str, message: str, rid: str) -> bytes:
    """``{"error": {...}}`` exactly as ``JSONResponse`` renders it, so that a route answering
    through Starlette and the fast path answering bytes send the same."""
    document = {"error": {"code": code, "message": message, "request_id": rid}}
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def error_answer(error: TokenwardError, rid: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The native face's answer to a domain error: status, body bytes and extra headers (raw
    ASGI pairs). For callers that answer without a ``Response``, such as the fast path of
    ``/v1/verify``; ``translate`` answers through it too."""
    headers = error_headers(error) or {}
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]
    status = TABLE.status_of(error)
    return status, _body(error.code, WORDING.text(error), rid), raw


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    rid = request_id(request)
    return JSONResponse(
        {"error": {"code": code, "message": message, "request_id": rid}},
        status_code=status,
        headers=headers,
    )


def _domain(
    request: Request, error: TokenwardError, status: int, text: str, headers: dict[str, str] | None
) -> Response:
    body = _body(error.code, text, request_id(request))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _validation(request: Request, exc: RequestValidationError) -> Response:
    if is_bad_json(exc.errors()):
        return error_response(request, 400, "MALFORMED_JSON", "the request body is not valid JSON")
    message = "; ".join(validation_messages(exc.errors()))
    return error_response(request, 422, "VALIDATION_FAILED", message)


def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    return error_response(request, 413, "PAYLOAD_TOO_LARGE", str(exc))


def _http(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 400:
        # FastAPI's answer to a body its JSON reader gave up on with an error other than
        # a syntax error: nested deeper than the reader recurses (RecursionError).
        return error_response(request, 400, "MALFORMED_JSON", _UNREADABLE)
    return _http_error(request, exc)


def _internal(request: Request) -> Response:
    return error_response(request, 500, "INTERNAL", INTERNAL_TEXT)


TABLE = ErrorTable(
    logger=log,
    domain=_domain,
    validation=_validation,
    too_large=_too_large,
    http=_http,
    internal=_internal,
    wording=WORDING,
    # A request the rules of the tenant refuse, though well formed: 422 as the issue of tenant
    # policies asks; the other faces answer it as any ``Invalid``.
    status={**HTTP_STATUS, PolicyViolation: 422},
)
#: Every error a native route can raise, as the native error body.
translate = Translator(TABLE)


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, exc.status_code, code, str(exc.detail), headers)


async def _routing_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _http_error(request, exc)


async def _last_resort(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc, extra={"request_id": request_id(request)})
    # This answer leaves from outside the request-id middleware, so it sets the header itself.
    return error_response(
        request,
        500,
        "INTERNAL",
        INTERNAL_TEXT,
        {"X-Request-ID": request_id(request)},
    )


def install_error_handlers(app: FastAPI) -> None:
    """For what no face's route sees: unknown paths and methods, and errors outside routes."""
    app.add_exception_handler(HTTPException, _routing_error)
    app.add_exception_handler(Exception, _last_resort)
