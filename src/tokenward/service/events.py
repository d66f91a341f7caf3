"""Announcing lifecycle events: one row in the outbox, in the caller's transaction.

Written before the commit of the change it describes, so the change and its event are durable
together or not at all (docs/lifecycle.md); the dispatcher (``tokenward.lifecycle``) sends it.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tokenward.domain import lifecycle
from tokenward.domain.audit import AuditEntry
from tokenward.domain.lifecycle import EventType, OutboxEvent
from tokenward.domain.tokens import Token
from tokenward.service.ports import UnitOfWork, UnitOfWorkFactory

#: The event a token use case's audit action announces.
FOR_ACTION: dict[str, EventType] = {
    "token.issue": EventType.CREATED,
    "token.import": EventType.CREATED,
    "token.update": EventType.UPDATED,
    "token.enable": EventType.ENABLED,
    "token.disable": EventType.DISABLED,
    "token.revoke": EventType.DISABLED,
    "token.rotate": EventType.ROTATED,
    "token.delete": EventType.DELETED,
}


def announce(
    uow: UnitOfWork,
    event: EventType | str,
    token: Token | None,
    now: datetime,
    *,
    tenant: str | None = None,
    **extra: Any,
) -> str | None:
    """Records ``event`` about ``token`` (as the API shows it, never a secret) in the outbox
    of ``uow``; returns the event's id, the ``webhook-id`` of every delivery of it.

    A tenant without an active webhook records nothing (None): a webhook receives the events
    from its creation on, so no one could receive it, and the change costs one indexed read
    instead of a write, and the dispatcher nothing."""
    event_type = FOR_ACTION.get(str(event), event) if isinstance(event, str) else event
    tenant = tenant if tenant is not None else token.tenant if token is not None else ""
    if not uow.webhooks.any_active(tenant):
        return None
    event_id = f"msg_{uuid.uuid4().hex}"
    data = lifecycle.event_data(tenant, token, now, **extra)
    body = json.dumps(lifecycle.payload(str(event_type), now, data), separators=(",", ":"))
    uow.outbox.add(
        OutboxEvent(id=event_id, tenant=tenant, type=str(event_type), body=body, created_at=now)
    )
    return event_id


#: Expiries further back than this are not announced: a first start on an old store must not
#: flood receivers with years of expired tokens.
EXPIRED_LOOKBACK = timedelta(days=7)
#: Tokens taken per kind and scan; the next scan takes the rest.
SCAN_LIMIT = 500


def announce_time_driven(uow_factory: UnitOfWorkFactory, now: datetime) -> int:
    """Announces ``token.expiring`` (once per notice window of the token's tenant, with
    ``seconds_left``) and ``token.expired``; returns how many. Run by the dispatcher, which is
    one at a time, and a notice row per token, kind and expiry keeps each to one."""
    with uow_factory() as reading:  # most scans find nothing: no write lock for them
        if not _anything_due(reading, now):
            return 0
    announced = 0
    with uow_factory(write=True) as uow:
        stored = uow.policies.all()
        windows_of = {
            tenant: lifecycle.policy_of(values).expiry_notice_seconds
            for tenant, values in stored.items()
        }
        every = sorted(
            {w for ws in windows_of.values() for w in ws} | set(lifecycle.DEFAULT_EXPIRY_NOTICES)
        )
        for window in every:  # the smallest first: a token is told the nearest window only
            kind = f"expiring:{window}"
            for token in uow.notices.expiring(
                now, now + timedelta(seconds=window), kind, limit=SCAN_LIMIT
            ):
                assert token.expires_at is not None
                windows = windows_of.get(token.tenant, lifecycle.DEFAULT_EXPIRY_NOTICES)
                if window in windows:
                    left = int((token.expires_at - now).total_seconds())
                    announce(uow, EventType.EXPIRING, token, now, seconds_left=left)
                    announced += 1
                    kinds = [f"expiring:{w}" for w in every if w >= window]
                else:  # not a window of this tenant: only remembered as passed
                    kinds = [kind]
                uow.notices.add(token.id, kinds, token.expires_at, now)
        disabled = _disable_inactive(uow, stored, now)
        announced += len(disabled)
        for token in uow.notices.expired(now, now - EXPIRED_LOOKBACK, limit=SCAN_LIMIT):
            assert token.expires_at is not None
            announce(uow, EventType.EXPIRED, token, now)
            uow.notices.add(token.id, ["expired"], token.expires_at, now)
            announced += 1
        if disabled:  # every process drops them from its verification cache
            uow.changes.record(disabled, now)
        uow.commit()
    return announced


def _anything_due(uow: UnitOfWork, now: datetime) -> bool:
    """Whether a scan would announce or disable anything (reads only)."""
    rules = [lifecycle.policy_of(values) for values in uow.policies.all().values()]
    if any(rule.inactivity_disable_seconds for rule in rules):
        return True
    if uow.notices.expired(now, now - EXPIRED_LOOKBACK, limit=1):
        return True
    windows = {w for rule in rules for w in rule.expiry_notice_seconds}
    windows |= set(lifecycle.DEFAULT_EXPIRY_NOTICES)
    return any(
        uow.notices.expiring(now, now + timedelta(seconds=w), f"expiring:{w}", limit=1)
        for w in windows
    )


def _disable_inactive(
    uow: UnitOfWork, stored: Mapping[str, Mapping[str, Any]], now: datetime
) -> list[int | None]:
    """Disables the tokens of tenants with ``inactivity_disable_seconds`` that were not used
    (or, never used, not created) for that long; audited with the reason and announced as
    ``token.auto_disabled``. Last uses are written within a second or so of the use
    (``TOKENWARD_LAST_USE_FLUSH_SECONDS``), far below any sensible inactivity period."""
    disabled: list[int | None] = []
    for tenant, values in stored.items():
        seconds = lifecycle.policy_of(values).inactivity_disable_seconds
        if seconds is None:
            continue
        # The tenant's lock first, as every writer of its tokens takes it (tallies change).
        if uow.tenants.get(tenant, lock="share") is None:
            continue
        for token in uow.notices.inactive(
            tenant, now - timedelta(seconds=seconds), limit=SCAN_LIMIT
        ):
            uow.tokens.update(token.id, {"active": False, "updated_at": now})
            after = dataclasses.replace(token, active=False, updated_at=now)
            reason = f"not used for {seconds} seconds (policy.inactivity_disable_seconds)"
            uow.audit.add(
                AuditEntry(
                    at=now,
                    tenant=tenant,
                    actor="tokenward",
                    action="token.auto_disable",
                    token_id=token.id,
                    client=None,
                    detail={"reason": reason},
                )
            )
            announce(uow, EventType.AUTO_DISABLED, after, now, reason=reason)
            disabled.append(token.id)
    return disabled
