"""Who may do what: tenant bound, role bound, no escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Forbidden, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token, TokenType

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def actor(role: Role, *, scopes: tuple[str, ...] = (), expires: datetime | None = None) -> Actor:
    return Actor(
        identity="alice",
        role=role,
        tenant="acme",
        scopes=frozenset(scopes),
        expires_at=expires,
        token_id=7,
    )


def token(role: Role = Role.VIEWER, *, owner: str = "bob", user: str = "bob") -> Token:
    return Token(
        id=1,
        tenant="acme",
        name="t",
        description="",
        type=TokenType.GLOBAL,
        principal=None,
        owner=owner,
        user=user,
        role=role,
        scopes=(),
        audience=(),
        resources=(),
        restricted=False,
        active=True,
        expires_at=None,
        created_at=NOW,
        updated_at=NOW,
        last_used_at=None,
        secret_hash="0" * 64,
        secret_hint="tw_...abcde",
        sealed_secret=b"sealed",
        metadata={},
    )


def test_other_tenant_is_not_found() -> None:
    with pytest.raises(NotFound):
        policy.require_tenant(actor(Role.ADMIN), "other")
    policy.require_tenant(actor(Role.VIEWER), "acme")
    policy.require_tenant(Actor.root(), "anything")


@pytest.mark.parametrize(
    ("mine", "granted", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.EDITOR, Role.EDITOR, True),
        (Role.EDITOR, Role.ADMIN, False),
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.ROOT, False),
        (Role.ROOT, Role.ADMIN, True),
        (Role.ROOT, Role.ROOT, False),
    ],
)
def test_role_never_above_the_granter(mine: Role, granted: Role, allowed: bool) -> None:
    granter = Actor.root() if mine is Role.ROOT else actor(mine)
    if allowed:
        policy.check_grant(granter, role=granted, scopes=(), expires_at=None)
    else:
        with pytest.raises(Forbidden) as caught:
            policy.check_grant(granter, role=granted, scopes=(), expires_at=None)
        assert caught.value.code == "ROLE_ESCALATION"


def test_editor_grants_only_scopes_it_holds() -> None:
    editor = actor(Role.EDITOR, scopes=("read", "write"))
    policy.check_grant(editor, role=Role.VIEWER, scopes=("read",), expires_at=None)
    with pytest.raises(Forbidden) as caught:
        policy.check_grant(editor, role=Role.VIEWER, scopes=("read", "admin"), expires_at=None)
    assert caught.value.code == "SCOPE_ESCALATION"
    assert "admin" in caught.value.message


def test_admin_grants_any_scope() -> None:
    policy.check_grant(actor(Role.ADMIN), role=Role.VIEWER, scopes=("x", "y"), expires_at=None)


def test_expiry_never_later_than_an_expiring_granter() -> None:
    expires = NOW + timedelta(days=1)
    granter = actor(Role.ADMIN, expires=expires)
    policy.check_grant(granter, role=Role.VIEWER, scopes=(), expires_at=expires)
    for asked in (None, expires + timedelta(milliseconds=1)):
        with pytest.raises(Forbidden) as caught:
            policy.check_grant(granter, role=Role.VIEWER, scopes=(), expires_at=asked)
        assert caught.value.code == "EXPIRY_ESCALATION"


def test_change_bound_by_role() -> None:
    with pytest.raises(Forbidden):
        policy.check_change(actor(Role.VIEWER), token(Role.VIEWER))
    policy.check_change(actor(Role.EDITOR), token(Role.EDITOR))
    with pytest.raises(Forbidden):
        policy.check_change(actor(Role.EDITOR), token(Role.ADMIN))
    policy.check_change(actor(Role.ADMIN), token(Role.ADMIN))


def test_reveal_rules() -> None:
    policy.check_reveal(actor(Role.ADMIN), token())
    policy.check_reveal(actor(Role.EDITOR), token(owner="alice"))
    policy.check_reveal(actor(Role.EDITOR), token(user="alice"))
    with pytest.raises(Forbidden):
        policy.check_reveal(actor(Role.EDITOR), token())
    with pytest.raises(Forbidden):
        policy.check_reveal(actor(Role.VIEWER), token(owner="alice"))


def test_a_token_acting_for_root_owns_nothing_of_roots() -> None:
    for_root = Actor(
        identity="root",
        role=Role.EDITOR,
        tenant="acme",
        scopes=frozenset(),
        expires_at=None,
        token_id=3,
    )
    with pytest.raises(Forbidden):
        policy.check_reveal(for_root, token(owner="root", user="root"))


def test_management_needs_the_tokenward_audience() -> None:
    plain = token()
    assert not policy.may_manage(plain, NOW)
    managing = Token(
        **{**{f: getattr(plain, f) for f in Token.__dataclass_fields__}, "audience": ("tokenward",)}
    )
    assert policy.may_manage(managing, NOW)
    disabled = Token(
        **{**{f: getattr(managing, f) for f in Token.__dataclass_fields__}, "active": False}
    )
    assert not policy.may_manage(disabled, NOW)
