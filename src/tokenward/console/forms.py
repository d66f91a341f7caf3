"""Form fields to the service's shapes. Everything here is parsing; the rules (bounds,
no escalation, who may do what) are the service's and the domain's, checked there."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tokenward.domain.errors import Invalid
from tokenward.domain.roles import Role
from tokenward.domain.tokens import UNSET, Token, TokenChanges, TokenSpec, TokenType

LIFETIME_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


def text(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "").strip()


def words(value: str) -> tuple[str, ...]:
    """A list typed as one value per line or separated by commas; repeats dropped."""
    parts = (part.strip() for line in value.splitlines() for part in line.split(","))
    return tuple(dict.fromkeys(part for part in parts if part))


def role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid(f"unknown role {value!r}") from None


def token_type(value: str) -> TokenType:
    try:
        return TokenType(value)
    except ValueError:
        raise Invalid(f"unknown token type {value!r}") from None


def instant(value: str, label: str) -> datetime | None:
    """A date (midnight) or a date and time, in UTC, as the form's fields send them."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{label} must be a date such as 2027-01-31 or 2027-01-31T12:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def metadata(value: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        raise Invalid('metadata must be a JSON object, such as {"team": "billing"}') from None
    if not isinstance(parsed, dict):
        raise Invalid('metadata must be a JSON object, such as {"team": "billing"}')
    return parsed


def integer(value: str, label: str, *, default: int = 0) -> int:
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{label} must be a whole number") from None


def spec(form: Mapping[str, str]) -> TokenSpec:
    expiry = text(form, "expiry") or "none"
    expires_at = None
    ttl_seconds = None
    if expiry == "date":
        expires_at = instant(text(form, "expires_at"), "the expiry")
        if expires_at is None:
            raise Invalid("choose the expiry date, or another kind of expiry")
    elif expiry == "lifetime":
        unit = LIFETIME_UNITS.get(text(form, "lifetime_unit"))
        if unit is None:
            raise Invalid("the lifetime's unit must be minutes, hours or days")
        amount = integer(text(form, "lifetime"), "the lifetime")
        if amount <= 0:
            raise Invalid("the lifetime must be a positive number")
        ttl_seconds = amount * unit
    elif expiry != "none":
        raise Invalid("the expiry is none, a date or a lifetime")
    return TokenSpec(
        name=text(form, "name"),
        description=text(form, "description"),
        type=token_type(text(form, "type") or "global"),
        principal=text(form, "principal") or None,
        user=text(form, "user") or None,
        role=role(text(form, "role") or "viewer"),
        scopes=words(form.get("scopes", "")),
        audience=words(form.get("audience", "")),
        resources=words(form.get("resources", "")),
        restricted=form.get("restricted") == "on",
        active=form.get("active") == "on",
        expires_at=expires_at,
        ttl_seconds=ttl_seconds,
        recoverable=form.get("recoverable") == "on",
        metadata=metadata(text(form, "metadata")),
    )


def changes(form: Mapping[str, str], token: Token) -> TokenChanges:
    """Only what the form changes from the token as it was shown: a field left as it was
    stays unset, so the rules judge exactly what the operator asked for."""
    given: dict[str, Any] = {}
    name = text(form, "name")
    if name != token.name:
        given["name"] = name
    description = text(form, "description")
    if description != token.description:
        given["description"] = description
    new_role = role(text(form, "role") or token.role)
    if new_role != token.role:
        given["role"] = new_role
    for field in ("scopes", "audience", "resources"):
        value = words(form.get(field, ""))
        if value != getattr(token, field):
            given[field] = value
    restricted = form.get("restricted") == "on"
    if restricted != token.restricted:
        given["restricted"] = restricted
    expires_at = instant(text(form, "expires_at"), "the expiry")
    if expires_at != _minute(token.expires_at):
        given["expires_at"] = expires_at
    new_metadata = metadata(text(form, "metadata"))
    if new_metadata != dict(token.metadata):
        given["metadata"] = new_metadata
    return TokenChanges(**given) if given else TokenChanges(name=UNSET)


def _minute(moment: datetime | None) -> datetime | None:
    """The form shows instants to the minute: an untouched field must compare equal."""
    if moment is None:
        return None
    return (
        moment.replace(second=0, microsecond=0) if moment.second or moment.microsecond else moment
    )


def form_instant(moment: datetime | None) -> str:
    """An instant as a ``datetime-local`` field's value, in UTC."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
