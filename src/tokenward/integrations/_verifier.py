"""What every framework integration shares: reading the bearer token, asking tokenward, a
short cache of positive answers, and the RFC 6750 answer to each refusal.

The stated bound: a token that is disabled, deleted, rotated out or expired keeps passing
in an app for at most ``cache_ttl`` seconds (default ``DEFAULT_CACHE_TTL`` = 5 s) after the
app last asked tokenward about it, plus the tokenward server's own propagation delay between
its processes (docs/operations.md; none when one process serves). Refusals are never
cached, so a token that becomes valid again passes at once. A cached answer never outlives the
token's own expiry. A token with credits or rate limits is never cached: every request it
makes must be counted by tokenward.

The client's address goes to tokenward as ``client_ip`` (for the token's IP allowlist). It is
the direct peer, unless that peer is one of the configured ``trusted_proxies``: then it is
the right-most address of ``X-Forwarded-For`` that is not a trusted proxy, so a client cannot
choose its address by sending the header itself (``client_address``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
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

#: Whitespace inside a bearer token (str.isspace's set): one C-level scan per request.
_WHITESPACE = re.compile(r"\s")


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
#: The trusted proxies when none are given: addresses or CIDR ranges, comma-separated.
TRUSTED_PROXIES_ENV = "TOKENWARD_TRUSTED_PROXIES"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> Address | None:
    """An address as tokenward compares it (an IPv4-mapped IPv6 address as its IPv4 address),
    or None for anything else (a host name, a port, garbage)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed: addresses or CIDR ranges.

    ``None`` reads ``$TOKENWARD_TRUSTED_PROXIES``; a string is comma-separated; empty trusts
    none, and the peer's own address is the client's. A bad entry raises ``ValueError`` when
    the app is built, not on a request.
    """

    def __init__(self, proxies: Iterable[str] | None = None) -> None:
        if proxies is None:
            proxies = os.environ.get(TRUSTED_PROXIES_ENV, "")
        if isinstance(proxies, str):  # one string is a comma-separated list, not characters
            proxies = proxies.split(",")
        networks: list[Network] = []
        for entry in proxies:
            if entry.strip():
                network = ipaddress.ip_network(entry.strip(), strict=False)
                if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
                    mapped = network.network_address.ipv4_mapped
                    if mapped is not None:  # ::ffff:a.b.c.d/n is a.b.c.d/(n - 96)
                        network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
                networks.append(network)
        self.networks = tuple(networks)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> str | None:
        """The client's address: ``peer`` (the direct connection) unless it is a trusted
        proxy; then, walking ``X-Forwarded-For`` (every header value, in order) from the
        right, the first address that is not a trusted proxy. None when the peer is no
        address; the left-most address when every hop is trusted; the last trusted hop when
        an entry cannot be read (what is left of it is the client's to forge)."""
        address = None if peer is None else _address(peer)
        if address is None or not self.trusts(address):
            return None if address is None else str(address)
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            forwarded = _address(hop)
            if forwarded is None:
                break
            address = forwarded
            if not self.trusts(address):
                break
        return str(address)


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
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        #: Seconds before a retry can pass (429 for a rate limit), sent as ``Retry-After``.
        self.retry_after = retry_after
        self.headers: dict[str, str] = {}
        if status in (400, 401) or (status == 403 and error is not None):
            self.headers["WWW-Authenticate"] = challenge(realm, error, description, scope)
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)


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

