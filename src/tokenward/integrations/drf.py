"""Django REST framework: ``TokenwardAuthentication`` and ``TokenwardPermission``.

Configure them in ``REST_FRAMEWORK`` (or per view) and tell them where tokenward is::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["tokenward.integrations.drf.TokenwardAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["tokenward.integrations.drf.TokenwardPermission"],
    }
    TOKENWARD = {"URL": "http://127.0.0.1:8080", "AUDIENCE": "billing", "CACHE_TTL": 5.0}

``TOKENWARD`` keys: ``URL`` (default ``$TOKENWARD_URL``), ``TOKEN`` (the credential sent to
verify when the server requires one; default ``$TOKENWARD_TOKEN``), ``AUDIENCE`` (this
service's name; a view may set ``tokenward_audience``), ``CACHE_TTL`` (seconds a positive
answer is reused: the bound on how long a revoked token can still pass, default 5),
``CACHE_SIZE``, ``REALM``, ``TRUSTED_PROXIES`` (addresses or CIDR ranges of the proxies whose
``X-Forwarded-For`` is believed; default ``$TOKENWARD_TRUSTED_PROXIES``, else none: the
client's address sent to tokenward is ``REMOTE_ADDR``); ``OFFLINE`` (true: bearer tokens are
JWTs from tokenward's token exchange, checked in process against the published keys, with no
call to tokenward per request; ``ISSUER``, ``LEEWAY``, ``REVOCATION_POLL_SECONDS`` tune it;
see docs/offline.md). Without ``URL`` nor ``$TOKENWARD_URL``, the first request that needs
tokenward raises Django's ``ImproperlyConfigured`` naming both.

The authentication class verifies the bearer token for the view's audience, its
``required_scopes`` (a list, or a dict from HTTP method to list) and ``tokenward_resource`` (a
string, or the name of a URL keyword argument given as ``tokenward_resource_kwarg``), in one
call to tokenward, and sets ``request.user`` (a ``TokenwardUser``) and ``request.auth`` (the
``Identity``). The permission class lets through what the authentication checked, and asks
tokenward (through the same cache) only for a requirement it did not. Refusals carry RFC 6750
``WWW-Authenticate`` headers; a token's controls give 403 (``IP_DENIED``) and 429 (no
credits left; rate limited, with ``Retry-After``). Django and DRF are imported only here:
install the ``django`` extra to use this module.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tokenward.integrations._verifier import (
    DEFAULT_CACHE_SIZE,
    DEFAULT_CACHE_TTL,
    URL_ENV,
    Denied,
    Identity,
    Requirement,
    TrustedProxies,
    Verifier,
    challenge,
)

__all__ = ["Refused", "TokenwardAuthentication", "TokenwardPermission", "TokenwardUser", "verifier"]


class Checker(Protocol):
    """``Verifier`` (asks tokenward) or ``OfflineVerifier`` (checks JWTs locally)."""

    #: Whose ``X-Forwarded-For`` is believed when telling tokenward the client's address.
    proxies: TrustedProxies

    def check(
        self, authorization: str | None, requirement: Requirement, client_ip: str | None = None
    ) -> Identity: ...


_verifiers: dict[tuple[Any, ...], Checker] = {}
_lock = threading.Lock()


def _config() -> dict[str, Any]:
    return dict(getattr(settings, "TOKENWARD", {}))


def verifier() -> Checker:
    """The verifier for the current ``TOKENWARD`` settings (one per distinct configuration)."""
    config = _config()
    key = (
        config.get("URL"),
        config.get("TOKEN"),
        float(config.get("CACHE_TTL", DEFAULT_CACHE_TTL)),
        int(config.get("CACHE_SIZE", DEFAULT_CACHE_SIZE)),
        config.get("REALM"),
        bool(config.get("OFFLINE", False)),
        config.get("ISSUER"),
        config.get("LEEWAY"),
        config.get("REVOCATION_POLL_SECONDS", "default"),
        _proxies(config.get("TRUSTED_PROXIES")),
    )
    with _lock:
        found = _verifiers.get(key)
        if found is None:
            url, credential, ttl, size, realm, offline = key[:6]
            if not (url or os.environ.get(URL_ENV)):
                # Django's word for a bad setting, raised before the client would raise a
                # ValueError from deep in the request.
                raise ImproperlyConfigured(
                    f'TOKENWARD["URL"] is not set and neither is {URL_ENV}: the tokenward '
                    "integration does not know where tokenward is"
                )
            found = (
                _offline(config, url, realm)
                if offline
                else Verifier(
                    url,
                    credential,
                    cache_ttl=ttl,
                    cache_size=size,
                    realm=realm,
                    trusted_proxies=key[9],
                )
            )
            _verifiers[key] = found
        return found


def _proxies(value: Any) -> tuple[str, ...] | None:
    """``TRUSTED_PROXIES`` as a hashable key: a list, or one comma-separated string."""
    if value is None:
        return None
    return tuple(value.split(",")) if isinstance(value, str) else tuple(value)


def _offline(config: dict[str, Any], url: str | None, realm: str | None) -> Checker:
    from tokenward.integrations.offline import (
        DEFAULT_LEEWAY,
        DEFAULT_REVOCATION_POLL,
        OfflineVerifier,
    )

    poll = config.get("REVOCATION_POLL_SECONDS", DEFAULT_REVOCATION_POLL)
    return OfflineVerifier(
        url,
        issuer=config.get("ISSUER"),
        leeway=float(config.get("LEEWAY", DEFAULT_LEEWAY)),
        revocation_poll_seconds=None if poll is None else float(poll),
        realm=realm,
    )


class Refused(APIException):  # type: ignore[misc]
    """A refusal with its status and ``WWW-Authenticate`` challenge (DRF sends ``auth_header``)."""

    def __init__(self, denied: Denied) -> None:
        code = denied.error or _CODES.get(denied.status, "unavailable")
        super().__init__(detail=denied.description, code=code)
        self.status_code = denied.status
        self.auth_header = denied.headers.get("WWW-Authenticate")
        #: DRF's exception handler sends ``wait`` as ``Retry-After``.
        self.wait = denied.retry_after


_CODES = {403: "forbidden", 429: "throttled"}


class TokenwardUser:
    """``request.user`` for a verified token: authenticated, not a Django database user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.pk = self.id = identity.token_id
        self.username = identity.user

    def __str__(self) -> str:
        return self.username


