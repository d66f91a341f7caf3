"""What the security suites share: the server's route table, the callers, targets in the store."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from tests.helpers import ROOT_HEADERS, ROOT_TOKEN, bearer, issue, tenant
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token, TokenSpec
from tokenward.service import tokens
from tokenward.service.core import Core

#: Endpoints that are public by design (docs/api.md, docs/security.md); /v1/verify is open
#: unless TOKENWARD_VERIFY_REQUIRES_AUTH is set, which a test of its own covers.
PUBLIC = frozenset(
    {
        "GET /healthz",
        "GET /readyz",
        "GET /openapi.json",
        "HEAD /openapi.json",
        "GET /docs",
        "HEAD /docs",
        "GET /docs/oauth2-redirect",
        "HEAD /docs/oauth2-redirect",
        "GET /redoc",
        "HEAD /redoc",
        "GET /docs/assets/{package}/{name}",
        "HEAD /docs/assets/{package}/{name}",
        "POST /v1/verify",
        # The token exchange: the subject token is the only credential; the keys, the
        # metadata and the revocation list name no secret (docs/offline.md).
        "POST /oauth2/token",
        "GET /.well-known/jwks.json",
        "GET /.well-known/oauth-authorization-server",
        "GET /oauth2/revoked",
        # Redirects to the web console's sign-in page (its own tests: tests/console).
        "GET /",
        "GET /console",
    }
)

ACME = "acme"  # the callers' tenant
RIVAL = "rival"  # the other tenant's admin lives here
#: Scopes every management caller holds, so that an editor may grant them to what it makes.
SCOPES = ["flow/read"]
#: The same for audiences: an editor grants only audiences it holds (docs/permissions.md).
AUDIENCE = ["tokenward", "billing"]

CALLERS = (
    "none",
    "garbage",
    "bad_checksum",
    "unknown",
    "expired",
    "disabled",
    "deleted",
    "rotated_out",
    "no_audience",
    "viewer",
    "editor",
    "admin",
    "other_admin",
    "root",
)
#: The callers whose credential identifies no one: always 401 (or the face's 401).
UNAUTHENTICATED = CALLERS[:9]


def fastapi_app(app: object) -> FastAPI:
    """The FastAPI app inside the ASGI wrappers that ``create_app`` puts around it."""
    while not isinstance(app, FastAPI):
        app = app.app  # type: ignore[attr-defined]
    return app


def _flatten(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, BaseRoute]]:
    found: list[tuple[str, BaseRoute]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            context = getattr(route, "include_context", None)
            found += _flatten(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
        else:
            found.append((prefix, route))
    return found


def route_table(app: object) -> dict[str, APIRoute]:
    """Every ``METHOD /path`` the server answers, from its route table (public ones too)."""
    table: dict[str, APIRoute] = {}
    for prefix, route in _flatten(list(fastapi_app(app).routes)):
        methods = getattr(route, "methods", None) or set()
        for method in sorted(methods):
            key = f"{method} {prefix}{getattr(route, 'path', '')}"
            if isinstance(route, APIRoute):
                table[key] = route
            else:  # the docs routes are plain Starlette routes: public by design
                assert key in PUBLIC, f"{key} is not an APIRoute and not documented as public"
    return table


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    secret: str | None = None


_counter = itertools.count(1)


def unique(stem: str) -> str:
    return f"{stem}-{next(_counter)}"


def core_of(client: TestClient) -> Core:
    core: Core = client.app_state["core"]
    return core


def make_callers(client: TestClient) -> dict[str, Caller]:
    """The fourteen kinds of caller, built through the API as root would build them.

    ``expired`` and ``rotated_out`` are made with a one-second window, then waited for.
    """
    for name in (ACME, RIVAL):
        tenant(client, name)

    def manager(role: str, tenant: str = ACME, user: str | None = None, **fields: Any) -> str:
        fields.setdefault("audience", AUDIENCE)
        body = issue(
            client, tenant, name=f"{role} caller", role=role, scopes=SCOPES, user=user, **fields
        )
        secret: str = body["secret"]
        return secret

    soon = datetime.now(UTC) + timedelta(seconds=1)
    started = time.monotonic()
    expired = manager("admin", expires_at=soon.isoformat())
    disabled = issue(client, ACME, name="d", role="admin", audience=["tokenward"])
    client.post(f"/v1/tenants/{ACME}/tokens/{disabled['id']}/disable", headers=ROOT_HEADERS)
    deleted = issue(client, ACME, name="x", role="admin", audience=["tokenward"])
    client.delete(f"/v1/tenants/{ACME}/tokens/{deleted['id']}", headers=ROOT_HEADERS)
    rotated = issue(client, ACME, name="r", role="admin", audience=["tokenward"])
    rotation = client.post(
        f"/v1/tenants/{ACME}/tokens/{rotated['id']}/rotate",
        json={"grace_seconds": 1},
        headers=ROOT_HEADERS,
    )
    assert rotation.status_code == 200, rotation.text
    rotated_at = time.monotonic()
    admin = manager("admin", user="ada")
    wrong_checksum = admin[:-1] + ("A" if admin[-1] != "A" else "B")
    assert not secret_format.is_well_formed(wrong_checksum)
    secrets = {
        "garbage": "not a credential at all",
        "bad_checksum": wrong_checksum,
        "unknown": secret_format.generate(),
        "expired": expired,
        "disabled": disabled["secret"],
        "deleted": deleted["secret"],
        "rotated_out": rotated["secret"],
        "no_audience": manager("admin", audience=["billing"]),
        "viewer": manager("viewer", user="vera"),
        "editor": manager("editor", user="eddie"),
        "admin": admin,
        "other_admin": manager("admin", tenant=RIVAL, user="otto"),
        "root": ROOT_TOKEN,
    }
    # The expiry and the grace period of the rotated-out secret: both one second, each from
    # its own request (the requests in between take a while on a loaded machine).
    time.sleep(max(0.0, started + 1.2 - time.monotonic(), rotated_at + 1.2 - time.monotonic()))
    callers = {"none": Caller("none", {})}
    for name, secret in secrets.items():
        callers[name] = Caller(name, bearer(secret), secret)
    assert list(callers) == list(CALLERS)
    return callers


def make_target(
    core: Core, tenant: str, *, active: bool = True, recoverable: bool = True, **spec: Any
) -> tuple[Token, str]:
    """A token made by root in ``tenant``: role viewer, the callers' scopes, recoverable."""
    spec.setdefault("name", unique("target"))
    spec.setdefault("scopes", tuple(SCOPES))
    spec.setdefault("audience", ("billing",))
    issued = tokens.issue(
        core,
        Actor.root(),
        tenant=tenant,
        spec=TokenSpec(role=Role.VIEWER, active=active, recoverable=recoverable, **spec),
    )
    return issued.token, issued.secret


def stored(core: Core, tenant: str, token_id: int) -> Token | None:
    with core.uow() as uow:
        return uow.tokens.get(tenant, token_id)


def tenant_exists(core: Core, name: str) -> bool:
    with core.uow() as uow:
        return uow.tenants.get(name) is not None


#: One body-reading call of each face (tests of body limits and nesting).
BODY_CALLS = {
    "native": ("POST", "/v1/tenants/default/tokens"),
    "verify": ("POST", "/v1/verify"),
    "oauth2": ("POST", "/oauth2/introspect"),
    "boomerang": ("POST", "/api/v2/token"),
    "query": ("POST", "/_/token"),
    "devo": ("POST", "/v2/accounts/default/tokens"),
    "cedalo": ("POST", "/api/projects/default/tokens"),
}
