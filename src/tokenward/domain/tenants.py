"""Tenants: the namespaces (accounts, projects) that bound what a caller sees."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DEFAULT_TENANT = "default"

# Devo account names look like ``name@multitenant``; nothing here may clash with a URL path.
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._:-]{0,127}")


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    created_at: datetime


def is_valid_tenant_name(name: str) -> bool:
    return _TENANT_NAME.fullmatch(name) is not None
