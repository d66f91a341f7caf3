"""Reading the audit trail: admins see their tenant's, root sees every tenant's."""

from __future__ import annotations

import dataclasses

from tokenward.domain import limits, policy
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditQuery, AuditRecord
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Page, PageRequest
from tokenward.service.core import Core


def search(
    core: Core, actor: Actor, *, query: AuditQuery = AuditQuery(), page: PageRequest = PageRequest()
) -> Page[AuditRecord]:
    policy.require_role(actor, Role.ADMIN, "reading the audit trail")
    if actor.tenant is not None:
        if query.tenant is not None:
            policy.require_tenant(actor, query.tenant)
        # Its tenant as it is now: records of an earlier, deleted tenant of the same name
        # belong to someone else.
        query = dataclasses.replace(query, tenant=actor.tenant, deleted_tenants=False)
    limits.check_page(page)
    with core.uow(may_lag=True) as uow:
        return uow.audit.search(query, page)
