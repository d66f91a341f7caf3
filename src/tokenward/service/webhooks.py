"""Webhook use cases: a tenant's admins (and root) register endpoints for its events.

The signing secret is shown once, at creation, and kept sealed under the server's key as
recoverable token secrets are: the dispatcher must sign with it, so a hash would not do.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import Any

from tokenward.domain import lifecycle, limits, policy
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditEntry
from tokenward.domain.errors import Conflict, ErrorCode, Invalid, NotFound
from tokenward.domain.lifecycle import Delivery, Webhook
from tokenward.domain.roles import Role
from tokenward.domain.tokens import UNSET, Page, PageRequest, Unset
from tokenward.service import tenants
from tokenward.service.core import Core
from tokenward.service.ports import UnitOfWork

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
#: 256 bits, as the Standard Webhooks specification recommends (24 to 64 bytes).
SECRET_BYTES = 32
MAX_DELIVERIES = 100
DELIVERY_PAGE = 50


def _require_admin(actor: Actor, tenant: str) -> None:
    policy.require_tenant(actor, tenant)
    policy.require_role(actor, Role.ADMIN, "managing webhooks")


def create(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    url: str,
    events: Sequence[str],
    description: str = "",
) -> tuple[Webhook, str]:
    """The new webhook and its signing secret (``whsec_`` + base64), which is never shown
    again."""
    _require_admin(actor, tenant)
    draft_url = lifecycle.check_url(url)
    wanted = lifecycle.check_events(events)
    lifecycle.check_description(description)
    secret = SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode("ascii")
    secret_hash = secret_format.hash_secret(secret)
    now = core.clock()
    with core.uow(write=True) as uow:
        tenants.existing(uow, tenant, lock="share")
        if len(uow.webhooks.list(tenant)) >= lifecycle.MAX_WEBHOOKS_PER_TENANT:
            raise Conflict(
                f"a tenant has at most {lifecycle.MAX_WEBHOOKS_PER_TENANT} webhooks",
                code=ErrorCode.TOO_MANY_WEBHOOKS,
            )
        webhook = uow.webhooks.add(
            Webhook(
                id=0,
                tenant=tenant,
                url=draft_url,
                events=wanted,
                description=description,
                active=True,
                disabled_reason=None,
                failing_since=None,
                created_at=now,
                updated_at=now,
                secret_hash=secret_hash,
                sealed_secret=core.sealer.seal(secret, bound_to=secret_hash),
            )
        )
        _audit(uow, core, actor, "webhook.create", webhook)
        uow.commit()
    return webhook, secret


def list_all(core: Core, actor: Actor, *, tenant: str) -> list[Webhook]:
    _require_admin(actor, tenant)
    with core.uow(may_lag=True) as uow:
        tenants.existing(uow, tenant)
        return list(uow.webhooks.list(tenant))


def get(core: Core, actor: Actor, *, tenant: str, webhook_id: int) -> Webhook:
    _require_admin(actor, tenant)
    with core.uow() as uow:
        return _load(uow, tenant, webhook_id)


def update(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    webhook_id: int,
    url: str | Unset = UNSET,
    events: Sequence[str] | Unset = UNSET,
    description: str | Unset = UNSET,
    active: bool | Unset = UNSET,
) -> Webhook:
    """Enabling a webhook that the server disabled clears the reason and its failure streak."""
    _require_admin(actor, tenant)
    changes: dict[str, Any] = {}
    if not isinstance(url, Unset):
        changes["url"] = lifecycle.check_url(url)
    if not isinstance(events, Unset):
        changes["events"] = lifecycle.check_events(events)
    if not isinstance(description, Unset):
        changes["description"] = lifecycle.check_description(description)
    if not isinstance(active, Unset):
        changes["active"] = bool(active)
        if active:
            changes["disabled_reason"] = None
            changes["failing_since"] = None
    now = core.clock()
    with core.uow(write=True) as uow:
        webhook = _load(uow, tenant, webhook_id)
        if changes:
            uow.webhooks.update(webhook.id, {**changes, "updated_at": now})
            webhook = _load(uow, tenant, webhook_id)
            _audit(uow, core, actor, "webhook.update", webhook, fields=sorted(changes))
        uow.commit()
    return webhook


def delete(core: Core, actor: Actor, *, tenant: str, webhook_id: int) -> None:
    _require_admin(actor, tenant)
    with core.uow(write=True) as uow:
        webhook = _load(uow, tenant, webhook_id)
        uow.webhooks.delete(webhook.id)
        _audit(uow, core, actor, "webhook.delete", webhook)
        uow.commit()


def deliveries(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    webhook_id: int,
    page: PageRequest = PageRequest(0, DELIVERY_PAGE),
) -> Page[Delivery]:
    """A page of the deliveries, newest first, each with its attempts. A page holds at most
    ``MAX_DELIVERIES``: each delivery brings every attempt with it."""
    _require_admin(actor, tenant)
    if page.limit is None or not 1 <= page.limit <= MAX_DELIVERIES:
        raise Invalid(f"must be between 1 and {MAX_DELIVERIES}", field="limit")
    limits.check_page(page)
    with core.uow() as uow:
        webhook = _load(uow, tenant, webhook_id)
        return uow.webhooks.deliveries(webhook.id, page)


def retry(core: Core, actor: Actor, *, tenant: str, webhook_id: int, delivery_id: int) -> Delivery:
    """Queues the delivery for an attempt now, whatever its state; the receiver sees the same
    ``webhook-id`` and may drop a duplicate."""
    _require_admin(actor, tenant)
    now = core.clock()
    with core.uow(write=True) as uow:
        webhook = _load(uow, tenant, webhook_id)
        if uow.webhooks.get_delivery(webhook.id, delivery_id) is None:
            raise NotFound(f"delivery {delivery_id} not found")
        uow.webhooks.schedule(delivery_id, now)
        delivery = uow.webhooks.get_delivery(webhook.id, delivery_id)
        _audit(uow, core, actor, "webhook.retry", webhook, delivery=delivery_id)
        uow.commit()
    assert delivery is not None
    return delivery


def _load(uow: UnitOfWork, tenant: str, webhook_id: int) -> Webhook:
    webhook = uow.webhooks.get(tenant, webhook_id)
    if webhook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return webhook


def _audit(
    uow: UnitOfWork, core: Core, actor: Actor, action: str, webhook: Webhook, **detail: Any
) -> None:
    uow.audit.add(
        AuditEntry(
            at=core.clock(),
            tenant=webhook.tenant,
            actor=actor.label,
            action=action,
            token_id=None,
            client=actor.client,
            detail={"webhook": webhook.id, **detail},
        )
    )
