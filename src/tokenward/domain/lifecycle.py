"""Lifecycle records: webhooks, the events they receive, their deliveries (docs/lifecycle.md).

Pure data and rules; the outbox and the dispatcher that move them live in
``tokenward.lifecycle`` and ``tokenward.store``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from tokenward.domain import limits
from tokenward.domain.documents import instant, token_document
from tokenward.domain.errors import Invalid
from tokenward.domain.tokens import Token


class EventType(StrEnum):
    CREATED = "token.created"
    UPDATED = "token.updated"
    ENABLED = "token.enabled"
    DISABLED = "token.disabled"
    ROTATED = "token.rotated"
    DELETED = "token.deleted"
    EXPIRING = "token.expiring"
    EXPIRED = "token.expired"
    AUTO_DISABLED = "token.auto_disabled"
    REUSE_DETECTED = "token.reuse_detected"
    LEAKED = "token.leaked"
    POLICY_UPDATED = "policy.updated"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    tenant: str
    url: str
    events: tuple[str, ...]
    description: str
    active: bool
    #: Why the server disabled it (an endpoint failing for days); None when it did not.
    disabled_reason: str | None
    #: Since when every delivery to it has failed; None after a success.
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    secret_hash: str = field(repr=False)
    sealed_secret: bytes = field(repr=False)

    def wants(self, event_type: str) -> bool:
        return self.active and event_type in self.events


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event as recorded in the transaction of the change that caused it. ``body`` is the
    exact JSON sent, so every attempt signs the same bytes."""

    id: str
    tenant: str
    type: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    tenant: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: tuple[Attempt, ...]
    next_attempt_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """What the dispatcher needs to send one delivery."""

    id: int
    webhook_id: int
    url: str
    secret_hash: str
    sealed_secret: bytes = field(repr=False)
    event_id: str = ""
    body: str = ""
    attempts: int = 0
    created_at: datetime | None = None


MAX_URL = 2000
MAX_DESCRIPTION = 1000
MAX_WEBHOOKS_PER_TENANT = 50


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials (they would show in every listing).

    Where it points is checked at each delivery, after DNS resolution (``lifecycle/addresses``).
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Invalid(f"url must be 1 to {MAX_URL} characters")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise Invalid("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Invalid("url is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise Invalid("url must not carry credentials")
    if port == 0:
        raise Invalid("url has no valid port")
    return url


def check_events(events: Any) -> tuple[str, ...]:
    known = {e.value for e in EventType}
    if not isinstance(events, (list, tuple)) or not events:
        raise Invalid("events must list at least one event type")
    unknown = sorted({str(e) for e in events} - known)
    if unknown:
        raise Invalid(f"unknown event types: {', '.join(unknown)[:200]}")
    return tuple(dict.fromkeys(str(e) for e in events))


def check_description(description: str) -> str:
    limits.check_text("description", description, MAX_DESCRIPTION)
    return description


def is_public_address(address: str) -> bool:
    """Whether a webhook may be sent to ``address``: only globally routable ones. Loopback,
    private, link-local (cloud metadata at 169.254.169.254), shared, reserved and multicast
    addresses are refused, and so is an IPv6 form of any of them."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not embedded.is_global:
            return False
    return ip.is_global and not ip.is_multicast


def event_data(tenant: str, token: Token | None, now: datetime, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"tenant": tenant}
    if token is not None:
        data["token"] = token_document(token, now)
    data.update(extra)
    return data


def payload(event_type: str, now: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": instant(now), "data": dict(data)}


class OnIncident(StrEnum):
    DISABLE = "disable"
    NOTIFY = "notify"


DEFAULT_EXPIRY_NOTICES = (2_592_000, 604_800, 86_400)


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """A tenant's rules for its tokens. The defaults change nothing that works without one."""

    max_lifetime_seconds: int | None = None
    require_expiry: bool = False
    allowed_scopes: tuple[str, ...] | None = None
    allowed_audiences: tuple[str, ...] | None = None
    allow_recoverable: bool = True
    inactivity_disable_seconds: int | None = None
    expiry_notice_seconds: tuple[int, ...] = DEFAULT_EXPIRY_NOTICES
    on_reuse: OnIncident = OnIncident.DISABLE
    on_leak: OnIncident = OnIncident.DISABLE

    def as_stored(self) -> dict[str, Any]:
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
            "on_reuse": self.on_reuse.value,
            "on_leak": self.on_leak.value,
        }


