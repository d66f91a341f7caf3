"""Readiness: the database answers, its schema is in place, and it takes writes."""

from __future__ import annotations

import logging

from tokenward.domain.errors import Unavailable
from tokenward.domain.tenants import DEFAULT_TENANT
from tokenward.service.core import Core

log = logging.getLogger("tokenward.health")


def not_ready(core: Core) -> str | None:
    """Why this process should get no traffic now, or None when it is ready. A store that
    answers reads but refuses writes (read-only, disk full) is not ready: every create,
    change and revocation would fail."""
    try:
        with core.uow() as uow:
            if uow.tenants.get(DEFAULT_TENANT) is None:
                return "the database is not migrated"
        problem = core.uow.write_problem()
    except Unavailable as exc:
        log.warning("readiness check failed: %s", exc.message)
        return "the database is not reachable"
    if problem is not None:
        log.warning("readiness check failed: %s", problem)
    return problem


def database_ready(core: Core) -> bool:
    return not_ready(core) is None
