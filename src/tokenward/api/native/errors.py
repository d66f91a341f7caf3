"""The native face's one table from errors to HTTP status and ``{"error": {...}}`` body."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
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
    TokenwardError,
)
from tokenward.service.sealing import SealError

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


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    rid = request_id(request)
    return JSONResponse(
        {"error": {"code": code, "message": message, "request_id": rid}},
        status_code=status,
        headers=headers,
    )


def translate(request: Request, exc: Exception) -> Response:
    """Every error a native route can raise, as the native error body."""
    if isinstance(exc, TokenwardError):
        return error_response(request, http_status(exc), exc.code, exc.message, error_headers(exc))
    if isinstance(exc, RequestValidationError):
        if is_bad_json(exc.errors()):
            return error_response(
                request, 400, "MALFORMED_JSON", "the request body is not valid JSON"
            )
        message = "; ".join(validation_messages(exc.errors()))
        return error_response(request, 422, "VALIDATION_FAILED", message)
    if isinstance(exc, BodyTooLarge):
        return error_response(request, 413, "PAYLOAD_TOO_LARGE", str(exc))
    if isinstance(exc, HTTPException):
        if exc.status_code == 400:
            # FastAPI's answer to a body its JSON reader gave up on with an error other than
            # a syntax error: nested deeper than the reader recurses (RecursionError).
            return error_response(request, 400, "MALFORMED_JSON", _UNREADABLE)
        return _http_error(request, exc)
    if isinstance(exc, SealError):
        log.error(
            "a sealed secret does not open: is TOKENWARD_SECRET_KEY the one it was sealed with?"
        )
        return error_response(
            request, 500, "KEY_MISMATCH", "the server's key cannot open this sealed secret"
        )
    log.exception("unexpected error", exc_info=exc, extra={"request_id": request_id(request)})
    return error_response(request, 500, "INTERNAL", "internal error; see the server log")


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
        "internal error; see the server log",
        {"X-Request-ID": request_id(request)},
    )


def install_error_handlers(app: FastAPI) -> None:
    """For what no face's route sees: unknown paths and methods, and errors outside routes."""
    app.add_exception_handler(HTTPException, _routing_error)
    app.add_exception_handler(Exception, _last_resort)
