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
from tokenward.domain.tokens import Token, TokenType


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


def standing(kind: TokenType, principal: str | None, *, role: Role = Role.EDITOR) -> Actor:
    """``alice``'s management token standing for ``principal`` of type ``kind``."""
    return dataclasses.replace(
        actor(role, scopes=("workflow/read",)), kind=kind, principal=principal
    )


def stands(kind: TokenType, principal: str | None) -> Token:
    return grant(scopes=("workflow/read",), type=kind, principal=principal)


def test_below_admin_a_user_token_is_only_the_callers_own_user() -> None:
    """Attacker review: an editor minted a ``user`` token for any principal, i.e. was that
    user at the consuming service."""
    editor = standing(TokenType.GLOBAL, None)
    for kind in (TokenType.USER, TokenType.SESSION):
        policy.check_within(editor, stands(kind, "alice"))
        for other in ("bob", "root"):
            with pytest.raises(Forbidden) as caught:
                policy.check_within(editor, stands(kind, other))
            assert caught.value.code == "USER_NOT_ALLOWED"
            assert other not in caught.value.message
        policy.check_within(standing(TokenType.GLOBAL, None, role=Role.ADMIN), stands(kind, "bob"))
        policy.check_within(Actor.root(), stands(kind, "bob"))
    # A caller that is itself a user token issues for that user.
    policy.check_within(standing(TokenType.USER, "u-7"), stands(TokenType.USER, "u-7"))
    # A root-made editor acts for `root`, which is no user's identity.
    for_root = dataclasses.replace(editor, identity="root")
    with pytest.raises(Forbidden):
        policy.check_within(
            for_root, dataclasses.replace(stands(TokenType.USER, "root"), user="root")
        )


def test_below_admin_a_token_stands_within_the_callers_own_principal() -> None:
    """A scope is read as the principal's: a team editor's ``workflow/read`` is its team's."""
    everyone = standing(TokenType.GLOBAL, None)
    for kind, principal in (
        (TokenType.GLOBAL, None),
        (TokenType.TEAM, "t2"),
        (TokenType.WORKFLOW, "w"),
    ):
        policy.check_within(everyone, stands(kind, principal))
    team = standing(TokenType.TEAM, "t1")
    policy.check_within(team, stands(TokenType.TEAM, "t1"))
    for kind, principal in (
        (TokenType.TEAM, "t2"),
        (TokenType.WORKFLOW, "t1"),
        (TokenType.GLOBAL, None),
        (TokenType.USER, "alice"),
    ):
        with pytest.raises(Forbidden) as caught:
            policy.check_within(team, stands(kind, principal))
        assert caught.value.code == "USER_NOT_ALLOWED"
    user = standing(TokenType.USER, "alice")
    for kind, principal in ((TokenType.GLOBAL, None), (TokenType.TEAM, "t1")):
        with pytest.raises(Forbidden):
            policy.check_within(user, stands(kind, principal))
    policy.check_within(
        standing(TokenType.TEAM, "t1", role=Role.ADMIN), stands(TokenType.GLOBAL, None)
    )


def test_enabling_a_disabled_token_is_an_admins() -> None:
    """Attacker review: an editor re-enabled a token an admin had disabled."""
    on = grant(user="alice")
    off = dataclasses.replace(on, active=False)
    with pytest.raises(Forbidden):
        policy.check_enabling(actor(Role.EDITOR), off, on)
    policy.check_enabling(actor(Role.ADMIN), off, on)
    policy.check_enabling(Actor.root(), off, on)
    # Disabling, and any change that leaves the state as it is, needs no more.
    policy.check_enabling(actor(Role.EDITOR), on, off)
    policy.check_enabling(actor(Role.EDITOR), on, on)
    policy.check_enabling(actor(Role.EDITOR), off, off)


def test_a_restricted_caller_changes_only_tokens_within_its_resources() -> None:
    """Attacker review: a restricted editor disabled, deleted and narrowed any token."""
    narrow = actor(Role.EDITOR, restricted=True, resources=("b1", "b2"))
    within = dataclasses.replace(token(), restricted=True, resources=("b1",))
    policy.check_change(narrow, within)
    for outside in (
        token(),
        dataclasses.replace(token(), restricted=True, resources=("b1", "b3")),
    ):
        with pytest.raises(Forbidden) as caught:
            policy.check_change(narrow, outside)
        assert caught.value.code == "RESOURCE_ESCALATION"
    policy.check_change(actor(Role.EDITOR), token())
