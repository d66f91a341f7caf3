"""The one error tree of tokenward.

    TokenwardError             (code: a stable constant; never an HTTP status)
    ├── Invalid                bad input the rules refuse (a past expiry, a name too long)
    ├── Unauthenticated        no credential, or one that does not identify a caller
    ├── Forbidden              the caller is known but may not do this
    ├── NotFound               no such thing, or one the caller may not see
    ├── Conflict               the request clashes with the current state
    ├── RateLimited            too many failed authentications from the caller's address
    └── Unavailable            the store cannot be reached; retrying later may work

Each face owns one table from these classes to its own status and body.
"""

from __future__ import annotations


class TokenwardError(Exception):
    code = "ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Invalid(TokenwardError):
    code = "INVALID_ARGUMENT"


class Unauthenticated(TokenwardError):
    code = "UNAUTHENTICATED"


class Forbidden(TokenwardError):
    code = "FORBIDDEN"


class NotFound(TokenwardError):
    code = "NOT_FOUND"


class Conflict(TokenwardError):
    code = "CONFLICT"


class RateLimited(TokenwardError):
    """``retry_after``: whole seconds until the caller's address may try again."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int = 60, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Unavailable(TokenwardError):
    code = "UNAVAILABLE"


ERROR_CLASSES: tuple[type[TokenwardError], ...] = (
    Invalid,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    Unavailable,
)
