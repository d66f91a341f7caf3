"""Who may do what (docs/permissions.md): tenant bound, role bound, no escalation.

Every rule raises a domain error; the service calls them, the faces never repeat them. The one
no-escalation rule is ``check_within``; ``widens`` says when a change must obey it.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

from tokenward.domain.actors import ROOT_IDENTITY, Actor
from tokenward.domain.errors import ErrorCode, Forbidden, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Credits, RateLimit, RefillInterval, Token, TokenType

#: A token manages tokenward only when its audience names tokenward itself.
MANAGEMENT_AUDIENCE = "tokenward"

#: Types whose principal is a user: such a token *is* that user at the consuming service
#: (Boomerang's user tokens; the subject of OAuth 2.0 introspection).
USER_TYPES = frozenset({TokenType.USER, TokenType.SESSION})


def may_manage(token: Token, now: datetime) -> bool:
    return token.is_valid(now) and MANAGEMENT_AUDIENCE in token.audience


def sees_tenant(actor: Actor, tenant: str) -> bool:
    """Root sees every tenant; a token only its own."""
    return actor.tenant is None or actor.tenant == tenant


def require_tenant(actor: Actor, tenant: str) -> None:
    """Another tenant is answered exactly like a tenant that does not exist (no oracle)."""
    if not sees_tenant(actor, tenant):
        raise NotFound("tenant not found", resource="tenant")


def require_role(actor: Actor, role: Role, doing: str) -> None:
    if not actor.role.at_least(role):
        raise Forbidden(f"{doing} needs role {role} or higher; the caller is {actor.role}")


def require_root(actor: Actor, doing: str) -> None:
    require_role(actor, Role.ROOT, doing)


def check_within(actor: Actor, credential: Token, *, existing: bool = False) -> None:
    """The caller could have minted exactly ``credential``: it may come to hold, hand out or put
    back in force nothing more powerful than itself (docs/permissions.md, field by field).

    ``existing``: the credential is a stored token the caller would take over or put back in
    force (rotate, reveal, a widening change), not one it mints now; see ``check_acting_for``.

    Root passes every check but the role (no token is root). The messages name the dimension,
    never the request's values: a scope or a name pasted by mistake may be a secret.
    """
    if credential.role is Role.ROOT or not actor.role.at_least(credential.role):
        raise Forbidden(
            f"cannot grant role {credential.role}: the caller is {actor.role}",
            code=ErrorCode.ROLE_ESCALATION,
        )
    # Scopes and audiences are the consuming services' vocabulary: an admin of the tenant is
    # trusted with all of it, an editor hands out only the words it holds itself.
    below_admin = not actor.role.at_least(Role.ADMIN)
    if below_admin and not set(credential.scopes) <= actor.scopes:
        raise Forbidden(
            "cannot grant scopes the caller does not hold", code=ErrorCode.SCOPE_ESCALATION
        )
    # `tokenward` in the audience is management power, which the role above already bounds.
    if below_admin and not set(credential.audience) - {MANAGEMENT_AUDIENCE} <= actor.audience:
        raise Forbidden(
            "cannot grant an audience the caller does not hold", code=ErrorCode.AUDIENCE_ESCALATION
        )
    if actor.restricted and not (
        credential.restricted and set(credential.resources) <= actor.resources
    ):
        raise Forbidden(
            "a restricted caller grants only restricted tokens within its own resources",
            code=ErrorCode.RESOURCE_ESCALATION,
        )
    if actor.expires_at is not None and (
        credential.expires_at is None or credential.expires_at > actor.expires_at
    ):
        raise Forbidden(
            "cannot grant an expiry later than the caller's own", code=ErrorCode.EXPIRY_ESCALATION
        )
    # The caller's own token is its own whoever it acts for (a root-made editor rotates itself).
    taking_over = existing and credential.id != actor.token_id
    check_acting_for(actor, credential.user, existing=taking_over)
    check_standing(actor, credential.type, credential.principal)


def widens(before: Token, after: Token) -> bool:
    """Whether a change gives the token any power it did not have; then the whole result must
    be within the caller (``check_within``). A change that only narrows needs ``check_change``.

    Every dimension of ``check_within`` counts, and ``active`` too: enabling puts the token
    back in force, as does an expiry moved later or cleared.
    """
    return (
        after.role.rank > before.role.rank
        or not set(after.scopes) <= set(before.scopes)
        or not set(after.audience) <= set(before.audience)
        or _reaches_further(before, after)
        or (after.active and not before.active)
        or _later(after.expires_at, before.expires_at)
        or after.user != before.user
        or loosens_controls(before, after)
    )


def loosens_controls(before: Token, after: Token) -> bool:
    """Whether a change lets the token be used more, or from more places: a rate limit
    removed or raised, credits added or removed, an allowlist widened or cleared. Tightening
    any of them is an editor's to do; loosening needs the right to mint the loosened token."""
    return (
        _rates_loosen(before.rate_limits, after.rate_limits)
        or _credits_loosen(before.credits, after.credits)
        or _allowlist_loosens(before.ip_allowlist, after.ip_allowlist)
    )


