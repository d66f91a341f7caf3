"""Who may do what: tenant bound, role bound, no escalation."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.unit.support import NOW, token
from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Forbidden, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token


def actor(
    role: Role,
    *,
    scopes: tuple[str, ...] = (),
    expires: datetime | None = None,
    audience: tuple[str, ...] = ("tokenward",),
    restricted: bool = False,
    resources: tuple[str, ...] = (),
) -> Actor:
    return Actor(
        identity="alice",
        role=role,
        tenant="acme",
        scopes=frozenset(scopes),
        expires_at=expires,
        token_id=7,
        audience=frozenset(audience),
        restricted=restricted,
        resources=frozenset(resources),
    )


def grant(
    role: Role = Role.VIEWER,
    *,
    scopes: tuple[str, ...] = (),
    expires: datetime | None = None,
    user: str = "alice",
    **fields: Any,
) -> Token:
    """A credential as ``alice`` would hold it: acting for her unless told."""
    return dataclasses.replace(
        token(role, owner="alice", user=user),
        scopes=scopes,
        expires_at=expires,
        **fields,
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
        policy.check_within(granter, grant(granted))
    else:
        with pytest.raises(Forbidden) as caught:
            policy.check_within(granter, grant(granted))
        assert caught.value.code == "ROLE_ESCALATION"


def test_editor_grants_only_scopes_it_holds() -> None:
    editor = actor(Role.EDITOR, scopes=("read", "write"))
    policy.check_within(editor, grant(scopes=("read",)))
    with pytest.raises(Forbidden) as caught:
        policy.check_within(editor, grant(scopes=("read", "admin")))
    assert caught.value.code == "SCOPE_ESCALATION"
    assert "admin" not in caught.value.message  # the request's words are not repeated


def test_admin_grants_any_scope_and_audience() -> None:
    policy.check_within(actor(Role.ADMIN), grant(scopes=("x", "y"), audience=("billing",)))


def test_editor_grants_only_audiences_it_holds_and_tokenward() -> None:
    editor = actor(Role.EDITOR, audience=("tokenward", "billing"))
    policy.check_within(editor, grant(Role.EDITOR, audience=("tokenward", "billing")))
    with pytest.raises(Forbidden) as caught:
        policy.check_within(editor, grant(audience=("payroll",)))
    assert caught.value.code == "AUDIENCE_ESCALATION"
    assert "payroll" not in caught.value.message


def test_a_restricted_caller_grants_only_restricted_tokens_within_its_resources() -> None:
    narrow = actor(Role.EDITOR, restricted=True, resources=("b1", "b2"))
    policy.check_within(narrow, grant(restricted=True, resources=("b1",)))
    for wider in (
        grant(restricted=False),
        grant(restricted=True, resources=("b1", "b3")),
    ):
        with pytest.raises(Forbidden) as caught:
            policy.check_within(narrow, wider)
        assert caught.value.code == "RESOURCE_ESCALATION"
    # An unrestricted caller reaches every resource: it may hand out either kind.
    policy.check_within(actor(Role.EDITOR), grant(restricted=False))


def test_expiry_never_later_than_an_expiring_granter() -> None:
    expires = NOW + timedelta(days=1)
    granter = actor(Role.ADMIN, expires=expires)
    policy.check_within(granter, grant(expires=expires))
    for asked in (None, expires + timedelta(milliseconds=1)):
        with pytest.raises(Forbidden) as caught:
            policy.check_within(granter, grant(expires=asked))
        assert caught.value.code == "EXPIRY_ESCALATION"


def test_below_admin_a_credential_acts_only_for_the_caller() -> None:
    with pytest.raises(Forbidden) as caught:
        policy.check_within(actor(Role.EDITOR), grant(user="bob"))
    assert caught.value.code == "USER_NOT_ALLOWED"
    policy.check_within(actor(Role.ADMIN), grant(user="bob"))


def test_owner_named_by_an_admin_not_an_editor() -> None:
    policy.check_owner(actor(Role.EDITOR), "alice")
    policy.check_owner(actor(Role.ADMIN), "bob")
    policy.check_owner(Actor.root(), "bob")
    with pytest.raises(Forbidden) as caught:
        policy.check_owner(actor(Role.EDITOR), "bob")
    assert caught.value.code == "OWNER_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("change", "wider"),
    [
        ({"name": "renamed", "description": "d", "metadata": {"k": 1}}, False),
        ({"role": Role.EDITOR}, True),
        ({"scopes": ("a", "b", "c")}, True),
        ({"scopes": ("a",)}, False),
        ({"audience": ("x", "y")}, True),
        ({"audience": ()}, False),
        ({"active": False}, False),
        ({"expires_at": NOW + timedelta(days=2)}, True),
        ({"expires_at": None}, True),
        ({"expires_at": NOW + timedelta(hours=1)}, False),
        ({"restricted": False}, True),
        ({"resources": ("r1", "r2")}, True),
        ({"resources": ()}, False),
    ],
)
def test_what_widens(change: dict[str, Any], wider: bool) -> None:
    before = dataclasses.replace(
        token(Role.VIEWER),
        scopes=("a", "b"),
        audience=("x",),
        restricted=True,
        resources=("r1",),
        expires_at=NOW + timedelta(days=1),
    )
    assert policy.widens(before, dataclasses.replace(before, **change)) is wider
    # Enabling a disabled token puts it back in force; an unrestricted one reaches all.
    disabled = dataclasses.replace(before, active=False)
    assert policy.widens(disabled, before)
    editor = dataclasses.replace(before, role=Role.EDITOR)
    assert not policy.widens(editor, before)
    free = dataclasses.replace(before, restricted=False)
    assert not policy.widens(free, dataclasses.replace(free, restricted=True, resources=()))


def test_change_bound_by_role() -> None:
    with pytest.raises(Forbidden):
        policy.check_change(actor(Role.VIEWER), token(Role.VIEWER))
    policy.check_change(actor(Role.EDITOR), token(Role.EDITOR))
    with pytest.raises(Forbidden):
        policy.check_change(actor(Role.EDITOR), token(Role.ADMIN))
    policy.check_change(actor(Role.ADMIN), token(Role.ADMIN))


def test_reveal_rules() -> None:
    policy.check_reveal(actor(Role.ADMIN), token())
    policy.check_reveal(actor(Role.EDITOR), token(owner="alice", user="alice"))
    policy.check_reveal(actor(Role.EDITOR), token(user="alice"))
    with pytest.raises(Forbidden):
        policy.check_reveal(actor(Role.EDITOR), token())
    with pytest.raises(Forbidden):
        policy.check_reveal(actor(Role.VIEWER), token(owner="alice"))
    # Owned by the editor but acting for bob: revealing it would hand over bob's identity.
    with pytest.raises(Forbidden) as caught:
        policy.check_reveal(actor(Role.EDITOR), token(owner="alice"))
    assert caught.value.code == "USER_NOT_ALLOWED"
    # A revealed secret is a credential in hand: an expiring admin sees no permanent one.
    with pytest.raises(Forbidden) as caught:
        policy.check_reveal(actor(Role.ADMIN, expires=NOW + timedelta(minutes=10)), token())
    assert caught.value.code == "EXPIRY_ESCALATION"


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
