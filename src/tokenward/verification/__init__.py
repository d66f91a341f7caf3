"""Verification as its own engine: the hot path and what it keeps between requests.

``Engine`` is the whole public interface: ``verify`` / ``verify_without_blocking`` for the
faces, ``introspect``, ``find`` for authentication, ``changed`` for the service's use cases
(through the ``ChangeSink`` port), and ``start`` / ``sync`` / ``flush`` / ``close`` for the
composition root. It may import the domain and the service's ports, never a face, the store
or the CLI (an import-linter contract in pyproject.toml).
"""

from tokenward.verification.engine import Engine
from tokenward.verification.ports import Lookup, NoObserver, SecretLookup, VerificationObserver

__all__ = ["Engine", "Lookup", "NoObserver", "SecretLookup", "VerificationObserver"]