def _rates_loosen(before: tuple[RateLimit, ...], after: tuple[RateLimit, ...]) -> bool:
    """Every limit before must still be implied by one after: no more verifications in a
    window at least as long (at most ``limit`` in ``window`` bounds every shorter window)."""
    return not all(
        any(new.limit <= old.limit and new.window_seconds >= old.window_seconds for new in after)
        for old in before
    )


def _credits_loosen(before: Credits | None, after: Credits | None) -> bool:
    """None is unlimited. A refill that gives more, or more often, loosens too."""
    if before is None:
        return False
    if after is None or after.remaining > before.remaining:
        return True
    if after.refill is None:
        return False
    if before.refill is None:
        return True
    more_often = (
        after.refill.interval is RefillInterval.DAILY
        and before.refill.interval is RefillInterval.MONTHLY
    )
    return more_often or after.refill.amount > before.refill.amount


def _allowlist_loosens(before: tuple[str, ...], after: tuple[str, ...]) -> bool:
    """Empty allows any address. Each range after must lie within one before."""
    if not before:
        return False
    if not after:
        return True
    old = [ipaddress.ip_network(entry) for entry in before]
    for entry in after:
        new = ipaddress.ip_network(entry)
        if not any(
            new.version == net.version and new.subnet_of(net)  # type: ignore[arg-type]
            for net in old
        ):
            return True
    return False


def _reaches_further(before: Token, after: Token) -> bool:
    """An unrestricted token reaches every resource; a restricted one only those it lists."""
    if not before.restricted:
        return False
    return not after.restricted or not set(after.resources) <= set(before.resources)


def _later(after: datetime | None, before: datetime | None) -> bool:
    """``None`` is never: later than any instant."""
    if before is None:
        return False
    return after is None or after > before


def check_owner(actor: Actor, owner: str) -> None:
    """Below admin the owner is the creator: an owner reveals what it owns. An admin may issue
    on behalf of another owner of its tenant (the tenant is bound before this is asked); root
    for anyone."""
    if owner != actor.identity and not actor.role.at_least(Role.ADMIN):
        raise Forbidden(
            "only an admin may issue a token on behalf of another owner",
            code=ErrorCode.OWNER_NOT_ALLOWED,
        )


def check_acting_for(actor: Actor, user: str | None, *, existing: bool = False) -> None:
    """Below admin, a token acts only for the caller: a token acting for ``alice`` could reveal
    alice's secrets, so naming her, or handing out or widening a token that acts for her, is no
    editor's to do.

    The identity ``root`` is no one's own among existing tokens (as in ``check_reveal``): every
    token root makes without naming a user acts for ``root``, so a root-made editor (whose
    identity is ``root`` too) would otherwise take over, by rotation, or put back in force every
    other root-made token within its power, those of other services included. It may still
    mint tokens, which act for ``root`` like itself and give it nothing: it can neither reveal
    nor rotate them.
    """
    if user is None or actor.role.at_least(Role.ADMIN):
        return
    if user == actor.identity and not (existing and user == ROOT_IDENTITY):
        return
    raise Forbidden(
        "only an admin may issue or widen a token that acts for another user",
        code=ErrorCode.USER_NOT_ALLOWED,
    )


