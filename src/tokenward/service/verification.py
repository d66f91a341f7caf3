"""Verification: the hot path, run once for every request a protected service receives."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from tokenward.domain import policy
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import Token
from tokenward.domain.verification import (
    VALID,
    Verification,
    VerifyCode,
    judge,
    judge_request,
    judge_state,
)
from tokenward.service.auth import authenticate
from tokenward.service.cache import MISSING, CachedSecret
from tokenward.service.core import Core
from tokenward.service.known_secrets import Presence
from tokenward.service.ports import Lookup

_MAX_SECRET_LENGTH = 256
_MALFORMED = Verification(VerifyCode.MALFORMED)
_NOT_FOUND = Verification(VerifyCode.NOT_FOUND)
# Python 3.11 reads an Enum member through the class in about 0.2 µs (EnumType.__getattr__
# makes every attribute read go through a hook); the hot path reads these names instead.
_HIT, _MISS, _FILTERED = Lookup.HIT, Lookup.MISS, Lookup.FILTERED
_ABSENT, _OUTDATED = Presence.ABSENT, Presence.OUTDATED
#: ``(client_ip, cost, may_block)`` of one verification, for the token's controls.
_Asked = tuple[str | None, int, bool]


def verify(
    core: Core,
    secret: str,
    *,
    audience: str | None = None,
    scopes: Iterable[str] = (),
    resource: str | None = None,
    credential: str | None = None,
    client: str | None = None,
    client_ip: str | None = None,
    cost: int = 1,
) -> Verification:
    """Malformed secrets are refused before any database read; a valid answer notes the use.

    ``credential`` is asked for only when the server is set to require one for verification.
    ``client_ip`` and ``cost``: what the token's controls judge (its IP allowlist, credits).
    """
    started = time.perf_counter()
    if core.verify_requires_auth:
        authenticate(core, credential, client=client)
    result, source = _verify(core, secret, audience, scopes, resource, client_ip, cost)
    core.observer.verified(result.code, time.perf_counter() - started, source)
    return result


def verify_without_blocking(
    core: Core,
    secret: str,
    *,
    audience: str | None = None,
    scopes: Iterable[str] = (),
    resource: str | None = None,
    client_ip: str | None = None,
    cost: int = 1,
) -> Verification | None:
    """The answer when it needs no wait: a malformed secret, a cached one, one the
    known-secrets filter rules out, or one read from a store that reads locally (SQLite);
    None when only ``verify``, in a thread, can give it (PostgreSQL, a filter to bring up
    to date first, a credential to check). Safe to call on the event loop.

    A SQLite read takes about 20 µs; handing it to a thread cost more than that in CPU:
    over 100k distinct tokens of a 1M store, 13.6k req/s inline against 8.2k in threads
    (2 workers, 3 alternating rounds). Unknown secrets mostly stop at the filter.
    """
    if core.verify_requires_auth:
        return None
    started = time.perf_counter()
    asked = (client_ip, cost, False)
    result, source, secret_hash, outdated = _without_store(
        core, secret, audience, scopes, resource, asked
    )
    if result is None:
        if outdated or not core.lookup.reads_locally:
            return None
        result, source = _from_store(core, secret_hash, False, audience, scopes, resource, asked)
        if result is None:
            return None
    core.observer.verified(result.code, time.perf_counter() - started, source)
    return result


def introspect(core: Core, actor: Actor, secret: str) -> Token | None:
    """RFC 7662: the token when the secret is valid now and the caller may see its tenant.

    Anything else, another tenant's token included, is just "not active" (no oracle).
    """
    result, _ = _verify(core, secret, None, (), None, None, 1)
    if not result.valid or result.token is None:
        return None
    if not policy.sees_tenant(actor, result.token.tenant):
        return None
    return result.token


def _verify(
    core: Core,
    secret: str,
    audience: str | None,
    scopes: Iterable[str],
    resource: str | None,
    client_ip: str | None,
    cost: int,
) -> tuple[Verification, Lookup | None]:
    asked = (client_ip, cost, True)
    result, source, secret_hash, outdated = _without_store(
        core, secret, audience, scopes, resource, asked
    )
    if result is None:
        result, source = _from_store(core, secret_hash, outdated, audience, scopes, resource, asked)
    assert result is not None  # only a caller that may not block is deferred
    return result, source


def _without_store(
    core: Core,
    secret: str,
    audience: str | None,
    scopes: Iterable[str],
    resource: str | None,
    asked: _Asked,
) -> tuple[Verification | None, Lookup | None, str, bool]:
    """The verdict without a store read, or None; how it was found; the secret's hash for
    the store read; and whether the known-secrets filter lacks it but is out of date. Only
    well-formed secrets ever enter the cache, so a hit needs no format check; a miss is
    checked."""
    if len(secret) > _MAX_SECRET_LENGTH:
        return _MALFORMED, None, "", False
    secret_hash = secret_format.hash_secret(secret)
    cached = core.cache.get(secret_hash)
    if cached is None:
        if not secret_format.is_well_formed(secret):
            return _MALFORMED, None, secret_hash, False
        presence = core.known_secrets.presence(secret_hash)
        if presence is _ABSENT:
            return _NOT_FOUND, _FILTERED, secret_hash, False
        return None, None, secret_hash, presence is _OUTDATED
    if cached is MISSING:
        return _NOT_FOUND, _HIT, secret_hash, False
    result = _conclude(core, cached, audience, scopes, resource, asked)
    # None: the controls must wait on the store; "outdated" sends the caller to a thread.
    return result, _HIT, secret_hash, result is None


def _from_store(
    core: Core,
    secret_hash: str,
    outdated: bool,
    audience: str | None,
    scopes: Iterable[str],
    resource: str | None,
    asked: _Asked,
) -> tuple[Verification | None, Lookup]:
    if outdated:
        # Something was committed since the filter's last sync: catching up costs one read
        # of the change log, and may spare this and the following unknown secrets theirs.
        core.sync_changes(wait=False)
        if core.known_secrets.presence(secret_hash) is _ABSENT:
            return _NOT_FOUND, _FILTERED
    generation = core.cache.begin()
    found = core.lookup.find(secret_hash)
    if found is None:
        core.cache.put_missing(secret_hash, generation)
        return _NOT_FOUND, _MISS
    token, retires_at = found
    entry = core.cache.put(secret_hash, token, retires_at, generation)
    return _conclude(core, entry, audience, scopes, resource, asked), _MISS


def _conclude(
    core: Core,
    entry: CachedSecret,
    audience: str | None,
    scopes: Iterable[str],
    resource: str | None,
    asked: _Asked,
) -> Verification | None:
    """The verdict on a found token; None only for a caller that may not block, when the
    token's controls must wait on the store (its credits)."""
    now = core.clock()
    if secret_format.retired(entry.retires_at, now):
        return _NOT_FOUND
    token = entry.token
    # --- controls at verification (issue 17): only for a token that has any -------------
    if token.controlled:
        if not asked[2] and core.controls.blocks(token):
            return None
        return _controlled(core, token, now, audience, scopes, resource, asked)
    # --- end of controls -------------------------------------------------------------------
    code = judge(token, now, audience=audience, scopes=scopes, resource=resource)
    core.usage.note(token, code, now)
    if code is VALID:
        core.last_use.note(token.id, now)
        return entry.valid
    return Verification(code, token)


def _controlled(
    core: Core,
    token: Token,
    now: datetime,
    audience: str | None,
    scopes: Iterable[str],
    resource: str | None,
    asked: _Asked,
) -> Verification:
    """State, then the IP allowlist, then the request, then the spending controls (credits,
    rate limits): a verification that fails anything spends nothing and counts nowhere."""
    client_ip, cost, _ = asked
    code = judge_state(token, now)
    if code is VALID:
        code = core.controls.screen(token, client_ip) or judge_request(
            token, audience=audience, scopes=scopes, resource=resource
        )
    if code is not VALID:
        core.usage.note(token, code, now)
        return Verification(code, token)
    admission = core.controls.admit(token, now, client_ip, cost)
    code = admission.code or VALID
    core.usage.note(token, code, now)
    if code is VALID:
        core.last_use.note(token.id, now)
    return Verification(code, token, admission.limits, admission.retry_after_ms)
