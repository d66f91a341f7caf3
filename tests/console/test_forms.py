"""The console's form parsing: what it hands the service, and what it leaves unset."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from tokenward.console import forms
from tokenward.domain.errors import Invalid
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    Credits,
    RateLimit,
    Refill,
    RefillInterval,
    Token,
    TokenType,
)

TOKEN = Token(
    id=7,
    tenant="default",
    name="ci",
    description="",
    type=TokenType.GLOBAL,
    principal=None,
    owner="root",
    user="root",
    role=Role.EDITOR,
    scopes=("read", "write"),
    audience=("billing",),
    resources=(),
    restricted=False,
    active=True,
    expires_at=datetime(2027, 1, 31, 12, 0, 42, tzinfo=UTC),
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    last_used_at=None,
    secret_hash="0" * 64,
    secret_hint="tw_...abcd",
    sealed_secret=None,
    metadata={"team": "billing"},
)


def shown(token: Token) -> dict[str, str]:
    """The edit form as the page fills it in."""
    return {
        "name": token.name,
        "description": token.description,
        "role": token.role,
        "scopes": "\n".join(token.scopes),
        "audience": "\n".join(token.audience),
        "resources": "",
        "expires_at": forms.form_instant(token.expires_at),
        "metadata": '{"team": "billing"}',
    }


def test_an_untouched_edit_form_changes_nothing() -> None:
    # The expiry is shown to the minute; its seconds must not read as a change.
    assert forms.changes(shown(TOKEN), TOKEN).given() == {}


def test_only_the_fields_changed_are_given() -> None:
    form = shown(TOKEN) | {"name": "renamed", "scopes": "read", "expires_at": ""}
    given = forms.changes(form, TOKEN).given()
    assert given == {"name": "renamed", "scopes": ("read",), "expires_at": None}


def test_a_spec_from_every_field() -> None:
    spec = forms.spec(
        {
            "name": " made ",
            "type": "user",
            "principal": "alice",
            "role": "editor",
            "scopes": "read, write\nread",
            "audience": "billing",
            "resources": "",
            "restricted": "on",
            "active": "on",
            "expiry": "lifetime",
            "lifetime": "3",
            "lifetime_unit": "hours",
            "recoverable": "on",
            "metadata": '{"a": 1}',
        }
    )
    assert spec.name == "made" and spec.type is TokenType.USER and spec.principal == "alice"
    assert spec.scopes == ("read", "write") and spec.ttl_seconds == 3 * 3600
    assert spec.restricted and spec.active and spec.recoverable and spec.metadata == {"a": 1}
    assert spec.expires_at is None and spec.user is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("role", "root-ish"),
        ("type", "robot"),
        ("metadata", "[1, 2]"),
        ("metadata", "{not json"),
        ("expiry", "someday"),
    ],
)
def test_bad_fields_are_invalid_not_errors(field: str, value: str) -> None:
    with pytest.raises(Invalid):
        forms.spec({"name": "x", field: value})


def test_a_lifetime_needs_a_positive_amount_and_a_known_unit() -> None:
    with pytest.raises(Invalid):
        forms.spec({"name": "x", "expiry": "lifetime", "lifetime": "0", "lifetime_unit": "days"})
    with pytest.raises(Invalid):
        forms.spec({"name": "x", "expiry": "lifetime", "lifetime": "2", "lifetime_unit": "weeks"})
    with pytest.raises(Invalid):
        forms.spec({"name": "x", "expiry": "date", "expires_at": "31/01/2027"})


def test_an_expiry_date_is_read_as_utc() -> None:
    spec = forms.spec({"name": "x", "expiry": "date", "expires_at": "2027-01-31T12:00"})
    assert spec.expires_at == datetime(2027, 1, 31, 12, 0, tzinfo=UTC)


CONTROLLED = dataclasses.replace(
    TOKEN,
    rate_limits=(RateLimit("per-minute", 60, 60),),
    credits=Credits(40, Refill(100, RefillInterval.MONTHLY)),
    ip_allowlist=("10.0.0.0/8",),
)


def shown_with_controls(token: Token) -> dict[str, str]:
    return shown(token) | {
        "rate_limits": forms.rate_limit_lines(token.rate_limits),
        "ip_allowlist": "\n".join(token.ip_allowlist),
        **forms.credit_fields(token.credits),
    }


def test_an_untouched_form_leaves_the_controls_and_the_live_balance_alone() -> None:
    assert forms.changes(shown_with_controls(CONTROLLED), CONTROLLED).given() == {}


def test_controls_from_the_form() -> None:
    form = shown_with_controls(CONTROLLED) | {
        "rate_limits": "per-minute 60 60\nper-day, 1000, 86400",
        "credits": "",
        "refill_amount": "",
        "ip_allowlist": "10.0.0.0/8, 192.168.1.7",
    }
    given = forms.changes(form, CONTROLLED).given()
    assert given == {
        "rate_limits": (RateLimit("per-minute", 60, 60), RateLimit("per-day", 1000, 86400)),
        "credits": None,  # unlimited
        "ip_allowlist": ("10.0.0.0/8", "192.168.1.7"),
    }
    spec = forms.spec(
        {"name": "x", "credits": "5", "refill_amount": "9", "refill_interval": "daily"}
    )
    assert spec.credits == Credits(5, Refill(9, RefillInterval.DAILY))
    assert forms.spec({"name": "x"}).credits is None


@pytest.mark.parametrize(
    "form",
    [
        {"rate_limits": "per-minute 60"},
        {"rate_limits": "per-minute sixty 60"},
        {"credits": "many"},
        {"refill_amount": "10"},  # a refill without a balance
        {"credits": "1", "refill_amount": "10", "refill_interval": "weekly"},
    ],
)
def test_bad_controls_are_invalid(form: dict[str, str]) -> None:
    with pytest.raises(Invalid):
        forms.spec({"name": "x", **form})
