"""Readiness: the database answers, and its schema is in place."""

from __future__ import annotations

import logging

from tokenward.domain.errors import Unavailable
from tokenward.domain.tenants import DEFAULT_TENANT
from tokenward.service.core import Core

log = logging.getLogger("tokenward.health")


def database_ready(core: Core) -> bool:
    try:
        with core.uow() as uow:
            return uow.tenants.get(DEFAULT_TENANT) is not None
    except Unavailable as exc:
        log.warning("readiness check failed: %s", exc.message)
        return False
