"""Whether a reading shows a token's secret: a pure rule (``policy.shows_secret``), the same
answer as asking ``reveal`` would give, without a transaction or an audit record."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.support import token as unit_token
from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Forbidden
from tokenward.domain.roles import Role
from tokenward.domain.tokens import SEALED_COPY_NOT_IMPORTED, Token

SEALED = b"\x01sealed"


def actor(role: Role) -> Actor:
    """``alice``, a management token of tenant ``acme`` holding no scopes."""
    return Actor(
        identity="alice",
        role=role,
        tenant="acme",
        scopes=frozenset(),
        expires_at=None,
        token_id=7,
        audience=frozenset({"tokenward"}),
    )


def token(role: Role = Role.VIEWER, *, owner: str = "bob", user: str = "bob") -> Token:
    return dataclasses.replace(unit_token(role, owner=owner, user=user), sealed_secret=SEALED)


def grant(role: Role = Role.VIEWER, *, scopes: tuple[str, ...] = ()) -> Token:
    """A token of alice's own."""
    return dataclasses.replace(token(role, owner="alice", user="alice"), scopes=scopes)


def sealed(t: Token) -> Token:
    return dataclasses.replace(t, sealed_secret=SEALED)


@pytest.mark.parametrize(
    ("caller", "target", "shown"),
    [
        (actor(Role.ADMIN), sealed(token(Role.EDITOR)), True),
        # The owner, an editor that could have minted it.
        (actor(Role.EDITOR), sealed(grant(Role.VIEWER)), True),
        # Another's token, to an editor; any token, to a viewer.
        (actor(Role.EDITOR), sealed(token(Role.VIEWER)), False),
        (actor(Role.VIEWER), sealed(grant(Role.VIEWER)), False),
        # The owner's own token, but more than the owner could mint (a scope it lacks).
        (actor(Role.EDITOR), sealed(grant(Role.VIEWER, scopes=("write",))), False),
        # Nothing kept to show: not recoverable, or its sealed copy was not imported.
        (actor(Role.ADMIN), dataclasses.replace(token(Role.EDITOR), sealed_secret=None), False),
        (
            actor(Role.ADMIN),
            dataclasses.replace(token(Role.EDITOR), sealed_secret=SEALED_COPY_NOT_IMPORTED),
            False,
        ),
    ],
)
def test_shows_secret(caller: Actor, target: Token, shown: bool) -> None:
    assert policy.shows_secret(caller, target) is shown


def test_shows_secret_agrees_with_the_reveal_rule() -> None:
    """Where the token kept a secret, the rule shows it exactly when ``check_reveal`` passes."""
    for caller in (actor(Role.VIEWER), actor(Role.EDITOR), actor(Role.ADMIN)):
        for target in (token(Role.VIEWER), grant(Role.VIEWER), token(Role.ADMIN)):
            try:
                policy.check_reveal(caller, target)
                allowed = True
            except Forbidden:
                allowed = False
            assert policy.shows_secret(caller, sealed(target)) is allowed
