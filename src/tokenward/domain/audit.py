"""Audit records: who did what to which token, when and from where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    tenant: str | None
    actor: str
    action: str
    token_id: int | None
    client: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An audit record before the store numbers it."""

    at: datetime
    tenant: str | None
    actor: str
    action: str
    token_id: int | None
    client: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    tenant: str | None = None
    actor: str | None = None
    action: str | None = None
    token_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Whether records of deleted tenants are included (a new tenant of a deleted one's name
    #: must not see them; root may).
    deleted_tenants: bool = True
