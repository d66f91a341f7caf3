"""Protecting an app's endpoints with tokenward: the pieces every framework shares.

The framework modules are imported by name, so that a framework is needed only by the app that
uses it: ``tokenward.integrations.fastapi`` (FastAPI and Starlette) and
``tokenward.integrations.drf`` (Django REST framework). See docs/integrations.md.
"""

from tokenward.integrations._verifier import (
    DEFAULT_CACHE_SIZE,
    DEFAULT_CACHE_TTL,
    AsyncVerifier,
    Denied,
    Identity,
    MissingConfiguration,
    Requirement,
    TrustedProxies,
    VerdictCache,
    Verifier,
)

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_CACHE_TTL",
    "AsyncVerifier",
    "Denied",
    "Identity",
    "MissingConfiguration",
    "Requirement",
    "TrustedProxies",
    "VerdictCache",
    "Verifier",
]
