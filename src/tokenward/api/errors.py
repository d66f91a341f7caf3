"""One translator of errors for every face; each face gives only its table and its body.

A face's ``ErrorTable`` says, for each domain error class, the HTTP status (looked up along the
class's ancestry, so a subclass answers as its parent unless the table names it), how its
product words each error (``Wording``: fixed texts by code or class, its names for fields), and
how it writes a body. ``Translator(table)`` is the one place that tells a domain error from a
request the framework refused, a body over the limit, a routing error and the unforeseen, logs
what must reach the operator, and never lets a cause's text reach the caller.

``tests/faces/test_error_tables.py`` walks the whole error tree and every ``ErrorCode`` through
every face's table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from tokenward.api.middleware import BodyTooLarge
from tokenward.api.routing import BEARER_CHALLENGE, request_id
from tokenward.domain.errors import (
    Conflict,
    ErrorCode,
    ExchangeRefused,
    Forbidden,
    Invalid,
    NotFound,
    PolicyViolation,
    RateLimited,
    Resource,
    SealError,
    TokenwardError,
    Unauthenticated,
    Unavailable,
)

#: The HTTP status of each domain error class, the same on every face but OAuth 2.0's (whose
#: RFC answers most refusals 400). A face's body goes around it.
HTTP_STATUS: Mapping[type[TokenwardError], int] = {
    Invalid: 400,
    PolicyViolation: 400,  # the native face answers 422 (its own table)
    ExchangeRefused: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    Unavailable: 503,
    SealError: 500,
}

KEY_MISMATCH_LOG = (
    "a sealed secret does not open: is TOKENWARD_SECRET_KEY the one it was sealed with?"
)

V = TypeVar("V")


def by_class(table: Mapping[type[TokenwardError], V], error: TokenwardError) -> V | None:
    """The row of ``error``'s nearest class in ``table``: a subclass answers as its parent
    until the table names it."""
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return None


def error_headers(error: TokenwardError) -> dict[str, str] | None:
    """What every face sends with such an error: the Bearer challenge with a 401, and with a
    429 when to come back (RFC 9110 ``Retry-After``, in seconds)."""
    if isinstance(error, Unauthenticated):
        return {"WWW-Authenticate": BEARER_CHALLENGE}
    if isinstance(error, RateLimited):
        return {"Retry-After": str(error.retry_after)}
    return None


@dataclass(frozen=True, slots=True)
class Wording:
    """How a face words domain errors. In this order: a fixed text for the error's code, one
    for what a ``NotFound`` is about, one for its class; else the service's message, with an
    ``Invalid``'s field called by the face's name. Fixed texts stand where the service's
    message could repeat what the caller sent (a name, a scope: a pasted secret) or speaks
    of things the product names otherwise."""

    codes: Mapping[ErrorCode, str] = field(default_factory=dict)
    not_found: Mapping[Resource | None, str] = field(default_factory=dict)
    classes: Mapping[type[TokenwardError], str] = field(default_factory=dict)
    field_names: Mapping[str, str] = field(default_factory=dict)

    def text(self, error: TokenwardError) -> str:
        if error.code in self.codes:
            return self.codes[error.code]
        if isinstance(error, NotFound) and self.not_found:
            return self.not_found.get(error.resource, self.not_found[None])
        fixed = by_class(self.classes, error)
        if fixed is not None:
            return fixed
        if isinstance(error, Invalid):
            return error.named(self.field_names)
        return error.message


#: A domain error's answer: the request, the error, its status, its text and its headers.
DomainBody = Callable[[Request, TokenwardError, int, str, dict[str, str] | None], Response]


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """One face's answers. ``status`` must resolve for every class of the error tree."""

    logger: logging.Logger
    domain: DomainBody
    validation: Callable[[Request, RequestValidationError], Response]
    too_large: Callable[[Request, BodyTooLarge], Response]
    http: Callable[[Request, HTTPException], Response]
    internal: Callable[[Request], Response]
    wording: Wording = field(default_factory=Wording)
    status: Mapping[type[TokenwardError], int] = field(default_factory=lambda: HTTP_STATUS)

    def status_of(self, error: TokenwardError) -> int:
        status = by_class(self.status, error)
        if status is None:  # a class the table forgot: the test of the tables catches it
            raise LookupError(f"no status for {type(error).__name__}")
        return status


class Translator:
    """Turns any exception raised while a face handles a request into that face's answer."""

    def __init__(self, table: ErrorTable) -> None:
        self.table = table

    def __call__(self, request: Request, exc: Exception) -> Response:
        table = self.table
        if isinstance(exc, TokenwardError):
            return self.domain(request, exc)
        if isinstance(exc, RequestValidationError):
            return table.validation(request, exc)
        if isinstance(exc, BodyTooLarge):
            return table.too_large(request, exc)
        if isinstance(exc, HTTPException):
            return table.http(request, exc)
        table.logger.error(
            "unexpected error", exc_info=exc, extra={"request_id": request_id(request)}
        )
        return table.internal(request)

    def domain(self, request: Request, error: TokenwardError) -> Response:
        table = self.table
        if isinstance(error, SealError):
            # The operator's to fix (the key), so the log says which; the caller learns only
            # what each face's table lets it.
            table.logger.error(KEY_MISMATCH_LOG, extra={"request_id": request_id(request)})
        return table.domain(
            request,
            error,
            table.status_of(error),
            table.wording.text(error),
            error_headers(error),
        )
