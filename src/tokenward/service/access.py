"""Checks that a face may need before it calls a use case, named so that none is rewritten.

Some products allow an endpoint to admins only (Query's ``/_/token``); such a face calls
``require_role`` here rather than comparing roles itself.
"""

from __future__ import annotations

from tokenward.domain.policy import require_role

__all__ = ["require_role"]