def _audience(view: Any) -> str | None:
    audience = getattr(view, "tokenward_audience", None) or _config().get("AUDIENCE")
    return None if audience is None else str(audience)


def _client_ip(checker: Checker, request: Request) -> str | None:
    meta = request.META
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    return checker.proxies.client_address(
        meta.get("REMOTE_ADDR"), () if forwarded is None else (forwarded,)
    )


def _is_bearer(header: str) -> bool:
    return header.strip().partition(" ")[0].lower() == "bearer"


def _requirement(request: Request, view: Any) -> Requirement:
    """What ``view`` asks of a token for this request: its audience, the ``required_scopes``
    of the method and its ``tokenward_resource``."""
    scopes = getattr(view, "required_scopes", ())
    if isinstance(scopes, dict):
        scopes = scopes.get(request.method, ())
    resource = getattr(view, "tokenward_resource", None)
    kwarg = getattr(view, "tokenward_resource_kwarg", None)
    if kwarg is not None:
        resource = (getattr(view, "kwargs", None) or {}).get(kwarg)
    return Requirement.of(_audience(view), scopes, resource)


#: Where the authentication notes the requirement it had tokenward check, on the Django request.
_CHECKED = "tokenward_requirement"


class TokenwardAuthentication(BaseAuthentication):  # type: ignore[misc]
    def authenticate(self, request: Request) -> tuple[TokenwardUser, Identity] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.strip() or not _is_bearer(header):
            return None  # not ours: another authenticator may know it, else 401 "Bearer"
        view = (request.parser_context or {}).get("view")
        # The view's whole requirement in one verification: a token with credits or rate
        # limits is counted once per request, not once here and again in the permission.
        requirement = _requirement(request, view)
        checker = verifier()
        try:
            identity = checker.check(header, requirement, _client_ip(checker, request))
        except Denied as denied:
            raise Refused(denied) from None
        setattr(request._request, _CHECKED, requirement)
        return TokenwardUser(identity), identity

    def authenticate_header(self, request: Request) -> str:
        return challenge(_config().get("REALM"), None, "")


class TokenwardPermission(BasePermission):  # type: ignore[misc]
    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, Identity):
            return False  # DRF answers 401 with the authenticator's challenge
        requirement = _requirement(request, view)
        if not requirement.scopes and requirement.resource is None:
            return True
        if getattr(request._request, _CHECKED, None) == requirement:
            return True  # the authentication had tokenward check exactly this
        checker = verifier()
        try:
            checker.check(
                request.META.get("HTTP_AUTHORIZATION"), requirement, _client_ip(checker, request)
            )
        except Denied as denied:
            raise Refused(denied) from None
        return True
