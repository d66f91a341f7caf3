"""What the client raises. Every httpx error is translated here; callers never see httpx's.

TokenwardError            .message .code .status .request_id
├── TransportError        no answer from the server (connect, read, timeout); status is None
└── (an error answer, by status)
    ├── BadRequest        400  INVALID_ARGUMENT, RESTRICTED_ADMIN, MALFORMED_JSON
    ├── Unauthorized      401  UNAUTHENTICATED
    ├── Forbidden         403  FORBIDDEN, ROLE_/SCOPE_/AUDIENCE_/RESOURCE_/EXPIRY_ESCALATION,
    │                          USER_NOT_ALLOWED, OWNER_NOT_ALLOWED
    ├── NotFound          404  NOT_FOUND
    ├── Conflict          409  CONFLICT, TENANT_EXISTS, DEFAULT_TENANT, NOT_RECOVERABLE, ...
    ├── PayloadTooLarge   413  PAYLOAD_TOO_LARGE
    ├── ValidationFailed  422  VALIDATION_FAILED
    ├── Unavailable       503  UNAVAILABLE, NOT_READY
    └── ServerError       any other 5xx (and other statuses the API does not document)
"""

from __future__ import annotations


class TokenwardError(Exception):
    """Base of every error the client raises.

    ``code`` is the API's constant (``NOT_FOUND``, ``TENANT_EXISTS``...), ``request_id`` the id
    the server logged the request under (also set for transport errors: it is the id the
    client sent in ``X-Request-ID``), ``status`` the HTTP status or ``None`` without an answer.
    """

    def __init__(
        self, message: str, *, code: str, status: int | None, request_id: str | None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        status = "" if self.status is None else f" (HTTP {self.status})"
        return f"{self.code}{status}: {self.message} [request {self.request_id}]"


class TransportError(TokenwardError):
    """The server could not be reached or did not answer (after any retries)."""


class BadRequest(TokenwardError):
    pass


class Unauthorized(TokenwardError):
    pass


class Forbidden(TokenwardError):
    pass


class NotFound(TokenwardError):
    pass


class Conflict(TokenwardError):
    pass


class PayloadTooLarge(TokenwardError):
    pass


class ValidationFailed(TokenwardError):
    pass


class Unavailable(TokenwardError):
    pass


class ServerError(TokenwardError):
    pass


BY_STATUS: dict[int, type[TokenwardError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    503: Unavailable,
}


def for_status(status: int) -> type[TokenwardError]:
    return BY_STATUS.get(status, ServerError)
