"""Verification: the hot path, run once for every request a protected service receives."""

from __future__ import annotations

from collections.abc import Iterable

from tokenward.domain import secrets as secret_format
from tokenward.domain.verification import Verification, VerifyCode, judge
from tokenward.service.auth import authenticate
from tokenward.service.cache import MISSING
from tokenward.service.core import Core

_MAX_SECRET_LENGTH = 256


def verify(
    core: Core,
    secret: str,
    *,
    audience: str | None = None,
    scopes: Iterable[str] = (),
    resource: str | None = None,
    credential: str | None = None,
    client: str | None = None,
) -> Verification:
    """Malformed secrets are refused before any database read; a valid answer notes the use."""
    if core.verify_requires_auth:
        authenticate(core, credential, client=client)
    if len(secret) > _MAX_SECRET_LENGTH or not secret_format.is_well_formed(secret):
        return Verification(VerifyCode.MALFORMED)
    now = core.clock()
    secret_hash = secret_format.hash_secret(secret)
    cached = core.cache.get(secret_hash)
    if cached is MISSING:
        return Verification(VerifyCode.NOT_FOUND)
    if cached is None:
        generation = core.cache.begin()
        with core.uow() as uow:
            found = uow.tokens.get_by_secret_hash(secret_hash)
        if found is None:
            core.cache.put_missing(secret_hash, generation)
            return Verification(VerifyCode.NOT_FOUND)
        token, retires_at = found
        core.cache.put(secret_hash, token, retires_at, generation)
    else:
        token, retires_at = cached.token, cached.retires_at
    if retires_at is not None and retires_at <= now:
        return Verification(VerifyCode.NOT_FOUND)
    code = judge(token, now, audience=audience, scopes=scopes, resource=resource)
    if code is VerifyCode.VALID:
        core.last_use.note(token.id, now)
    return Verification(code, token)
