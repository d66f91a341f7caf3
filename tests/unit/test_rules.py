"""The rules that every face and use case shares, each from its one home in the domain."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from tokenward.domain import clock, limits, policy
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Invalid
from tokenward.domain.roles import Role
from tokenward.domain.tokens import PageRequest


@pytest.mark.parametrize(
    ("page", "whole"),
    [
        (PageRequest(0, 1), False),
        (PageRequest(limits.MAX_PAGE, limits.MAX_PAGE_SIZE), False),
        (PageRequest(3, None), True),
    ],
)
def test_pages_within_the_bounds_pass(page: PageRequest, whole: bool) -> None:
    limits.check_page(page, whole=whole)


@pytest.mark.parametrize(
    ("page", "whole", "message"),
    [
        (PageRequest(-1, 50), True, "page counts from 0"),
        # Beyond the last page a face lets a caller ask for: the CLI's and the client's too.
        (PageRequest(limits.MAX_PAGE + 1, 50), True, "page counts from 0"),
        (PageRequest(0, 0), True, "limit must be between 1 and"),
        (PageRequest(0, limits.MAX_PAGE_SIZE + 1), True, "limit must be between 1 and"),
        # Every match at once only where the listing allows it (tokens, not the audit trail).
        (PageRequest(0, None), False, "limit must be between 1 and"),
    ],
)
def test_pages_beyond_the_bounds_are_invalid(page: PageRequest, whole: bool, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        limits.check_page(page, whole=whole)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        # 19 digits: the store holds them, so every face looks them up (the dialects once
        # stopped at 18).
        (str(10**18), 10**18),
        (str(limits.MAX_TOKEN_ID), 2**63 - 1),
        (str(limits.MAX_TOKEN_ID + 1), None),
        ("9" * 30, None),
        ("0", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1.5", None),
        ("1e3", None),
        ("\u0661", None),  # an Arabic-Indic one: int() reads it, the store's ids are ASCII
        ("", None),
    ],
)
def test_a_path_names_a_token_id_only_within_the_stores_range(
    text: str, expected: int | None
) -> None:
    assert limits.token_id_of(text) == expected


def test_a_restricted_token_cannot_be_admin() -> None:
    with pytest.raises(Invalid) as raised:
        limits.check_restricted_role(True, Role.ADMIN)
    assert raised.value.code == "RESTRICTED_ADMIN"
    limits.check_restricted_role(True, Role.EDITOR)
    limits.check_restricted_role(False, Role.ADMIN)


def test_root_sees_every_tenant_and_a_token_its_own() -> None:
    root = Actor.root()
    member = dataclasses.replace(root, identity="alice", role=Role.ADMIN, tenant="acme")
    assert policy.sees_tenant(root, "acme") and policy.sees_tenant(root, "other")
    assert policy.sees_tenant(member, "acme")
    assert not policy.sees_tenant(member, "other")


def test_a_rotated_out_secret_is_dead_from_its_retirement_on() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert not secret_format.retired(None, now)  # the current secret
    assert not secret_format.retired(now + clock.MILLISECOND, now)
    assert secret_format.retired(now, now)
    assert secret_format.retired(now - clock.MILLISECOND, now)


def test_the_last_instant_is_the_last_millisecond_a_datetime_holds() -> None:
    assert clock.LAST_MILLIS == 253_402_300_799_999
    assert clock.from_millis(clock.LAST_MILLIS) == clock.LAST_INSTANT
    assert clock.truncate(datetime.max.replace(tzinfo=UTC)) == clock.LAST_INSTANT
