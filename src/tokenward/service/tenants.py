"""Tenant use cases. Creating and deleting tenants is root's; a token sees its own tenant."""

from __future__ import annotations

from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditEntry
from tokenward.domain.errors import Conflict, ErrorCode, Invalid, NotFound
from tokenward.domain.tenants import DEFAULT_TENANT, Tenant, is_valid_tenant_name
from tokenward.service.core import Core
from tokenward.service.ports import TenantLock, UnitOfWork


def create(core: Core, actor: Actor, *, name: str) -> Tenant:
    policy.require_root(actor, "creating a tenant")
    if not is_valid_tenant_name(name):
        raise Invalid(
            "a tenant name is 1 to 128 characters of letters, digits and @ . _ : -, "
            "starting with a letter or digit"
        )
    now = core.clock()
    tenant = Tenant(name=name, created_at=now)
    with core.uow(write=True) as uow:
        if uow.tenants.get(name) is not None:
            raise Conflict("the tenant already exists", code=ErrorCode.TENANT_EXISTS)
        uow.tenants.add(tenant)
        uow.audit.add(_entry(actor, "tenant.create", name, core))
        uow.commit()
    return tenant


def list_all(core: Core, actor: Actor) -> list[Tenant]:
    """Root sees every tenant; a token sees only its own."""
    with core.uow(may_lag=True) as uow:
        tenants = list(uow.tenants.list())
    return [t for t in tenants if policy.sees_tenant(actor, t.name)]


def get(core: Core, actor: Actor, *, name: str) -> Tenant:
    policy.require_tenant(actor, name)
    with core.uow() as uow:
        return existing(uow, name)


def existing(uow: UnitOfWork, name: str, *, lock: TenantLock | None = None) -> Tenant:
    """The tenant, or the same NotFound as for another tenant's (``policy.require_tenant``):
    every use case that needs its tenant to exist asks here, in its own unit of work.
    ``lock``: held to the commit (see ``TenantRepository.get``)."""
    tenant = uow.tenants.get(name, lock=lock)
    if tenant is None:
        raise NotFound("tenant not found", resource="tenant")
    return tenant


def delete(core: Core, actor: Actor, *, name: str) -> None:
    """Deletes the tenant with all its tokens. ``default`` always exists."""
    policy.require_tenant(actor, name)
    policy.require_root(actor, "deleting a tenant")
    if name == DEFAULT_TENANT:
        raise Conflict("the default tenant cannot be deleted", code=ErrorCode.DEFAULT_TENANT)
    with core.uow(write=True) as uow:
        # First, before any token: creates in the tenant hold it shared until they commit.
        existing(uow, name, lock="update")
        uow.tenants.delete(name)
        now = core.clock()
        uow.audit.add(_entry(actor, "tenant.delete", name, core))
        # The deletion's own record too: a new tenant of this name starts with a clean trail.
        uow.audit.mark_tenant_deleted(name, now)
        core.commit_change(uow, [None], at=now)


def _entry(actor: Actor, action: str, tenant: str, core: Core) -> AuditEntry:
    return AuditEntry(
        at=core.clock(),
        tenant=tenant,
        actor=actor.label,
        action=action,
        token_id=None,
        client=actor.client,
    )
