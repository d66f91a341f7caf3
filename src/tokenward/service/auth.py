"""Turning a presented credential into an actor."""

from __future__ import annotations

import hmac

from tokenward.domain import policy
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.errors import RateLimited, Unauthenticated
from tokenward.service.core import Core


def authenticate(core: Core, credential: str | None, *, client: str | None = None) -> Actor:
    """The bootstrap credential, or a valid token whose audience includes ``tokenward``.

    Every failure reads the same, so the answer tells nothing about which tokens exist.
    Failures are counted per client address (``core.auth_failures``); an address over the
    limit is refused with ``RateLimited`` before its credential is looked at, a valid one
    too, until its minute has passed. This holds for the credential that verification asks
    for when ``TOKENWARD_VERIFY_REQUIRES_AUTH`` is set: otherwise /v1/verify would let any
    address guess management credentials without limit. The secrets being verified are
    never counted (a relay forwards many clients' bad tokens from one address).
    """
    wait = core.auth_failures.retry_after(client)
    if wait is not None:
        raise RateLimited(
            "too many failed authentications from this address; try again later",
            retry_after=wait,
        )
    try:
        return _authenticate(core, credential, client)
    except Unauthenticated:
        core.auth_failures.failed(client)
        raise


def reads_store(core: Core, credential: str | None) -> bool:
    """Whether authenticating ``credential`` may read the store: a token does; the operator's
    admin token (``TOKENWARD_ADMIN_TOKEN``) and garbage do not. The faces use it to decide
    where to run ``authenticate`` (a thread or the event loop), a choice that is theirs."""
    if not credential:
        return False
    return core.admin_token_hash is None or secret_format.is_well_formed(credential)


def _authenticate(core: Core, credential: str | None, client: str | None) -> Actor:
    """A token is read through ``core.secrets`` (the verification engine's ``find``: fresh
    from the store, not the cache, as a revoked token must stop authenticating at once); the
    root credential needs no read at all when the operator set ``TOKENWARD_ADMIN_TOKEN``."""
    if not credential:
        raise Unauthenticated("a bearer credential is required")
    presented = secret_format.hash_secret(credential)
    if secret_format.is_well_formed(credential):
        found = core.secrets.find(presented)
        if found is not None:
            token, retires_at = found
            now = core.clock()
            if not secret_format.retired(retires_at, now) and policy.may_manage(token, now):
                return Actor.of_token(token, client)
            raise Unauthenticated("the credential is not valid")
    root_hash = core.admin_token_hash or _stored_root_hash(core)
    # Constant time: the comparison must not tell how much of the root hash matched.
    if root_hash is not None and hmac.compare_digest(presented, root_hash):
        return Actor.root(client)
    raise Unauthenticated("the credential is not valid")


def _stored_root_hash(core: Core) -> str | None:
    with core.uow() as uow:
        return uow.credentials.root_hash()
