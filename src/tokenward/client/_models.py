"""Typed results of the client, mirroring the native API's wire models.

These types are spelled again here on purpose rather than imported from the server's
``tokenward.api.native.schemas``: the client is a separate public surface that a consumer can
use without the server's code (it needs only httpx and the standard library), and its types
must not change when the server's internals do. Enumerated fields (``type``, ``role``,
``code``) are kept as plain strings so that an older client keeps working against a newer
server that adds a value; the ``StrEnum`` classes below name the values known today and
compare equal to those strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class TokenType(StrEnum):
    GLOBAL = "global"
    USER = "user"
    TEAM = "team"
    WORKFLOW = "workflow"
    SESSION = "session"


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


class VerifyCode(StrEnum):
    VALID = "VALID"
    MALFORMED = "MALFORMED"
    NOT_FOUND = "NOT_FOUND"
    DISABLED = "DISABLED"
    EXPIRED = "EXPIRED"
    AUDIENCE_MISMATCH = "AUDIENCE_MISMATCH"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    RESOURCE_DENIED = "RESOURCE_DENIED"
    IP_DENIED = "IP_DENIED"
    USAGE_EXCEEDED = "USAGE_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"


def _time(value: Any) -> datetime:
    # datetime.fromisoformat reads RFC 3339 with "Z" or an offset since Python 3.11.
    return datetime.fromisoformat(str(value))


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    created_at: datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Tenant:
        return cls(name=data["name"], created_at=_time(data["created_at"]))


@dataclass(frozen=True, slots=True)
class Token:
    """A token's metadata as the API answers it; never holds the secret."""

    id: int
    tenant: str
    name: str
    description: str
    type: str
    principal: str | None
    owner: str
    user: str
    role: str
    scopes: tuple[str, ...]
    audience: tuple[str, ...]
    resources: tuple[str, ...]
    restricted: bool
    active: bool
    expired: bool
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
    secret_hint: str
    recoverable: bool
    metadata: Mapping[str, Any]
    #: ``{"name", "limit", "window_seconds"}`` each; empty: none.
    rate_limits: tuple[Mapping[str, Any], ...]
    #: ``{"remaining", "refill": {"amount", "interval"} | None}``; None: unlimited.
    credits: Mapping[str, Any] | None
    #: Addresses and CIDR ranges; empty: any address.
    ip_allowlist: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Token:
        return cls(**_token_fields(data))


@dataclass(frozen=True, slots=True)
class TokenWithSecret(Token):
    """The answer to create and rotate: the metadata and the secret, shown this once."""

    secret: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TokenWithSecret:
        return cls(**_token_fields(data), secret=data["secret"])

    def __repr__(self) -> str:
        # Keep the secret out of logs and tracebacks that print the object.
        return f"TokenWithSecret(id={self.id!r}, tenant={self.tenant!r}, secret='***')"


def _token_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(data["id"]),
        "tenant": data["tenant"],
        "name": data["name"],
        "description": data["description"],
        "type": data["type"],
        "principal": data["principal"],
        "owner": data["owner"],
        "user": data["user"],
        "role": data["role"],
        "scopes": tuple(data["scopes"]),
        "audience": tuple(data["audience"]),
        "resources": tuple(data["resources"]),
        "restricted": bool(data["restricted"]),
        "active": bool(data["active"]),
        "expired": bool(data["expired"]),
        "expires_at": _optional_time(data["expires_at"]),
        "created_at": _time(data["created_at"]),
        "updated_at": _time(data["updated_at"]),
        "last_used_at": _optional_time(data["last_used_at"]),
        "secret_hint": data["secret_hint"],
        "recoverable": bool(data["recoverable"]),
        "metadata": dict(data["metadata"]),
        # A server before the controls (issue 17) sends none of these.
        "rate_limits": tuple(dict(r) for r in data.get("rate_limits") or ()),
        "credits": None if data.get("credits") is None else dict(data["credits"]),
        "ip_allowlist": tuple(data.get("ip_allowlist") or ()),
    }


@dataclass(frozen=True, slots=True)
class Verification:
    """The verdict on a secret. ``token`` is present whenever the secret was found."""

    valid: bool
    code: str
    token: Token | None
    #: For a token with controls: ``{"credits_remaining", "rate_limits": [...]}``.
    limits: Mapping[str, Any] | None = None
    #: For ``RATE_LIMITED``: milliseconds until a retry can pass.
    retry_after_ms: int | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Verification:
        token = data.get("token")
        limits = data.get("limits")
        return cls(
            valid=bool(data["valid"]),
            code=data["code"],
            token=None if token is None else Token.from_wire(token),
            limits=None if limits is None else dict(limits),
            retry_after_ms=data.get("retry_after_ms"),
        )


@dataclass(frozen=True, slots=True)
class UsageBucket:
    """Verifications in one hour or day, per code (``{"VALID": 3, "RATE_LIMITED": 1}``)."""

    start: datetime
    counts: Mapping[str, int]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> UsageBucket:
        return cls(start=_time(data["start"]), counts=dict(data["counts"]))


@dataclass(frozen=True, slots=True)
class TenantUsage:
    buckets: tuple[UsageBucket, ...]
    #: ``(token id, verifications)``, the most verified first.
    top_tokens: tuple[tuple[int, int], ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> TenantUsage:
        return cls(
            buckets=tuple(UsageBucket.from_wire(b) for b in data["buckets"]),
            top_tokens=tuple((int(t["id"]), int(t["verifications"])) for t in data["top_tokens"]),
        )


@dataclass(frozen=True, slots=True)
class ExchangedToken:
    """A short-lived JWT access token from ``POST /oauth2/token`` (RFC 8693), to send as
    ``Authorization: Bearer`` to services that check it offline."""

    access_token: str
    issued_token_type: str
    token_type: str
    expires_in: int
    scope: tuple[str, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ExchangedToken:
        return cls(
            access_token=data["access_token"],
            issued_token_type=data["issued_token_type"],
            token_type=data["token_type"],
            expires_in=int(data["expires_in"]),
            scope=tuple(str(data.get("scope", "")).split()),
        )


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    tenant: str | None
    actor: str
    action: str
    token_id: int | None
    client: str | None
    detail: Mapping[str, Any]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AuditRecord:
        return cls(
            id=int(data["id"]),
            at=_time(data["at"]),
            tenant=data["tenant"],
            actor=data["actor"],
            action=data["action"],
            token_id=data["token_id"],
            client=data["client"],
            detail=dict(data["detail"]),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``total`` counts every match, not this page."""

    items: tuple[T, ...]
    total: int
    page: int
    limit: int

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], item: Callable[[Mapping[str, Any]], T]) -> Page[T]:
        return cls(
            items=tuple(item(entry) for entry in data["items"]),
            total=int(data["total"]),
            page=int(data["page"]),
            limit=int(data["limit"]),
        )

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * self.limit < self.total
