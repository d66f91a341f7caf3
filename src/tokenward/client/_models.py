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


@dataclass(frozen=True, slots=True)
class Policy:
    """A tenant's policy (docs/lifecycle.md); ``None`` in a field means "no limit"."""

    max_lifetime_seconds: int | None = None
    require_expiry: bool = False
    allowed_scopes: tuple[str, ...] | None = None
    allowed_audiences: tuple[str, ...] | None = None
    allow_recoverable: bool = True
    inactivity_disable_seconds: int | None = None
    expiry_notice_seconds: tuple[int, ...] = (2592000, 604800, 86400)
    on_reuse: str = "disable"
    on_leak: str = "disable"

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Policy:
        def listed(value: Any) -> tuple[str, ...] | None:
            return None if value is None else tuple(value)

        return cls(
            max_lifetime_seconds=data.get("max_lifetime_seconds"),
            require_expiry=bool(data.get("require_expiry", False)),
            allowed_scopes=listed(data.get("allowed_scopes")),
            allowed_audiences=listed(data.get("allowed_audiences")),
            allow_recoverable=bool(data.get("allow_recoverable", True)),
            inactivity_disable_seconds=data.get("inactivity_disable_seconds"),
            expiry_notice_seconds=tuple(data.get("expiry_notice_seconds", ())),
            on_reuse=str(data.get("on_reuse", "disable")),
            on_leak=str(data.get("on_leak", "disable")),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "max_lifetime_seconds": self.max_lifetime_seconds,
            "require_expiry": self.require_expiry,
            "allowed_scopes": None if self.allowed_scopes is None else list(self.allowed_scopes),
            "allowed_audiences": (
                None if self.allowed_audiences is None else list(self.allowed_audiences)
            ),
            "allow_recoverable": self.allow_recoverable,
            "inactivity_disable_seconds": self.inactivity_disable_seconds,
            "expiry_notice_seconds": list(self.expiry_notice_seconds),
            "on_reuse": self.on_reuse,
            "on_leak": self.on_leak,
        }


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered webhook; never holds its signing secret (``WebhookWithSecret`` does,
    once)."""

    id: int
    tenant: str
    url: str
    events: tuple[str, ...]
    description: str
    active: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Webhook:
        return cls(**_webhook_fields(data))


@dataclass(frozen=True, slots=True)
class WebhookWithSecret(Webhook):
    """The answer to a registration: the webhook and its signing secret, shown this once."""

    secret: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> WebhookWithSecret:
        return cls(**_webhook_fields(data), secret=data["secret"])

    def __repr__(self) -> str:
        return f"WebhookWithSecret(id={self.id!r}, url={self.url!r}, secret='***')"


def _webhook_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(data["id"]),
        "tenant": data["tenant"],
        "url": data["url"],
        "events": tuple(data["events"]),
        "description": data["description"],
        "active": bool(data["active"]),
        "disabled_reason": data.get("disabled_reason"),
        "failing_since": _optional_time(data.get("failing_since")),
        "created_at": _time(data["created_at"]),
        "updated_at": _time(data["updated_at"]),
    }


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event's delivery to one webhook, with every attempt so far."""

    id: int
    webhook_id: int
    event_id: str
    event_type: str
    status: str
    next_attempt_at: datetime | None
    created_at: datetime
    attempts: tuple[DeliveryAttempt, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Delivery:
        return cls(
            id=int(data["id"]),
            webhook_id=int(data["webhook_id"]),
            event_id=data["event_id"],
            event_type=data["event_type"],
            status=data["status"],
            next_attempt_at=_optional_time(data.get("next_attempt_at")),
            created_at=_time(data["created_at"]),
            attempts=tuple(
                DeliveryAttempt(
                    at=_time(a["at"]),
                    status_code=a.get("status_code"),
                    duration_ms=int(a["duration_ms"]),
                    error=a.get("error"),
                )
                for a in data.get("attempts", ())
            ),
        )


@dataclass(frozen=True, slots=True)
class SecretState:
    """Whether a secret (known to the server by its SHA-256 only) opens a valid token of a
    tenant the caller sees; the token's id and name when it is known there."""

    hash: str
    live: bool
    tenant: str | None
    token_id: int | None
    name: str | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SecretState:
        return cls(
            hash=data["hash"],
            live=bool(data["live"]),
            tenant=data.get("tenant"),
            token_id=data.get("token_id"),
            name=data.get("name"),
        )