POLICY_FIELDS = frozenset(TenantPolicy.__dataclass_fields__)
MAX_POLICY_LIST = 1000


def policy_of(values: Mapping[str, Any] | None) -> TenantPolicy:
    """A policy from its JSON form (a PUT body, a stored row), every field checked; a field
    not given takes its default. Unknown fields are refused, not ignored."""
    if not values:
        return TenantPolicy()
    if not isinstance(values, Mapping):
        raise Invalid("a policy is a JSON object")
    unknown = sorted(set(values) - POLICY_FIELDS)
    if unknown:
        raise Invalid(f"unknown policy fields: {', '.join(unknown)[:200]}")
    fields: dict[str, Any] = {}
    for name in ("max_lifetime_seconds", "inactivity_disable_seconds"):
        if values.get(name) is not None:
            fields[name] = _seconds(name, values[name])
    for name in ("require_expiry", "allow_recoverable"):
        if name in values:
            if not isinstance(values[name], bool):
                raise Invalid(f"{name} must be true or false")
            fields[name] = values[name]
    for name in ("allowed_scopes", "allowed_audiences"):
        if values.get(name) is not None:
            fields[name] = _strings(name, values[name])
    if "expiry_notice_seconds" in values:
        notices = values["expiry_notice_seconds"]
        if not isinstance(notices, (list, tuple)) or len(notices) > 10:
            raise Invalid("expiry_notice_seconds must list at most 10 numbers of seconds")
        fields["expiry_notice_seconds"] = tuple(
            sorted({_seconds("expiry_notice_seconds", n) for n in notices}, reverse=True)
        )
    for name in ("on_reuse", "on_leak"):
        if name in values:
            try:
                fields[name] = OnIncident(values[name])
            except ValueError:
                raise Invalid(f"{name} must be 'disable' or 'notify'") from None
    return TenantPolicy(**fields)


def _seconds(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"{name} must be a positive whole number of seconds")
    if value > limits.MAX_TTL_SECONDS:
        raise Invalid(f"{name} is more than {limits.MAX_TTL_SECONDS} seconds")
    return value


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_POLICY_LIST:
        raise Invalid(f"{name} must be a list of at most {MAX_POLICY_LIST} strings")
    for item in value:
        if not isinstance(item, str):
            raise Invalid(f"{name} must be a list of strings")
        limits.check_text(name, item, limits.MAX_ITEM)
    return tuple(dict.fromkeys(value))


def policy_violation(policy: TenantPolicy, token: Token, now: datetime) -> str | None:
    """The first policy field that ``token`` (as it would be stored) breaks, or None.

    ``now`` is the time of the change: the token may expire no later than now plus the
    maximum lifetime.
    """
    if policy.require_expiry and token.expires_at is None:
        return "require_expiry"
    if policy.max_lifetime_seconds is not None and (
        token.expires_at is None
        or (token.expires_at - now).total_seconds() > policy.max_lifetime_seconds
    ):
        return "max_lifetime_seconds"
    if policy.allowed_scopes is not None and not set(token.scopes) <= set(policy.allowed_scopes):
        return "allowed_scopes"
    if policy.allowed_audiences is not None and not set(token.audience) <= set(
        policy.allowed_audiences
    ):
        return "allowed_audiences"
    if not policy.allow_recoverable and token.recoverable:
        return "allow_recoverable"
    return None
