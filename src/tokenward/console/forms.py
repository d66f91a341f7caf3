"""Form fields to the service's shapes. Everything here is parsing; the rules (bounds,
no escalation, who may do what) are the service's and the domain's, checked there."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tokenward.domain.errors import Invalid
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    UNSET,
    Credits,
    RateLimit,
    Refill,
    RefillInterval,
    Token,
    TokenChanges,
    TokenSpec,
    TokenType,
)

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


def rate_limits(value: str) -> tuple[RateLimit, ...]:
    """One limit a line: its name, how many verifications, and the window in seconds
    (``per-minute 60 60``); the bounds are the domain's (``domain/limits.py``)."""
    found = []
    for line in value.splitlines():
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) != 3:
            raise Invalid(
                "a rate limit is a name, a count and a window in seconds, such as per-minute 60 60"
            )
        name, limit, window = parts
        found.append(
            RateLimit(name, integer(limit, "a rate limit's count"), integer(window, "a window"))
        )
    return tuple(found)


def credits(form: Mapping[str, str]) -> Credits | None:
    """Empty balance: no credits (unlimited). A refill needs an amount and an interval."""
    balance = text(form, "credits")
    amount = text(form, "refill_amount")
    if not balance:
        if amount:
            raise Invalid("a refill needs a credit balance")
        return None
    refill = None
    if amount:
        try:
            interval = RefillInterval(text(form, "refill_interval") or "daily")
        except ValueError:
            raise Invalid("the refill is daily or monthly") from None
        refill = Refill(integer(amount, "the refill amount"), interval)
    return Credits(integer(balance, "the credit balance"), refill)


def credit_fields(value: Credits | None) -> dict[str, str]:
    if value is None:
        return {"credits": "", "refill_amount": "", "refill_interval": "daily"}
    return {
        "credits": str(value.remaining),
        "refill_amount": str(value.refill.amount) if value.refill else "",
        "refill_interval": value.refill.interval.value if value.refill else "daily",
    }


def rate_limit_lines(value: tuple[RateLimit, ...]) -> str:
    return "\n".join(f"{r.name} {r.limit} {r.window_seconds}" for r in value)


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
        rate_limits=rate_limits(form.get("rate_limits", "")),
        credits=credits(form),
        ip_allowlist=words(form.get("ip_allowlist", "")),
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
    new_limits = rate_limits(form.get("rate_limits", ""))
    if new_limits != token.rate_limits:
        given["rate_limits"] = new_limits
    allowlist = words(form.get("ip_allowlist", ""))
    if allowlist != token.ip_allowlist:
        given["ip_allowlist"] = allowlist
    # The balance shown is the one last set: an untouched form leaves the live one alone.
    new_credits = credits(form)
    if new_credits != token.credits:
        given["credits"] = new_credits
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


def policy_values(form: Mapping[str, str]) -> dict[str, Any]:
    """The policy form as the JSON form ``lifecycle.policy_of`` reads (and checks): an empty
    number or list is "no rule"."""

    def seconds(name: str) -> int | None:
        value = text(form, name)
        return integer(value, name.replace("_", " ")) if value else None

    def listed(name: str) -> list[str] | None:
        value = words(form.get(name, ""))
        return list(value) if value else None

    return {
        "max_lifetime_seconds": seconds("max_lifetime_seconds"),
        "require_expiry": form.get("require_expiry") == "on",
        "allowed_scopes": listed("allowed_scopes"),
        "allowed_audiences": listed("allowed_audiences"),
        "allow_recoverable": form.get("allow_recoverable") == "on",
        "inactivity_disable_seconds": seconds("inactivity_disable_seconds"),
        "expiry_notice_seconds": [
            integer(value, "an expiry notice") for value in words(form.get("expiry_notices", ""))
        ],
        "on_reuse": text(form, "on_reuse") or "disable",
        "on_leak": text(form, "on_leak") or "disable",
    }


def policy_fields(values: Mapping[str, Any]) -> dict[str, str]:
    """A stored policy (``TenantPolicy.as_stored``) as the form shows it."""

    def shown(value: Any) -> str:
        return "" if value is None else str(value)

    return {
        "max_lifetime_seconds": shown(values["max_lifetime_seconds"]),
        "require_expiry": "on" if values["require_expiry"] else "",
        "allowed_scopes": "\n".join(values["allowed_scopes"] or ()),
        "allowed_audiences": "\n".join(values["allowed_audiences"] or ()),
        "allow_recoverable": "on" if values["allow_recoverable"] else "",
        "inactivity_disable_seconds": shown(values["inactivity_disable_seconds"]),
        "expiry_notices": ", ".join(str(n) for n in values["expiry_notice_seconds"]),
        "on_reuse": values["on_reuse"],
        "on_leak": values["on_leak"],
    }


def event_types(form: Any) -> list[str]:
    """The checked event boxes (``events`` repeated); the domain checks the names."""
    return [value for value in form.getlist("events") if isinstance(value, str)]
