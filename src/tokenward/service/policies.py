"""Tenant policies (docs/lifecycle.md): the rules a tenant's admins set for its tokens, and
their enforcement on every path that yields or widens a token, whatever the face.

A violation is ``PolicyViolation`` (code ``POLICY_VIOLATION``) and a message naming the field.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from tokenward.domain import lifecycle, policy
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditEntry
from tokenward.domain.errors import PolicyViolation
from tokenward.domain.lifecycle import EventType, OnIncident, TenantPolicy
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token
from tokenward.service import events, tenants
from tokenward.service.core import Core
from tokenward.service.ports import UnitOfWork

#: Actions that only narrow a token: a policy never stands in their way.
_NARROWING = frozenset({"token.disable", "token.revoke"})


def _require_admin(actor: Actor, tenant: str) -> None:
    policy.require_tenant(actor, tenant)
    policy.require_role(actor, Role.ADMIN, "managing the tenant's policy")


def get(core: Core, actor: Actor, *, tenant: str) -> TenantPolicy:
    _require_admin(actor, tenant)
    with core.uow() as uow:
        tenants.existing(uow, tenant)
        return of(uow, tenant)


def put(core: Core, actor: Actor, *, tenant: str, values: dict[str, Any]) -> TenantPolicy:
    """Replaces the tenant's policy (a field not given takes its default). A maximum lifetime
    shortens the tokens that outlive it to now plus the limit, each audited and announced."""
    _require_admin(actor, tenant)
    chosen = lifecycle.policy_of(values)
    now = core.clock()
    with core.uow(write=True) as uow:
        tenants.existing(uow, tenant, lock="share")
        uow.policies.put(tenant, chosen.as_stored(), now)
        uow.audit.add(_entry(actor, "policy.update", tenant, None, now, policy=chosen.as_stored()))
        events.announce(
            uow, EventType.POLICY_UPDATED, None, now, tenant=tenant, policy=chosen.as_stored()
        )
        shortened: list[int | None] = []
        if chosen.max_lifetime_seconds is not None:
            until = now + timedelta(seconds=chosen.max_lifetime_seconds)
            for token in uow.policies.outliving(tenant, until):
                uow.tokens.update(token.id, {"expires_at": until, "updated_at": now})
                changed = dataclasses.replace(token, expires_at=until, updated_at=now)
                uow.audit.add(
                    _entry(
                        actor,
                        "token.update",
                        tenant,
                        token.id,
                        now,
                        fields=["expires_at"],
                        reason="policy.max_lifetime_seconds",
                    )
                )
                events.announce(
                    uow, EventType.UPDATED, changed, now, reason="policy.max_lifetime_seconds"
                )
                shortened.append(token.id)
        # Through the change log, so every process drops the longer expiry from its cache.
        core.commit_change(uow, shortened, at=now)
    return chosen


def of(uow: UnitOfWork, tenant: str) -> TenantPolicy:
    return lifecycle.policy_of(uow.policies.get(tenant))


def respond(
    uow: UnitOfWork, token: Token, response: OnIncident, now: datetime
) -> tuple[Token, str]:
    """A compromised token (a leaked secret, a kept copy replayed) as its tenant's
    ``on_leak`` / ``on_reuse`` says: disabled if it should be and is still active, else only
    reported. Returns the token after it and the action taken (``disabled`` or
    ``reported``), which the audit record and the webhook event name."""
    if response != OnIncident.DISABLE or not token.active:
        return token, "reported"
    uow.tokens.update(token.id, {"active": False, "updated_at": now})
    return dataclasses.replace(token, active=False, updated_at=now), "disabled"


def on_issue(uow: UnitOfWork, draft: Token, now: datetime, *, permanent: bool) -> Token:
    """The token to store: with no expiry asked for (and not asked to be permanent), a
    maximum lifetime gives it one. Raises when the result breaks the policy."""
    rules = of(uow, draft.tenant)
    if draft.expires_at is None and not permanent and rules.max_lifetime_seconds is not None:
        draft = dataclasses.replace(
            draft, expires_at=now + timedelta(seconds=rules.max_lifetime_seconds)
        )
    _refuse(rules, draft, now)
    return draft


def check(uow: UnitOfWork, after: Token, now: datetime, action: str) -> None:
    """A change (PATCH, enable, rotate) whose result breaks the policy is refused; one that
    only narrows (disable, revoke) never is."""
    if action in _NARROWING:
        return
    _refuse(of(uow, after.tenant), after, now)


def _refuse(rules: TenantPolicy, token: Token, now: datetime) -> None:
    field = lifecycle.policy_violation(rules, token, now)
    if field is not None:
        raise PolicyViolation(
            f"the tenant's policy refuses this token: {field} "
            f"({_EXPLAINED.get(field, 'see the policy')})"
        )


_EXPLAINED = {
    "require_expiry": "a token must expire",
    "max_lifetime_seconds": "it would expire later than the policy's maximum lifetime allows",
    "allowed_scopes": "a scope is not among the allowed ones",
    "allowed_audiences": "an audience is not among the allowed ones",
    "allow_recoverable": "recoverable tokens are not allowed",
}


def _entry(
    actor: Actor, action: str, tenant: str, token_id: int | None, now: datetime, **detail: Any
) -> AuditEntry:
    return AuditEntry(
        at=now,
        tenant=tenant,
        actor=actor.label,
        action=action,
        token_id=token_id,
        client=actor.client,
        detail=detail,
    )
