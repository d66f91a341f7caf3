"""Who may do what (docs/permissions.md): tenant bound, role bound, no escalation.

Every rule raises a domain error; the service calls them, the faces never repeat them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tokenward.domain.actors import ROOT_IDENTITY, Actor
from tokenward.domain.errors import Forbidden, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token

#: A token manages tokenward only when its audience names tokenward itself.
MANAGEMENT_AUDIENCE = "tokenward"


def may_manage(token: Token, now: datetime) -> bool:
    return token.is_valid(now) and MANAGEMENT_AUDIENCE in token.audience


def require_tenant(actor: Actor, tenant: str) -> None:
    """Another tenant is answered exactly like a tenant that does not exist (no oracle)."""
    if actor.tenant is not None and actor.tenant != tenant:
        raise NotFound("tenant not found")


def require_role(actor: Actor, role: Role, doing: str) -> None:
    if not actor.role.at_least(role):
        raise Forbidden(f"{doing} needs role {role} or higher; the caller is {actor.role}")


def require_root(actor: Actor, doing: str) -> None:
    require_role(actor, Role.ROOT, doing)


def check_grant(
    actor: Actor,
    *,
    role: Role,
    scopes: Iterable[str],
    expires_at: datetime | None,
) -> None:
    """A token never mints or raises a token above itself."""
    if role is Role.ROOT or not actor.role.at_least(role):
        raise Forbidden(
            f"cannot grant role {role}: the caller is {actor.role}", code="ROLE_ESCALATION"
        )
    if not actor.role.at_least(Role.ADMIN):
        missing = sorted(set(scopes) - actor.scopes)
        if missing:
            raise Forbidden(
                f"cannot grant scopes the caller does not hold: {', '.join(missing)}",
                code="SCOPE_ESCALATION",
            )
    if actor.expires_at is not None and (expires_at is None or expires_at > actor.expires_at):
        raise Forbidden(
            "cannot grant an expiry later than the caller's own", code="EXPIRY_ESCALATION"
        )


def check_acting_for(actor: Actor, user: str | None) -> None:
    """Below admin, a new token acts only for its creator: a token acting for ``alice`` could
    reveal alice's secrets, so naming her is no editor's to do."""
    if user is None or user == actor.identity or actor.role.at_least(Role.ADMIN):
        return
    raise Forbidden(
        "only an admin may issue a token that acts for another user", code="USER_NOT_ALLOWED"
    )


def check_change(actor: Actor, token: Token) -> None:
    """Editors change tokens up to their own role; admins every token of their tenant."""
    require_role(actor, Role.EDITOR, "changing a token")
    if not actor.role.at_least(token.role):
        raise Forbidden(f"cannot change a token of role {token.role}: the caller is {actor.role}")


def check_reveal(actor: Actor, token: Token) -> None:
    """Admins reveal any secret of their tenant; an editor only those of tokens that it owns
    or that act for it (the token's owner or user is the editor's identity), and only when
    it could have minted that token itself: a revealed secret is a credential in hand.

    The identity ``root`` never counts here: a token acting for it owns nothing of root's.
    """
    if actor.role.at_least(Role.ADMIN):
        return
    mine = actor.identity in (token.owner, token.user) and actor.identity != ROOT_IDENTITY
    if not (actor.role.at_least(Role.EDITOR) and mine):
        raise Forbidden("only an admin or the token's owner may reveal its secret")
    check_grant(actor, role=token.role, scopes=token.scopes, expires_at=token.expires_at)
