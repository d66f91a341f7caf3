"""Reuse detection (docs/lifecycle.md): a secret rotated out of a token and presented after
its grace means that someone kept a copy. The verification still answers ``NOT_FOUND``; this
acts on the token per its tenant's ``on_reuse``: disables it (or only reports), audits
``token.reuse_detected`` and announces it by webhook.

The store keeps the hashes of rotated-out secrets (hash only) as a rotation retires them;
``prune`` forgets those older than the keeping period.
"""

from __future__ import annotations

from datetime import timedelta

from tokenward.domain.audit import AuditEntry
from tokenward.domain.lifecycle import EventType
from tokenward.service import events, policies
from tokenward.service.core import Core

#: How long retired secrets are kept by default, and so recognised when presented again.
DEFAULT_KEEP = timedelta(days=90)
#: A kept copy replayed in a loop is reported once per this, not once per request.
REPORT_EVERY = timedelta(hours=1)
#: How the audit records name the detector.
DETECTOR = "tokenward"
#: A secret whose grace ended less than this ago may be a request that was on its way when
#: the rotation happened (a grace of 0 under traffic), not a kept copy: not reported. It
#: covers the report's own delay too (the server reports what it queued twice a second).
IN_FLIGHT = timedelta(seconds=2)


def report_reuse(
    core: Core,
    secret_hash: str,
    *,
    keep: timedelta = DEFAULT_KEEP,
    in_flight: timedelta = IN_FLIGHT,
) -> bool:
    """Acts on a verification that found no token for ``secret_hash``: when the hash is a
    secret rotated out of a token (its grace over by ``in_flight`` at least, within
    ``keep``), the token is disabled or only reported per ``on_reuse``, audited and
    announced. Returns whether it was a reuse that this call reported (False for an unknown
    hash, one still in flight, one reported within ``REPORT_EVERY``, or a token deleted
    since).

    Costs one indexed read for an unknown hash; call it off the request's path."""
    now = core.clock()
    retired_by = now - in_flight
    with core.uow() as reading:  # nearly every unknown hash is just unknown: no write lock
        # Retired longer ago than ``keep``: forgotten, as if pruned already.
        found = reading.retired_secrets.find(secret_hash, retired_by, now - keep)
    if found is None:
        return False
    with core.uow(write=True) as uow:
        # The tenant's lock first, as every writer of its tokens takes it.
        if uow.tenants.get(found[1], lock="share") is None:
            return False  # deleted meanwhile, with its tokens
        found = uow.retired_secrets.find(secret_hash, retired_by, now - keep)
        if found is None:
            return False
        token_id, tenant, _ = found
        token = uow.tokens.get(tenant, token_id, for_update=True)
        if token is None:
            return False
        # Read again under the token's lock: another process (each worker reports what its
        # own verifications queued) may have reported this copy while this one waited.
        found = uow.retired_secrets.find(secret_hash, retired_by, now - keep)
        if found is None:
            return False
        reported_at = found[2]
        if reported_at is not None and now - reported_at < REPORT_EVERY:
            return False
        after, action = policies.respond(uow, token, policies.of(uow, token.tenant).on_reuse, now)
        uow.audit.add(
            AuditEntry(
                at=now,
                tenant=token.tenant,
                actor=DETECTOR,
                action="token.reuse_detected",
                token_id=token.id,
                client=None,
                detail={"action": action, "reason": "a rotated-out secret was presented"},
            )
        )
        events.announce(uow, EventType.REUSE_DETECTED, after, now, action=action)
        uow.retired_secrets.mark_reported(secret_hash, now)
        core.commit_change(uow, [token.id], at=now)
    return True


def prune(core: Core, *, keep: timedelta = DEFAULT_KEEP) -> int:
    """Forgets the secrets retired longer than ``keep`` ago; returns how many."""
    now = core.clock()
    with core.uow(write=True) as uow:
        pruned = uow.retired_secrets.prune(now - keep)
        uow.commit()
    return pruned
