"""What every framework integration shares: reading the bearer token, asking tokenward, a
short cache of positive answers, and the RFC 6750 answer to each refusal.

The stated bound: a token that is disabled, deleted, rotated out or expired keeps passing
in an app for at most ``cache_ttl`` seconds (default ``DEFAULT_CACHE_TTL`` = 5 s) after the
app last asked tokenward about it, plus the tokenward server's own propagation delay between
its processes (docs/operations.md; none when one process serves). Refusals are never
cached, so a token that becomes valid again passes at once. A cached answer never outlives the
token's own expiry.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tokenward.client import (
    AsyncClient,
    Client,
    Token,
    TokenwardError,
    Verification,
    VerifyCode,
)

DEFAULT_CACHE_TTL = 5.0
DEFAULT_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token stands for, as handed to a protected handler."""

    token_id: int
    tenant: str
    name: str
    type: str
    principal: str | None
    user: str
    owner: str
    role: str
    scopes: frozenset[str]
    audience: tuple[str, ...]
    expires_at: datetime | None
    metadata: Mapping[str, Any]
    #: The claims of an exchanged JWT checked offline; None for a token tokenward verified.
    claims: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, token: Token) -> Identity:
        return cls(
            token_id=token.id,
            tenant=token.tenant,
            name=token.name,
            type=token.type,
            principal=token.principal,
            user=token.user,
            owner=token.owner,
            role=token.role,
            scopes=frozenset(token.scopes),
            audience=token.audience,
            expires_at=token.expires_at,
            metadata=token.metadata,
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a protected endpoint asks of a token; checked by the tokenward server."""

    audience: str | None = None
    scopes: tuple[str, ...] = ()
    resource: str | None = None

    @classmethod
    def of(cls, audience: str | None, scopes: Iterable[str], resource: str | None) -> Requirement:
        return cls(audience=audience, scopes=tuple(sorted(set(scopes))), resource=resource)


#: Where the integrations find the server when no URL is given (the client's own default).
URL_ENV = "TOKENWARD_URL"


class MissingConfiguration(RuntimeError):
    """The app is built without saying where tokenward is: raised when it is built, not on its
    first request, which would otherwise answer a 500 and a traceback."""


def require_url(url: str | None, where: str) -> None:
    """``MissingConfiguration`` naming the setting, when neither ``url`` nor the environment
    gives one."""
    if not url and not os.environ.get(URL_ENV):
        raise MissingConfiguration(
            f"{where} does not know where tokenward is: set {URL_ENV} "
            "(for example http://127.0.0.1:8080), or pass a verifier made with its URL"
        )


class Denied(Exception):
    """A request the integration refuses, with the status and RFC 6750 challenge to answer.

    ``error`` is ``None`` when the request carried no credential (RFC 6750 3.1: no error code
    then) and for 503, when tokenward could not be asked (the caller is not at fault).
    """

    def __init__(
        self,
        status: int,
        error: str | None,
        description: str,
        *,
        realm: str | None = None,
        scope: Iterable[str] = (),
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers: dict[str, str] = {}
        if status in (400, 401, 403):
            self.headers["WWW-Authenticate"] = challenge(realm, error, description, scope)


def challenge(
    realm: str | None, error: str | None, description: str, scope: Iterable[str] = ()
) -> str:
    params = []
    if realm:
        params.append(f'realm="{realm}"')
    if error:
        params.append(f'error="{error}"')
        params.append(f'error_description="{description}"')
    scopes = " ".join(scope)
    if scopes:
        params.append(f'scope="{scopes}"')
    return "Bearer " + ", ".join(params) if params else "Bearer"


# Verification code -> (status, RFC 6750 error, description). Descriptions are fixed strings:
# they go into a header, and never repeat what the client sent.
_REFUSALS: dict[str, tuple[int, str, str]] = {
    VerifyCode.MALFORMED: (401, "invalid_token", "The token is malformed"),
    VerifyCode.NOT_FOUND: (401, "invalid_token", "The token is unknown or revoked"),
    VerifyCode.DISABLED: (401, "invalid_token", "The token is disabled"),
    VerifyCode.EXPIRED: (401, "invalid_token", "The token has expired"),
    # A token for another service is invalid here, not merely short of rights.
    VerifyCode.AUDIENCE_MISMATCH: (401, "invalid_token", "The token is not for this service"),
    VerifyCode.INSUFFICIENT_SCOPE: (403, "insufficient_scope", "The token lacks a scope"),
    VerifyCode.RESOURCE_DENIED: (403, "insufficient_scope", "The token is not for this resource"),
}


def bearer_token(authorization: str | None, realm: str | None = None) -> str:
    """The token of an ``Authorization: Bearer`` header, or ``Denied``."""
    if not authorization or not authorization.strip():
        raise Denied(401, None, "A bearer token is required", realm=realm)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        # Another scheme is no bearer credential at all: answer as for a missing one.
        raise Denied(401, None, "A bearer token is required", realm=realm)
    token = token.strip()
    if not token or any(c.isspace() for c in token):
        raise Denied(400, "invalid_request", "The Authorization header is malformed", realm=realm)
    return token


def judge(verification: Verification, requirement: Requirement, realm: str | None) -> Identity:
    if verification.valid and verification.token is not None:
        return Identity.of(verification.token)
    status, error, description = _REFUSALS.get(
        verification.code, (401, "invalid_token", "The token is not valid")
    )
    scope = requirement.scopes if error == "insufficient_scope" else ()
    raise Denied(status, error, description, realm=realm, scope=scope)


def unavailable(error: TokenwardError) -> Denied:
    # The credential this app uses for verify may be wrong (401/403): still not the caller's
    # fault, so 503, and the cause stays in the exception chain for the app's logs.
    return Denied(503, None, f"Token verification is unavailable ({error.code})")


class VerdictCache:
    """Positive verdicts only, for at most ``ttl`` seconds and ``max_size`` entries (least
    recently used go first). Keyed by SHA-256 of the token and the requirement, so neither the
    secret nor a reversible form of it is held."""

    def __init__(self, ttl: float = DEFAULT_CACHE_TTL, max_size: int = DEFAULT_CACHE_SIZE) -> None:
        if ttl < 0 or max_size < 0:
            raise ValueError("ttl and max_size must not be negative")
        self.ttl = ttl
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str, requirement: Requirement) -> str:
        # JSON keeps the parts apart unambiguously, whatever characters they hold.
        parts = [token, requirement.audience, requirement.scopes, requirement.resource]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def get(self, key: str) -> Identity | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            until, identity = entry
            if time.monotonic() >= until:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return identity

    def put(self, key: str, identity: Identity) -> None:
        if self.ttl == 0 or self.max_size == 0:
            return
        lifetime = self.ttl
        if identity.expires_at is not None:
            left = (identity.expires_at - datetime.now(UTC)).total_seconds()
            lifetime = min(lifetime, left)
            if lifetime <= 0:
                return
        with self._lock:
            self._entries[key] = (time.monotonic() + lifetime, identity)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Verifier:
    """Checks bearer tokens with a tokenward server (synchronously), caching positive answers.

    ``url`` defaults to ``$TOKENWARD_URL``; ``credential`` (sent to ``/v1/verify`` when the
    server sets ``TOKENWARD_VERIFY_REQUIRES_AUTH``) to ``$TOKENWARD_TOKEN``.
    """

    def __init__(
        self,
        url: str | None = None,
        credential: str | None = None,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        cache_size: int = DEFAULT_CACHE_SIZE,
        realm: str | None = None,
        timeout: float = 5.0,
        retries: int = 1,
        client: Client | None = None,
    ) -> None:
        self.cache = VerdictCache(cache_ttl, cache_size)
        self.realm = realm
        self.client = client or Client(
            url,  # the client falls back to TOKENWARD_URL and TOKENWARD_TOKEN itself
            credential,
            timeout=timeout,
            retries=retries,
            backoff=0.05,
        )

    def check(self, authorization: str | None, requirement: Requirement) -> Identity:
        """The identity behind an ``Authorization`` header value, or ``Denied``."""
        token = bearer_token(authorization, self.realm)
        key = VerdictCache.key(token, requirement)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            verification = self.client.verify(
                token,
                audience=requirement.audience,
                scopes=requirement.scopes,
                resource=requirement.resource,
            )
        except TokenwardError as error:
            raise unavailable(error) from error
        identity = judge(verification, requirement, self.realm)
        self.cache.put(key, identity)
        return identity

    def close(self) -> None:
        self.client.close()


class AsyncVerifier:
    """``Verifier`` for asyncio apps, on ``AsyncClient``; the same parameters."""

    def __init__(
        self,
        url: str | None = None,
        credential: str | None = None,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        cache_size: int = DEFAULT_CACHE_SIZE,
        realm: str | None = None,
        timeout: float = 5.0,
        retries: int = 1,
        client: AsyncClient | None = None,
    ) -> None:
        self.cache = VerdictCache(cache_ttl, cache_size)
        self.realm = realm
        self.client = client or AsyncClient(
            url,  # the client falls back to TOKENWARD_URL and TOKENWARD_TOKEN itself
            credential,
            timeout=timeout,
            retries=retries,
            backoff=0.05,
        )

    async def check(self, authorization: str | None, requirement: Requirement) -> Identity:
        token = bearer_token(authorization, self.realm)
        key = VerdictCache.key(token, requirement)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            verification = await self.client.verify(
                token,
                audience=requirement.audience,
                scopes=requirement.scopes,
                resource=requirement.resource,
            )
        except TokenwardError as error:
            raise unavailable(error) from error
        identity = judge(verification, requirement, self.realm)
        self.cache.put(key, identity)
        return identity

    async def aclose(self) -> None:
        await self.client.aclose()
