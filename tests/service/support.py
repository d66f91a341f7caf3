"""Callers for the service tier: root, and management tokens issued through the service."""

from __future__ import annotations

from typing import Any

from tokenward.domain.actors import Actor
from tokenward.domain.roles import Role
from tokenward.domain.tenants import DEFAULT_TENANT
from tokenward.domain.tokens import IssuedToken, TokenSpec
from tokenward.service import tokens
from tokenward.service.core import Core

ROOT = Actor.root(client="service-tier")


def issued(
    core: Core, tenant: str = DEFAULT_TENANT, *, by: Actor = ROOT, **spec: Any
) -> IssuedToken:
    """A token issued through the use case, by root unless ``by`` says otherwise."""
    spec.setdefault("name", "a token")
    return tokens.issue(core, by, tenant=tenant, spec=TokenSpec(**spec))


def caller(core: Core, role: Role, tenant: str = DEFAULT_TENANT, **spec: Any) -> Actor:
    """A management token of ``role`` in ``tenant`` (made by root), as the caller it makes."""
    spec.setdefault("audience", ("tokenward",))
    spec.setdefault("name", f"{role} manager")
    return Actor.of_token(issued(core, tenant, role=role, **spec).token)