# The controls: the token is good but may not be used from here, or not now. No RFC 6750
# error fits them (a new token would not help), so no challenge is sent.
_CONTROLS: dict[str, tuple[int, str]] = {
    VerifyCode.IP_DENIED: (403, "The token may not be used from this address"),
    VerifyCode.USAGE_EXCEEDED: (429, "The token has no credits left"),
    VerifyCode.RATE_LIMITED: (429, "The token is rate limited"),
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
    if not token or _WHITESPACE.search(token):
        raise Denied(400, "invalid_request", "The Authorization header is malformed", realm=realm)
    return token


def judge(verification: Verification, requirement: Requirement, realm: str | None) -> Identity:
    if verification.valid and verification.token is not None:
        return Identity.of(verification.token)
    control = _CONTROLS.get(verification.code)
    if control is not None:
        retry_after = None
        if verification.code == VerifyCode.RATE_LIMITED:
            # Rounded up: a client that waits the whole seconds told is not refused again.
            retry_after = max(1, math.ceil((verification.retry_after_ms or 0) / 1000))
        raise Denied(control[0], None, control[1], realm=realm, retry_after=retry_after)
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
    def key(token: str, requirement: Requirement, client_ip: str | None = None) -> str:
        # JSON keeps the parts apart unambiguously, whatever characters they hold. The address
        # is part of it: a token with an allowlist passes from one address, not another.
        parts = [token, requirement.audience, requirement.scopes, requirement.resource, client_ip]
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

    def put(self, key: str, identity: Identity, verification: Verification | None = None) -> None:
        if self.ttl == 0 or self.max_size == 0:
            return
        if verification is not None and counted(verification):
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


def counted(verification: Verification) -> bool:
    """Whether the token has credits or rate limits: each of its uses must reach tokenward."""
    limits = verification.limits
    if not limits:
        return False
    return limits.get("credits_remaining") is not None or bool(limits.get("rate_limits"))


class Verifier:
    """Checks bearer tokens with a tokenward server (synchronously), caching positive answers.

    ``url`` defaults to ``$TOKENWARD_URL``; ``credential`` (sent to ``/v1/verify`` when the
    server sets ``TOKENWARD_VERIFY_REQUIRES_AUTH``) to ``$TOKENWARD_TOKEN``;
    ``trusted_proxies`` (whose ``X-Forwarded-For`` is believed) to
    ``$TOKENWARD_TRUSTED_PROXIES``.
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
        trusted_proxies: Iterable[str] | None = None,
    ) -> None:
        self.proxies = TrustedProxies(trusted_proxies)
        self.cache = VerdictCache(cache_ttl, cache_size)
        self.realm = realm
        self.client = client or Client(
            url,  # the client falls back to TOKENWARD_URL and TOKENWARD_TOKEN itself
            credential,
            timeout=timeout,
            retries=retries,
            backoff=0.05,
        )

    def check(
        self, authorization: str | None, requirement: Requirement, client_ip: str | None = None
    ) -> Identity:
        """The identity behind an ``Authorization`` header value, or ``Denied``; ``client_ip``
        is the client's address (``TrustedProxies.client_address``)."""
        token = bearer_token(authorization, self.realm)
        key = VerdictCache.key(token, requirement, client_ip)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            verification = self.client.verify(
                token,
                audience=requirement.audience,
                scopes=requirement.scopes,
                resource=requirement.resource,
                client_ip=client_ip,
            )
        except TokenwardError as error:
            raise unavailable(error) from error
        identity = judge(verification, requirement, self.realm)
        self.cache.put(key, identity, verification)
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
        trusted_proxies: Iterable[str] | None = None,
    ) -> None:
        self.proxies = TrustedProxies(trusted_proxies)
        self.cache = VerdictCache(cache_ttl, cache_size)
        self.realm = realm
        self.client = client or AsyncClient(
            url,  # the client falls back to TOKENWARD_URL and TOKENWARD_TOKEN itself
            credential,
            timeout=timeout,
            retries=retries,
            backoff=0.05,
        )

    async def check(
        self, authorization: str | None, requirement: Requirement, client_ip: str | None = None
    ) -> Identity:
        token = bearer_token(authorization, self.realm)
        key = VerdictCache.key(token, requirement, client_ip)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            verification = await self.client.verify(
                token,
                audience=requirement.audience,
                scopes=requirement.scopes,
                resource=requirement.resource,
                client_ip=client_ip,
            )
        except TokenwardError as error:
            raise unavailable(error) from error
        identity = judge(verification, requirement, self.realm)
        self.cache.put(key, identity, verification)
        return identity

    async def aclose(self) -> None:
        await self.client.aclose()
