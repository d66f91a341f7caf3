"""The token as tokenward shows it, never a secret: the one definition of its shape.

The native API's ``TokenPublic`` validates ``token_fields``, ``/v1/verify``'s fast path
writes it with orjson, and a webhook payload carries ``token_document`` (issue 18: "the token
as the API shows it"). One shape, so a field added to a token reaches all three at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from tokenward.domain import limits
from tokenward.domain.tokens import Credits, RateLimit, Token


def token_fields(token: Token, now: datetime) -> dict[str, Any]:
    """The fields, in the API schema's order, with their own types (enums, instants)."""
    return {
        "id": token.id,
        "tenant": token.tenant,
        "name": token.name,
        "description": token.description,
        "type": token.type,
        "principal": token.principal,
        "owner": token.owner,
        "user": token.user,
        "role": token.role,
        "scopes": list(token.scopes),
        "audience": list(token.audience),
        "resources": list(token.resources),
        "restricted": token.restricted,
        "active": token.active,
        "expired": token.is_expired(now),
        "expires_at": token.expires_at,
        "created_at": token.created_at,
        "updated_at": token.updated_at,
        "last_used_at": token.last_used_at,
        "secret_hint": token.secret_hint,
        "recoverable": token.recoverable,
        "metadata": dict(limits.answerable_metadata(token.metadata)),
        "rate_limits": [rate_limit_fields(rate) for rate in token.rate_limits],
        "credits": credits_fields(token.credits),
        "ip_allowlist": list(token.ip_allowlist),
    }


def token_document(token: Token, now: datetime) -> dict[str, Any]:
    """``token_fields`` as JSON values, written as the API writes them: enums by value,
    instants in UTC with ``Z``."""
    return {name: _json_value(value) for name, value in token_fields(token, now).items()}


def instant(moment: datetime | None) -> str | None:
    """As the native API writes an instant: ``...T18:57:14.133000Z``."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def rate_limit_fields(rate: RateLimit) -> dict[str, Any]:
    """A rate limit as the API shows and takes it."""
    return {"name": rate.name, "limit": rate.limit, "window_seconds": rate.window_seconds}


def credits_fields(credits: Credits | None) -> dict[str, Any] | None:
    """Credits as the API shows and takes them (None: unlimited)."""
    if credits is None:
        return None
    refill = credits.refill
    return {
        "remaining": credits.remaining,
        "refill": None
        if refill is None
        else {"amount": refill.amount, "interval": refill.interval.value},
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value
