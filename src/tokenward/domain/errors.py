"""The one error tree of tokenward.

    TokenwardError             (code: an ErrorCode; never an HTTP status)
    ├── Invalid                bad input the rules refuse (a past expiry, a name too long)
    ├── Unauthenticated        no credential, or one that does not identify a caller
    ├── Forbidden              the caller is known but may not do this
    ├── NotFound               no such thing, or one the caller may not see (resource: which)
    ├── Conflict               the request clashes with the current state
    ├── RateLimited            too many failed authentications from the caller's address
    ├── Unavailable            the store cannot be reached; retrying later may work
    └── SealError              a sealed secret does not open under the server's key

Each error carries a stable ``code`` (``ErrorCode``: its values are a wire contract, written
by the native face and Cedalo's ``info.reason``) and typed context, so that a face words it in
its product's terms without parsing the message: ``Invalid.field`` names the field the message
is about, ``NotFound.resource`` what is missing. Each face owns one table from these classes
and codes to its own status and body (``tokenward.api.errors``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Literal


class ErrorCode(StrEnum):
    """Every code a domain error carries. Extended, never renamed: clients match on them."""

    ERROR = "ERROR"
    # One per class: the code of an error whose rule has no finer one.
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    UNAVAILABLE = "UNAVAILABLE"
    KEY_MISMATCH = "KEY_MISMATCH"
    # Invalid
    RESTRICTED_ADMIN = "RESTRICTED_ADMIN"
    EXCHANGE_REFUSED = "EXCHANGE_REFUSED"
    POLICY_VIOLATION = "POLICY_VIOLATION"
    # Forbidden: the no-escalation rule (domain/policy.check_within) and acting for others
    ROLE_ESCALATION = "ROLE_ESCALATION"
    SCOPE_ESCALATION = "SCOPE_ESCALATION"
    AUDIENCE_ESCALATION = "AUDIENCE_ESCALATION"
    RESOURCE_ESCALATION = "RESOURCE_ESCALATION"
    EXPIRY_ESCALATION = "EXPIRY_ESCALATION"
    OWNER_NOT_ALLOWED = "OWNER_NOT_ALLOWED"
    USER_NOT_ALLOWED = "USER_NOT_ALLOWED"
    # Conflict
    NAME_TAKEN = "NAME_TAKEN"
    TOO_MANY_WEBHOOKS = "TOO_MANY_WEBHOOKS"
    NO_CREDITS = "NO_CREDITS"
    NAME_AMBIGUOUS = "NAME_AMBIGUOUS"
    NOT_RECOVERABLE = "NOT_RECOVERABLE"
    ALREADY_STORED = "ALREADY_STORED"
    ID_TAKEN = "ID_TAKEN"
    TENANT_EXISTS = "TENANT_EXISTS"
    DEFAULT_TENANT = "DEFAULT_TENANT"


#: What a ``NotFound`` is about; ``None`` when the raiser does not say.
Resource = Literal["tenant", "token"]


class TokenwardError(Exception):
    code: ErrorCode = ErrorCode.ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Invalid(TokenwardError):
    """``field``: the field the message is about, named by its native name at the start of
    the message (``expires_at must be in the future``); ``reason`` is the rest. A face whose
    product calls the field otherwise words it with ``named``."""

    code = ErrorCode.INVALID_ARGUMENT

    def __init__(
        self, reason: str, *, field: str | None = None, code: ErrorCode | None = None
    ) -> None:
        super().__init__(reason if field is None else f"{field} {reason}", code=code)
        self.field = field
        self.reason = reason

    def named(self, names: Mapping[str, str]) -> str:
        """The message with the field called by ``names`` (native name -> the face's)."""
        if self.field is None:
            return self.message
        return f"{names.get(self.field, self.field)} {self.reason}"


class PolicyViolation(Invalid):
    """A token the tenant's policy refuses (docs/lifecycle.md); ``field`` names the policy's
    field. Well-formed input against a rule of the tenant's, so the native face answers 422."""

    code = ErrorCode.POLICY_VIOLATION


class ExchangeRefused(Invalid):
    """A token exchange refused (RFC 8693), with its RFC 6749 error code in ``error``:
    ``invalid_grant``, ``invalid_target``, ``invalid_scope``, ``invalid_request`` or
    ``unsupported_grant_type``; other faces answer it as any ``Invalid``."""

    code = ErrorCode.EXCHANGE_REFUSED

    def __init__(
        self, message: str, *, error: str = "invalid_request", code: ErrorCode | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.error = error


class Unauthenticated(TokenwardError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(TokenwardError):
    code = ErrorCode.FORBIDDEN


class NotFound(TokenwardError):
    """``resource``: what is missing (or not the caller's to see), for faces that word the
    two apart; a tenant and another tenant's are the same answer (no existence oracle)."""

    code = ErrorCode.NOT_FOUND

    def __init__(
        self, message: str, *, resource: Resource | None = None, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.resource = resource


class Conflict(TokenwardError):
    code = ErrorCode.CONFLICT


class RateLimited(TokenwardError):
    """``retry_after``: whole seconds until the caller's address may try again."""

    code = ErrorCode.RATE_LIMITED

    def __init__(
        self, message: str, *, retry_after: int = 60, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Unavailable(TokenwardError):
    code = ErrorCode.UNAVAILABLE


class SealError(TokenwardError):
    """A sealed secret does not open under this key (wrong key or tampered record): the
    server's configuration, not the request, so faces answer 500 and log the cause."""

    code = ErrorCode.KEY_MISMATCH


def _subclasses(cls: type[TokenwardError]) -> Iterator[type[TokenwardError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def error_classes() -> tuple[type[TokenwardError], ...]:
    """Every class of the tree below ``TokenwardError``, found by walking it: a class added
    anywhere (here or in another module) is in the list, and the faces' tests see it."""
    return tuple(dict.fromkeys(_subclasses(TokenwardError)))


ERROR_CLASSES: tuple[type[TokenwardError], ...] = error_classes()
