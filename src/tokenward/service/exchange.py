"""OAuth 2.0 token exchange (RFC 8693): a tokenward secret in, a short-lived JWT access
token (RFC 9068) out; and the list of issued JWTs whose subject was revoked since.

The subject token is the only credential: it is verified exactly as ``/v1/verify`` verifies
it (``_verify_subject``, the one call into verification), and the JWT can only narrow it:
one of its audiences, a subset of its scopes, a lifetime that ends no later than it does.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tokenward.domain import clock
from tokenward.domain.errors import ExchangeRefused
from tokenward.domain.verification import Verification
from tokenward.service import auth
from tokenward.service.core import Core
from tokenward.service.ports import SubjectVerifier
from tokenward.signing.ring import KeyRing

#: RFC 8693 section 3 token type identifiers.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"


@dataclass(frozen=True, slots=True)
class Issuance:
    """How this installation issues JWTs: its ``iss`` and the lifetime it gives them; and
    whether an exchange, like a verification, needs a credential of its caller
    (``TOKENWARD_VERIFY_REQUIRES_AUTH``)."""

    ring: KeyRing
    issuer: str
    lifetime: timedelta
    requires_credential: bool = False


@dataclass(frozen=True, slots=True)
class Exchanged:
    access_token: str
    expires_in: int
    scope: tuple[str, ...]
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Revoked:
    jti: str
    expires_at: datetime


def exchange(
    core: Core,
    issuance: Issuance,
    verifier: SubjectVerifier,
    *,
    subject_token: str,
    audience: str | None = None,
    scopes: Sequence[str] | None = None,
    credential: str | None = None,
    client: str | None = None,
) -> Exchanged:
    """A JWT for the subject token, narrowed to ``audience`` and ``scopes`` when given.

    ``credential`` matters only when the server requires one for verification
    (``TOKENWARD_VERIFY_REQUIRES_AUTH``): an exchange is then refused without it, as a
    verification would be.
    """
    if issuance.requires_credential:
        auth.authenticate(core, credential, client=client)
    result = _verify_subject(verifier, subject_token)
    token = result.token
    if not result.valid or token is None:
        # The code alone, as /v1/verify gives it to whoever holds the secret.
        raise ExchangeRefused(
            error="invalid_grant", message=f"the subject token is not valid ({result.code})"
        )
    if not token.audience:
        raise ExchangeRefused(
            error="invalid_target",
            message="the subject token has no audience: it cannot be exchanged",
        )
    if audience is not None and audience not in token.audience:
        raise ExchangeRefused(
            error="invalid_target",
            message="the audience asked for is not one of the subject token's",
        )
    granted = token.scopes if scopes is None else tuple(dict.fromkeys(scopes))
    if not set(granted).issubset(token.scopes):
        raise ExchangeRefused(
            error="invalid_scope", message="a scope asked for is not the subject token's"
        )

    now = core.clock()
    issued_at = math.floor(now.timestamp())
    expires = issued_at + int(issuance.lifetime.total_seconds())
    if token.expires_at is not None:
        expires = min(expires, math.floor(token.expires_at.timestamp()))
    if expires <= issued_at:
        raise ExchangeRefused(
            error="invalid_grant", message="the subject token expires within a second"
        )
    jti = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": issuance.issuer,
        "sub": token.principal or token.user,
        "aud": audience if audience is not None else _one_or_list(token.audience),
        "exp": expires,
        "iat": issued_at,
        "nbf": issued_at,
        "jti": jti,
        "client_id": str(token.id),
        "scope": " ".join(granted),
        "tenant": token.tenant,
        "role": str(token.role),
    }
    if token.restricted:
        claims["resources"] = list(token.resources)
    access_token = issuance.ring.sign(claims, now)
    expires_at = clock.from_millis(expires * 1000)
    with core.uow(write=True) as uow:
        uow.issued_jwts.add(jti, token.id, expires_at)
        uow.commit()
    return Exchanged(
        access_token=access_token,
        expires_in=expires - issued_at,
        scope=granted,
        jti=jti,
        expires_at=expires_at,
    )


def revoked_since(core: Core, since: datetime | None) -> tuple[datetime, list[Revoked]]:
    """The JWTs still unexpired whose subject was disabled, deleted or cut short, seen so at
    or after ``since``; and the instant the answer holds for (the next poll's ``since``,
    less an overlap). Marking happens here, so the list is as fresh as the poll."""
    now = core.clock()
    with core.uow() as uow:
        pending = uow.issued_jwts.unmarked_revocations(now)
    if pending:
        with core.uow(write=True) as uow:
            uow.issued_jwts.mark_revoked(now)
            uow.commit()
    with core.uow() as uow:
        rows = uow.issued_jwts.revoked_since(since or clock.from_millis(0), now)
    return now, [Revoked(jti, expires_at) for jti, expires_at in rows]


def prune(core: Core) -> None:
    """Expired JWTs need no listing: their ``exp`` refuses them everywhere."""
    with core.uow(write=True) as uow:
        uow.issued_jwts.prune(core.clock())
        uow.commit()


def _verify_subject(verifier: SubjectVerifier, secret: str) -> Verification:
    # The one call into verification (rate limits, credits and every refusal code of
    # /v1/verify apply to exchanges through it).
    return verifier.verify(secret)


def _one_or_list(values: Sequence[str]) -> str | list[str]:
    # RFC 7519 4.1.3: a single audience may be a string, which more verifiers accept.
    return values[0] if len(values) == 1 else list(values)
