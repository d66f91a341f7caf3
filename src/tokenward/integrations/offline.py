"""Offline checking of the JWT access tokens that tokenward's token exchange issues: shared by
the FastAPI and DRF integrations (``require_token(..., offline=True)``, ``TOKENWARD["OFFLINE"]``).

No call to tokenward per request. The published keys (``/.well-known/jwks.json``) are fetched
once, again every ``refresh_seconds`` (at most the document's ``max-age``), and again when a
token names an unknown ``kid`` (at most once every ``min_refetch_seconds``). Each check:
the signature with the key the ``kid`` names and that key's own algorithm (never the token's
``alg``: no ``none``, no HMAC with a public key), ``typ`` ``at+jwt``, ``iss``, ``aud`` (when
the endpoint names one), ``exp``/``nbf``/``iat`` with ``leeway`` seconds, scopes, resources.

The revocation bound: a JWT of a disabled or deleted subject token passes until it expires
(5 minutes by default) unless ``/oauth2/revoked`` is polled (``revocation_poll_seconds``,
default 10): then at most that long after the poll that first lists it. See docs/offline.md.
Needs PyJWT with cryptography (``pip install tokenward[offline]``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from tokenward.integrations._verifier import (
    URL_ENV,
    Denied,
    Identity,
    Requirement,
    TrustedProxies,
)

#: The algorithms tokenward signs with. A JWK naming any other is ignored.
ALGORITHMS = frozenset({"EdDSA", "ES256"})
#: RFC 9068 2.1; also accepted in its long form (RFC 8725 3.11 lets media types drop it).
TYP = frozenset({"at+jwt", "application/at+jwt"})
DEFAULT_LEEWAY = 30.0
DEFAULT_REFRESH = 300.0
DEFAULT_MIN_REFETCH = 5.0
DEFAULT_REVOCATION_POLL = 10.0
#: How far back each poll of the revocation list reaches before the previous answer's
#: ``as_of``: covers the clock difference between servers and commits in flight.
REVOCATION_OVERLAP = 60
#: Tokens whose signature check is remembered (each entry holds the claims, well under 1 KB).
MAX_VERIFIED = 10_000

__all__ = ["AsyncOfflineVerifier", "KeySet", "OfflineChecker", "OfflineVerifier"]

_REQUIRED = ["exp", "iat", "nbf", "iss", "sub", "jti", "client_id"]


def _invalid(description: str, realm: str | None) -> Denied:
    return Denied(401, "invalid_token", description, realm=realm)


class KeySet:
    """The fetched public keys by kid, when they were fetched, and which JWTs are revoked."""

    def __init__(self) -> None:
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at: float | None = None
        self.revoked: dict[str, float] = {}  # jti -> exp
        self.polled_at: float | None = None
        self.as_of: int | None = None
        self.lock = threading.Lock()

    def install(self, document: Any) -> None:
        keys: dict[str, jwt.PyJWK] = {}
        entries = document.get("keys") if isinstance(document, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("alg") not in ALGORITHMS:
                continue  # a symmetric or unknown key is never one to trust
            kid = entry.get("kid")
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWKError:
                continue
            if isinstance(kid, str):
                keys[kid] = key
        self.keys = keys  # one assignment: readers see the old set or the new one
        self.fetched_at = time.monotonic()

    def install_revocations(self, document: Any) -> None:
        now = time.time()
        revoked = {jti: exp for jti, exp in self.revoked.items() if exp > now}
        for entry in document.get("revoked", []) if isinstance(document, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("jti"), str):
                revoked[entry["jti"]] = float(entry.get("exp", now + 3600))
        as_of = document.get("as_of") if isinstance(document, dict) else None
        self.revoked = revoked
        self.as_of = as_of if isinstance(as_of, int) else self.as_of
        self.polled_at = time.monotonic()


class OfflineChecker:
    """The checks themselves, once the keys are at hand."""

    def __init__(
        self,
        url: str | None,
        *,
        issuer: str | None,
        jwks_url: str | None,
        leeway: float,
        refresh_seconds: float,
        min_refetch_seconds: float,
        revocation_poll_seconds: float | None,
        realm: str | None,
    ) -> None:
        import os

        base = (url or os.environ.get(URL_ENV) or "").rstrip("/")
        if not base and not jwks_url:
            raise ValueError(f"no tokenward URL: pass url or jwks_url, or set {URL_ENV}")
        self.base = base
        self.jwks_url = jwks_url or f"{base}/.well-known/jwks.json"
        self.metadata_url = f"{base}/.well-known/oauth-authorization-server"
        self.revoked_url = f"{base}/oauth2/revoked" if base else None
        self.issuer = issuer
        self.leeway = leeway
        self.refresh_seconds = refresh_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self.revocation_poll_seconds = revocation_poll_seconds if self.revoked_url else None
        self.realm = realm
        self.keys = KeySet()
        #: SHA-256 of a token -> (kid, claims) once its signature and fixed claims passed.
        self.verified: dict[bytes, tuple[str, dict[str, Any]]] = {}
        self.max_verified = MAX_VERIFIED

    # -- what to fetch ------------------------------------------------------------------

    def header(self, token: str) -> tuple[str, str]:
        """The token's ``kid`` and ``alg``, read before any key is chosen; ``Denied`` for a
        token that is no JWS or names no key."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("The token is malformed", self.realm) from None
        kid, alg, typ = header.get("kid"), header.get("alg"), header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in TYP:
            raise _invalid("The token is not an access token", self.realm)
        if not isinstance(kid, str) or not isinstance(alg, str):
            raise _invalid("The token names no key", self.realm)
        return kid, alg

    def needs_keys(self, kid: str | None) -> bool:
        """Never fetched, due by the schedule, or (``kid`` given) a key not held."""
        fetched = self.keys.fetched_at
        if fetched is None or self.issuer is None:
            return True
        age = time.monotonic() - fetched
        if age >= self.refresh_seconds:
            return True
        return kid is not None and kid not in self.keys.keys and age >= self.min_refetch_seconds

    def kid_to_fetch(self, token: str) -> str | None:
        """The token's ``kid`` when its signature is yet to be checked; None when it was."""
        return None if self.known(token) else self.header(token)[0]

    def needs_poll(self) -> bool:
        if self.revocation_poll_seconds is None:
            return False
        polled = self.keys.polled_at
        return polled is None or time.monotonic() - polled >= self.revocation_poll_seconds

    def poll_params(self) -> dict[str, int]:
        as_of = self.keys.as_of
        return {} if as_of is None else {"since": max(0, as_of - REVOCATION_OVERLAP)}

    # -- the check ----------------------------------------------------------------------

    def known(self, token: str) -> bool:
        """Whether this token's signature was checked already, with a key still published."""
        entry = self.verified.get(_digest(token))
        return entry is not None and entry[0] in self.keys.keys

    def check(self, token: str, requirement: Requirement) -> Identity:
        """The checks of the module docstring. The signature and the fixed claims (``typ``,
        ``iss``, the required ones) are checked once per token and remembered by SHA-256 of
        the token (never the token itself); times, audience, scopes, resources and the
        revocation list on every call."""
        digest = _digest(token)
        entry = self.verified.get(digest)
        if entry is None or entry[0] not in self.keys.keys:
            kid, alg = self.header(token)
            claims = self._verified_claims(token, kid, alg)
            if len(self.verified) >= self.max_verified:
                self.verified.clear()  # bounded; the next checks fill it again
            self.verified[digest] = (kid, claims)
        else:
            claims = entry[1]
            now = time.time()
            if int(claims["exp"]) <= now - self.leeway:
                raise _invalid("The token has expired", self.realm)
            if int(claims["nbf"]) > now + self.leeway:
                raise _invalid("The token is not valid yet", self.realm)
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if requirement.audience is not None and (
            not isinstance(audiences, list) or requirement.audience not in audiences
        ):
            raise _invalid("The token is not for this service", self.realm)
        if claims["jti"] in self.keys.revoked:
            raise _invalid("The token is revoked", self.realm)
        scopes = str(claims.get("scope", "")).split()
        if not set(requirement.scopes).issubset(scopes):
            raise Denied(
                403,
                "insufficient_scope",
                "The token lacks a scope",
                realm=self.realm,
                scope=requirement.scopes,
            )
        resources = claims.get("resources")  # present only for a restricted subject token
        if (
            requirement.resource is not None
            and isinstance(resources, list)
            and requirement.resource not in resources
        ):
            raise Denied(
                403, "insufficient_scope", "The token is not for this resource", realm=self.realm
            )
        return identity_of(claims, scopes)

    def _verified_claims(self, token: str, kid: str, alg: str) -> dict[str, Any]:
        key = self.keys.keys.get(kid)
        if key is None:
            raise _invalid("The token is signed with an unknown key", self.realm)
        # The key's algorithm, not the header's: a header cannot choose how it is checked.
        if alg != key.algorithm_name or self.issuer is None:
            raise _invalid("The token is not valid", self.realm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                issuer=self.issuer,
                leeway=self.leeway,
                # The audience is checked on every call, against each endpoint's own.
                options={"require": _REQUIRED, "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("The token has expired", self.realm) from None
        except jwt.ImmatureSignatureError:
            raise _invalid("The token is not valid yet", self.realm) from None
        except jwt.PyJWTError:
            raise _invalid("The token is not valid", self.realm) from None
        return claims


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def identity_of(claims: Mapping[str, Any], scopes: list[str]) -> Identity:
    audience = claims.get("aud")
    audiences = (audience,) if isinstance(audience, str) else tuple(audience or ())
    try:
        token_id = int(claims["client_id"])
    except (TypeError, ValueError):
        token_id = 0
    return Identity(
        token_id=token_id,
        tenant=str(claims.get("tenant", "")),
        name="",
        type="jwt",
        principal=str(claims["sub"]),
        user=str(claims["sub"]),
        owner="",
        role=str(claims.get("role", "")),
        scopes=frozenset(scopes),
        audience=audiences,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        metadata={},
        claims=dict(claims),
    )


def _issuer_of(response: httpx.Response) -> str | None:
    if not response.is_success:
        return None
    document = response.json()
    issuer = document.get("issuer") if isinstance(document, dict) else None
    return issuer if isinstance(issuer, str) else None


class OfflineVerifier:
    """Checks exchanged JWTs locally (synchronously: DRF, any WSGI app).

    ``url`` (default ``$TOKENWARD_URL``) is where the keys, the metadata (for ``issuer``,
    when not given) and the revocation list are fetched from; never asked per request.
    ``revocation_poll_seconds=None`` turns the revocation list off.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        leeway: float = DEFAULT_LEEWAY,
        refresh_seconds: float = DEFAULT_REFRESH,
        min_refetch_seconds: float = DEFAULT_MIN_REFETCH,
        revocation_poll_seconds: float | None = DEFAULT_REVOCATION_POLL,
        realm: str | None = None,
        timeout: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.checker = OfflineChecker(
            url,
            issuer=issuer,
            jwks_url=jwks_url,
            leeway=leeway,
            refresh_seconds=refresh_seconds,
            min_refetch_seconds=min_refetch_seconds,
            revocation_poll_seconds=revocation_poll_seconds,
            realm=realm,
        )
        self.http = http or httpx.Client(timeout=timeout)
        #: No proxy is trusted: the client's address is not used offline.
        self.proxies = TrustedProxies(())

    def check(
        self, authorization: str | None, requirement: Requirement, client_ip: str | None = None
    ) -> Identity:
        # ``client_ip`` is not used: an exchanged JWT carries no IP allowlist, credits or rate
        # limits (they are judged by tokenward when the JWT is issued).
        from tokenward.integrations._verifier import bearer_token

        checker = self.checker
        token = bearer_token(authorization, checker.realm)
        if checker.needs_keys(checker.kid_to_fetch(token)):
            self.refresh()
        if checker.needs_poll():
            self.poll()
        return checker.check(token, requirement)

    def refresh(self) -> None:
        """Fetches the keys (and the issuer, when not configured); a failure keeps the keys
        held, and ``Denied`` 503 only when there are none."""
        checker = self.checker
        with checker.keys.lock:
            fetched = checker.keys.fetched_at
            if (
                fetched is not None
                and checker.issuer is not None
                and time.monotonic() - fetched < checker.min_refetch_seconds
            ):
                return  # another thread fetched them while this one waited
            try:
                if checker.issuer is None:
                    checker.issuer = _issuer_of(self.http.get(checker.metadata_url))
                response = self.http.get(checker.jwks_url)
                response.raise_for_status()
                checker.keys.install(response.json())
            except (httpx.HTTPError, ValueError):
                if not checker.keys.keys or checker.issuer is None:
                    raise Denied(503, None, "Token verification is unavailable") from None

    def poll(self) -> None:
        """Reads the revocation list; a failure is retried at the next period."""
        checker = self.checker
        assert checker.revoked_url is not None
        checker.keys.polled_at = time.monotonic()  # one poll at a time, not one per request
        try:
            response = self.http.get(checker.revoked_url, params=checker.poll_params())
            response.raise_for_status()
            checker.keys.install_revocations(response.json())
        except (httpx.HTTPError, ValueError):
            return

    def close(self) -> None:
        self.http.close()


class AsyncOfflineVerifier:
    """``OfflineVerifier`` for asyncio apps (FastAPI, Starlette); the same parameters."""

    def __init__(
        self,
        url: str | None = None,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        leeway: float = DEFAULT_LEEWAY,
        refresh_seconds: float = DEFAULT_REFRESH,
        min_refetch_seconds: float = DEFAULT_MIN_REFETCH,
        revocation_poll_seconds: float | None = DEFAULT_REVOCATION_POLL,
        realm: str | None = None,
        timeout: float = 5.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.checker = OfflineChecker(
            url,
            issuer=issuer,
            jwks_url=jwks_url,
            leeway=leeway,
            refresh_seconds=refresh_seconds,
            min_refetch_seconds=min_refetch_seconds,
            revocation_poll_seconds=revocation_poll_seconds,
            realm=realm,
        )
        self.http = http or httpx.AsyncClient(timeout=timeout)
        #: No proxy is trusted: the client's address is not used offline.
        self.proxies = TrustedProxies(())

    async def check(
        self, authorization: str | None, requirement: Requirement, client_ip: str | None = None
    ) -> Identity:
        # ``client_ip`` is not used: an exchanged JWT carries no IP allowlist, credits or rate
        # limits (they are judged by tokenward when the JWT is issued).
        from tokenward.integrations._verifier import bearer_token

        checker = self.checker
        token = bearer_token(authorization, checker.realm)
        if checker.needs_keys(checker.kid_to_fetch(token)):
            await self.refresh()
        if checker.needs_poll():
            await self.poll()
        return checker.check(token, requirement)

    async def refresh(self) -> None:
        checker = self.checker
        try:
            if checker.issuer is None:
                checker.issuer = _issuer_of(await self.http.get(checker.metadata_url))
            response = await self.http.get(checker.jwks_url)
            response.raise_for_status()
            checker.keys.install(response.json())
        except (httpx.HTTPError, ValueError):
            if not checker.keys.keys or checker.issuer is None:
                raise Denied(503, None, "Token verification is unavailable") from None

    async def poll(self) -> None:
        checker = self.checker
        assert checker.revoked_url is not None
        checker.keys.polled_at = time.monotonic()  # one poll at a time, not one per request
        try:
            response = await self.http.get(checker.revoked_url, params=checker.poll_params())
            response.raise_for_status()
            checker.keys.install_revocations(response.json())
        except (httpx.HTTPError, ValueError):
            return

    async def aclose(self) -> None:
        await self.http.aclose()