def check_standing(actor: Actor, kind: TokenType, principal: str | None) -> None:
    """Below admin, a token stands for no one but the caller (docs/permissions.md).

    A token's type and principal say whom it stands for at the consuming service, and its
    scopes are read there as that principal's: ``workflow/read`` on a ``team`` token of ``t2``
    reads t2's workflows. So a caller whose own token stands for one principal (a team, a
    workflow, a user) issues only tokens standing for that same principal: otherwise it would
    hand out its scopes over another principal's objects. A ``global`` caller stands for every
    principal: it may issue global, team and workflow tokens, which reach no further than
    itself. A ``user`` or ``session`` token *is* its principal, the user, whatever the caller's
    scopes: below admin its principal is the caller's own identity (never ``root``, no user of
    anyone's: see ``check_acting_for``), or its own principal when it is itself such a token.
    An admin names any principal of its tenant, as it names any user or owner.
    """
    if actor.role.at_least(Role.ADMIN):
        return
    if (kind, principal) == (actor.kind, actor.principal):
        return
    if actor.kind is TokenType.GLOBAL:
        if kind not in USER_TYPES:
            return
        if principal == actor.identity and principal != ROOT_IDENTITY:
            return
    raise Forbidden(
        "only an admin may issue a token that stands for another principal",
        code=ErrorCode.USER_NOT_ALLOWED,
    )


def check_change(actor: Actor, token: Token) -> None:
    """Editors change tokens up to their own role; admins every token of their tenant.

    A restricted caller reaches only its own resources: it changes, disables, deletes or
    rotates only restricted tokens within them, as those are the only ones it could mint.
    """
    require_role(actor, Role.EDITOR, "changing a token")
    if not actor.role.at_least(token.role):
        raise Forbidden(f"cannot change a token of role {token.role}: the caller is {actor.role}")
    if actor.restricted and not (token.restricted and set(token.resources) <= actor.resources):
        raise Forbidden(
            "a restricted caller manages only restricted tokens within its own resources",
            code=ErrorCode.RESOURCE_ESCALATION,
        )


def check_enabling(actor: Actor, before: Token, after: Token) -> None:
    """Putting a disabled token back in force is an admin's (docs/permissions.md).

    A token is disabled as a sanction or because its secret leaked, and the token does not
    carry who disabled it: were an editor to enable every token it could mint, it would undo
    an admin's disable of a token it made. An editor that needs the
    power mints a new token instead, with a new secret.
    """
    if after.active and not before.active:
        require_role(actor, Role.ADMIN, "enabling a disabled token")


def check_reveal(actor: Actor, token: Token) -> None:
    """Admins reveal any secret of their tenant; an editor only those of tokens that it owns
    or that act for it (the token's owner or user is the editor's identity). And, for every
    caller, only a secret it could have minted itself (``check_within``): a revealed secret is
    a credential in hand, and an admin that expires in ten minutes must not take home a
    permanent one.

    The identity ``root`` never counts here: a token acting for it owns nothing of root's.
    """
    if not actor.role.at_least(Role.ADMIN):
        mine = actor.identity in (token.owner, token.user) and actor.identity != ROOT_IDENTITY
        if not (actor.role.at_least(Role.EDITOR) and mine):
            raise Forbidden("only an admin or the token's owner may reveal its secret")
    check_within(actor, token, existing=True)


def shows_secret(actor: Actor, token: Token) -> bool:
    """Whether revealing ``token`` would show this caller its secret: the caller may
    (``check_reveal``) and the token kept one (created recoverable, its sealed copy present).
    A face that shows the secret where it can and a mask elsewhere asks here, not by trying."""
    if token.sealed_secret is None or token.sealed_copy_missing:
        return False
    try:
        check_reveal(actor, token)
    except Forbidden:
        return False
    return True
