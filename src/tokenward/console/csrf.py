"""Tokens against cross-site requests, on every form that changes state.

A session's token is derived from its id (which only the HttpOnly cookie holds), so it needs
no storage and no other site can compute it. Before sign-in, the sign-in form's token is the
value of a cookie of its own (double submit): another site can neither read nor set it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def for_session(session_id: str) -> str:
    return hmac.new(
        session_id.encode("utf-8"), b"tokenward console csrf", hashlib.sha256
    ).hexdigest()


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, presented: str | None) -> bool:
    """Constant time: the comparison must not tell how much of the token matched."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))
