"""FastAPI and Starlette: ``require_token(...)``, a dependency that lets a request through only
with a bearer token that tokenward verifies, and hands the handler its ``Identity``::

    from tokenward.integrations.fastapi import require_token

    @app.get("/invoices")
    async def invoices(who: Identity = Depends(require_token(audience="billing",
                                                             scopes=["invoices:read"]))):
        ...

Refusals are ``HTTPException`` s with RFC 6750 ``WWW-Authenticate`` headers: 401 (no token,
``invalid_token``), 400 (``invalid_request``), 403 (``insufficient_scope``), and 503 when
tokenward cannot be asked; a token's controls give 403 (``IP_DENIED``) and 429 (no credits
left; rate limited, with ``Retry-After``), without a challenge. The client's address sent to
tokenward is the peer's, or from ``X-Forwarded-For`` when the peer is one of the verifier's
``trusted_proxies`` (``TrustedProxies``). uvicorn's own ``--proxy-headers`` may already have
put the forwarded address in the peer's place: a peer that is not a trusted proxy is taken as
it is, so either way the client cannot choose its address. In a plain Starlette endpoint,
``await guard(request)`` does the same. Positive answers are cached for ``cache_ttl`` seconds
(5 by default): the bound on how long a revoked token can still pass (see
``tokenward.integrations``); those of a token with credits or rate limits are not.

The dependency is a FastAPI security scheme (HTTP bearer), so the app's own ``/docs`` shows an
"Authorize" button and marks the routes it protects. Without a ``verifier``, the app needs
``TOKENWARD_URL`` when ``require_token`` is called: ``MissingConfiguration`` otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from starlette.exceptions import HTTPException
from starlette.requests import Request

from tokenward.integrations._verifier import (
    AsyncVerifier,
    Denied,
    Identity,
    Requirement,
    TrustedProxies,
    require_url,
)

if TYPE_CHECKING:
    from fastapi.openapi.models import HTTPBearer as BearerScheme
    from fastapi.security.base import SecurityBase
else:
    try:
        from fastapi.openapi.models import HTTPBearer as BearerScheme
        from fastapi.security.base import SecurityBase
    except ImportError:  # plain Starlette: no OpenAPI document to declare a scheme in
        BearerScheme = None
        SecurityBase = object

#: The scheme's name in the app's OpenAPI document; every guard shares it, so the document
#: has one scheme and "Authorize" asks for the token once.
SCHEME_NAME = "tokenward"

__all__ = [
    "AddressedChecker",
    "AsyncChecker",
    "ResourceOf",
    "TokenGuard",
    "default_offline_verifier",
    "default_verifier",
    "require_token",
    "set_default_verifier",
]

_default: AsyncVerifier | None = None
_default_offline: AsyncChecker | None = None


class AsyncChecker(Protocol):
    """``AsyncVerifier`` (asks tokenward) or ``AsyncOfflineVerifier`` (checks JWTs locally),
    or an app's own checker."""

    async def check(self, authorization: str | None, requirement: Requirement) -> Identity: ...


@runtime_checkable
class AddressedChecker(Protocol):
    """A checker that is told the client's address (both of tokenward's are); an app's own
    checker written before addresses were passed is called as before."""

    #: Whose ``X-Forwarded-For`` is believed when telling tokenward the client's address.
    proxies: TrustedProxies

    async def check(
        self, authorization: str | None, requirement: Requirement, client_ip: str | None = None
    ) -> Identity: ...


def default_offline_verifier() -> AsyncChecker:
    """The offline verifier used when none is given: made on first use from
    ``TOKENWARD_URL`` (needs PyJWT: ``pip install tokenward[offline]``)."""
    global _default_offline
    if _default_offline is None:
        from tokenward.integrations.offline import AsyncOfflineVerifier

        _default_offline = AsyncOfflineVerifier()
    return _default_offline


def default_verifier() -> AsyncVerifier:
    """The verifier used when none is given: made on first use from ``TOKENWARD_URL`` and
    ``TOKENWARD_TOKEN``."""
    global _default
    if _default is None:
        _default = AsyncVerifier()
    return _default


def set_default_verifier(verifier: AsyncVerifier | None) -> None:
    global _default
    _default = verifier


ResourceOf = Callable[[Request], str | None]


class TokenGuard(SecurityBase):
    """The dependency ``require_token`` returns; call it with a Starlette ``Request``.

    A FastAPI security scheme (when FastAPI is installed): FastAPI declares an HTTP bearer
    scheme for every route that depends on it. Its answers are its own, not ``HTTPBearer``'s.
    """

    def __init__(
        self,
        audience: str | None,
        scopes: Iterable[str],
        resource: str | ResourceOf | None,
        verifier: AsyncChecker | None,
        offline: bool = False,
    ) -> None:
        if verifier is None and (offline or _default is None):
            require_url(None, "require_token()")
        if BearerScheme is not None:
            self.model = BearerScheme(description="A token issued by tokenward")
            self.scheme_name = SCHEME_NAME
        self.audience = audience
        self.scopes = tuple(scopes)
        self.resource = resource
        self.verifier = verifier
        self.offline = offline

    def requirement(self, request: Request) -> Requirement:
        resource = self.resource(request) if callable(self.resource) else self.resource
        return Requirement.of(self.audience, self.scopes, resource)

    async def __call__(self, request: Request) -> Identity:
        verifier = self.verifier or (
            default_offline_verifier() if self.offline else default_verifier()
        )
        authorization = request.headers.get("authorization")
        try:
            if isinstance(verifier, AddressedChecker):
                peer = request.client.host if request.client is not None else None
                client_ip = verifier.proxies.client_address(
                    peer, request.headers.getlist("x-forwarded-for")
                )
                identity = await verifier.check(authorization, self.requirement(request), client_ip)
            else:
                identity = await verifier.check(authorization, self.requirement(request))
        except Denied as denied:
            raise HTTPException(
                denied.status, detail=denied.description, headers=denied.headers
            ) from None
        request.state.tokenward_identity = identity
        return identity


def require_token(
    audience: str | None = None,
    scopes: Iterable[str] = (),
    resource: str | ResourceOf | None = None,
    *,
    verifier: AsyncChecker | None = None,
    offline: bool = False,
) -> Callable[[Request], Awaitable[Identity]]:
    """A dependency that verifies the request's bearer token for ``audience``, ``scopes`` and
    ``resource`` (each checked by tokenward) and returns the token's ``Identity``.

    ``resource`` may be a function of the request, e.g. ``lambda r: r.path_params["broker"]``.
    Without ``verifier`` (and no ``set_default_verifier``), ``TOKENWARD_URL`` must be set:
    ``MissingConfiguration`` otherwise, so that a misconfigured app fails as it is built.

    ``offline=True``: the bearer token must be a JWT from tokenward's token exchange, checked
    in process against the published keys, with no call to tokenward per request (an
    ``AsyncOfflineVerifier``; see ``tokenward.integrations.offline`` and docs/offline.md).
    """
    return TokenGuard(audience, scopes, resource, verifier, offline)
