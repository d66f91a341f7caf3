"""A token and an instant for the unit tests of the domain's rules."""

from __future__ import annotations

from datetime import UTC, datetime

from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token, TokenType

NOW = datetime(2026, 1, 1, tzinfo=UTC)


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
