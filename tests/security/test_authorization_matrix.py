"""Suite 1: every endpoint of every face, times every kind of caller (issue 5).

The routes come from the server's own route table, so a new endpoint fails
``test_every_route_has_a_row`` until its row is written below. Each cell builds a target the
caller could act on (a token of the right tenant, made by root), sends the request and reads
the outcome back from the answer *and from the store*:

    A  the request reached the target: read it, changed it, made a token in its tenant
    m  Devo's get answered the target's metadata with the secret masked
    o  2xx that left the target alone (a face that acts in the caller's own tenant, or a
       no-op the product answers with 200, such as RFC 7009 revocation of a foreign token)
    .  refused: 401 for a credential that identifies no one, else 403/404 (400, 401 or 405
       where the product answers so), in the face's own error format

A cell is "wrongly allowed" when it reached further than its row says (. < o < m < A).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS
from tests.helpers import tenant as make_tenant
from tests.security.support import (
    ACME,
    CALLERS,
    PUBLIC,
    RIVAL,
    SCOPES,
    UNAUTHENTICATED,
    Caller,
    core_of,
    make_callers,
    make_target,
    route_table,
    stored,
    tenant_exists,
    unique,
)
from tokenward.app import create_app
from tokenward.domain.actors import Actor
from tokenward.domain.lifecycle import Webhook
from tokenward.domain.tokens import PageRequest, Token, TokenQuery
from tokenward.service import policies, webhooks
from tokenward.service.core import Core
from tokenward.settings import Settings

#: Columns: none garbage bad_checksum unknown expired disabled deleted rotated_out
#: no_audience | viewer editor admin other_admin root.
DENY_ALL = "......... ....."
EXPECTED: dict[str, str] = {
    # native
    "POST /v1/tenants": "......... ....A",
    "GET /v1/tenants": "......... AAAoA",
    "GET /v1/tenants/{tenant}": "......... AAA.A",
    "DELETE /v1/tenants/{tenant}": "......... ....A",
    "POST /v1/tenants/{tenant}/tokens": "......... .AA.A",
    "GET /v1/tenants/{tenant}/tokens": "......... AAA.A",
    "GET /v1/tenants/{tenant}/tokens/{token_id}": "......... AAA.A",
    "PATCH /v1/tenants/{tenant}/tokens/{token_id}": "......... .AA.A",
    "DELETE /v1/tenants/{tenant}/tokens/{token_id}": "......... .AA.A",
    # Enabling puts a credential back in force: below admin, only a token acting for the
    # caller (the target acts for root).
    "POST /v1/tenants/{tenant}/tokens/{token_id}/enable": "......... ..A.A",
    "POST /v1/tenants/{tenant}/tokens/{token_id}/disable": "......... .AA.A",
    # Rotation hands over a credential: below admin, only of a token acting for the caller.
    "POST /v1/tenants/{tenant}/tokens/{token_id}/rotate": "......... ..A.A",
    "GET /v1/tenants/{tenant}/tokens/{token_id}/secret": "......... ..A.A",
    # Controls (issue 17): a balance set on an unlimited token narrows it; usage is a read.
    "POST /v1/tenants/{tenant}/tokens/{token_id}/credits": "......... .AA.A",
    "GET /v1/tenants/{tenant}/tokens/{token_id}/usage": "......... AAA.A",
    "GET /v1/tenants/{tenant}/usage": "......... AAA.A",
    "GET /v1/audit": "......... ..A.A",
    # By hash, for ``tokenward scan``: another tenant's token reads as unknown (2xx, not live).
    "POST /v1/leaks/check": "......... AAAoA",
    # Lifecycle (docs/lifecycle.md): the tenant's admins and root only.
    "GET /v1/tenants/{tenant}/policy": "......... ..A.A",
    "PUT /v1/tenants/{tenant}/policy": "......... ..A.A",
    "POST /v1/tenants/{tenant}/webhooks": "......... ..A.A",
    "GET /v1/tenants/{tenant}/webhooks": "......... ..A.A",
    "GET /v1/tenants/{tenant}/webhooks/{webhook_id}": "......... ..A.A",
    "PATCH /v1/tenants/{tenant}/webhooks/{webhook_id}": "......... ..A.A",
    "DELETE /v1/tenants/{tenant}/webhooks/{webhook_id}": "......... ..A.A",
    "GET /v1/tenants/{tenant}/webhooks/{webhook_id}/deliveries": "......... ..A.A",
    "POST /v1/tenants/{tenant}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry": (
        "......... ..A.A"
    ),
    "GET /metrics": "......... ....A",
    # OAuth 2.0
    "POST /oauth2/introspect": "......... AAAoA",
    "POST /oauth2/revoke": "......... .AAoA",
    # Boomerang: the tenant is the caller's own; the other tenant's admin acts in its own
    "POST /api/v2/token": "......... .AAoA",
    "GET /api/v2/token/query": "......... AAAoA",
    "DELETE /api/v2/token/{id}": "......... .AA.A",
    **{
        f"{m} /api/v2/token": DENY_ALL for m in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT")
    },
    **{
        f"{m} /api/v2/token/{{id}}": DENY_ALL
        for m in ("GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
    },
    # Query: admins only, in the caller's own tenant
    "POST /_/token": "......... ..AoA",
    "GET /_/token": "......... ..AoA",
    "PUT /_/token": "......... ..A.A",
    "DELETE /_/token": "......... ..AoA",
    "GET /_/token/value": "......... ..AoA",
    **{f"{m} /_/token": DENY_ALL for m in ("OPTIONS", "PATCH")},
    **{f"{m} /_/token/value": DENY_ALL for m in ("DELETE", "OPTIONS", "PATCH", "POST", "PUT")},
    # Devo
    "GET /v2/accounts/{accountName}/tokens": "......... AAA.A",
    "GET /v2/accounts/{accountName}/tokens/{tokenId}": "......... mmA.A",
    "POST /v2/accounts/{accountName}/tokens": "......... .AA.A",
    "PUT /v2/accounts/{accountName}/tokens/{tokenId}/enable": "......... ..A.A",
    "PUT /v2/accounts/{accountName}/tokens/{tokenId}/disable": "......... .AA.A",
    "PUT /v2/accounts/{accountName}/tokens/{tokenId}/rename": "......... .AA.A",
    "DELETE /v2/accounts/{accountName}/tokens/{tokenId}": "......... .AA.A",
    **{
        f"{m} /v2/accounts/{{rest:path}}": DENY_ALL
        for m in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
    },
    # Cedalo
    "GET /api/projects/{projectId}/tokens": "......... AAA.A",
    "POST /api/projects/{projectId}/tokens": "......... .AA.A",
    "DELETE /api/projects/{projectId}/tokens/{tokenId}": "......... .AA.A",
    **{
        f"{m} /api/projects/{{projectId}}/tokens": DENY_ALL
        for m in ("PUT", "PATCH", "DELETE", "OPTIONS")
    },
    **{
        f"{m} /api/projects/{{projectId}}/tokens/{{tokenId}}": DENY_ALL
        for m in ("GET", "POST", "PUT", "PATCH", "OPTIONS")
    },
}
RANK = {".": 0, "o": 1, "m": 2, "A": 3}


def expected(key: str, caller: str) -> str:
    row = EXPECTED[key].replace(" ", "")
    assert len(row) == len(CALLERS), key
    return row[CALLERS.index(caller)]


def face_of(path: str) -> str:
    for prefix, face in (
        ("/v1/", "native"),
        ("/metrics", "native"),
        ("/oauth2/", "oauth2"),
        ("/api/v2/token", "boomerang"),
        ("/_/token", "query"),
        ("/v2/accounts/", "devo"),
        ("/api/projects/", "cedalo"),
    ):
        if path.startswith(prefix):
            return face
    raise AssertionError(f"no face for {path}")


#: Faces whose paths name no tenant: they act in the caller's own (root's is ``default``).
IMPLICIT = frozenset({"boomerang", "query"})


@dataclass
class Cell:
    """One request: the target it acts on and what the answer and the store say."""

    core: Core
    key: str
    caller: Caller
    tenant: str
    target: Token | None = None
    secret: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tid(self) -> int:
        assert self.target is not None
        return self.target.id

    def now(self) -> Token | None:
        return stored(self.core, self.tenant, self.tid)


Request = dict[str, Any]
Observe = Callable[[Cell, httpx.Response], str]


def _yes(ok: bool, otherwise: str = "o") -> str:
    return "A" if ok else otherwise


def _created_in(cell: Cell, token_id: object) -> str:
    return _yes(stored(cell.core, cell.tenant, int(str(token_id))) is not None)


def _named_in(cell: Cell, name: str) -> bool:
    with cell.core.uow() as uow:
        found = uow.tokens.search(
            cell.tenant, TokenQuery(name=name), PageRequest(0, 5), cell.core.clock()
        )
    return any(t.name == name for t in found.items)


@dataclass(frozen=True)
class Route:
    """How to call one route for a cell, and how to read its outcome from a 2xx."""

    request: Callable[[Cell], Request]
    observe: Observe = lambda cell, answer: "A"
    target: bool = True
    #: Only Boomerang's delete answers an unknown (or foreign) id with its product's 400;
    #: Query answers a credential that is not an admin's with its product's 401.
    deny: frozenset[int] = frozenset({403, 404})
    active: bool = True


def _native(cell: Cell, tail: str = "") -> str:
    return f"/v1/tenants/{cell.tenant}/tokens/{cell.tid}{tail}"


def _devo(cell: Cell, tail: str = "") -> str:
    return f"/v2/accounts/{cell.tenant}/tokens/{cell.tid}{tail}"


CATCH_ALL = frozenset({404, 405})
QUERY_DENY = frozenset({401, 403, 404})


def _routes() -> dict[str, Route]:
    native = "/v1/tenants/{t}/tokens"
    routes: dict[str, Route] = {
        "POST /v1/tenants": Route(
            lambda c: {"json": {"name": c.extra.setdefault("new", unique("made"))}},
            lambda c, a: _yes(tenant_exists(c.core, c.extra["new"])),
            target=False,
        ),
        "GET /v1/tenants": Route(
            lambda c: {},
            lambda c, a: _yes(c.tenant in [t["name"] for t in a.json()["items"]]),
            target=False,
        ),
        "GET /v1/tenants/{tenant}": Route(
            lambda c: {"url": f"/v1/tenants/{c.tenant}"}, target=False
        ),
        "DELETE /v1/tenants/{tenant}": Route(
            lambda c: {"url": f"/v1/tenants/{c.tenant}"},
            lambda c, a: _yes(not tenant_exists(c.core, c.tenant)),
            target=False,
        ),
        "POST /v1/tenants/{tenant}/tokens": Route(
            lambda c: {"url": native.format(t=c.tenant), "json": {"name": "new", "scopes": SCOPES}},
            lambda c, a: _created_in(c, a.json()["id"]),
            target=False,
        ),
        "GET /v1/tenants/{tenant}/tokens": Route(
            lambda c: {"url": native.format(t=c.tenant), "params": {"limit": 1000}},
            lambda c, a: _yes(c.tid in [t["id"] for t in a.json()["items"]]),
        ),
        "GET /v1/tenants/{tenant}/tokens/{token_id}": Route(lambda c: {"url": _native(c)}),
        "PATCH /v1/tenants/{tenant}/tokens/{token_id}": Route(
            lambda c: {"url": _native(c), "json": {"name": "renamed"}},
            lambda c, a: _yes(getattr(c.now(), "name", None) == "renamed"),
        ),
        "DELETE /v1/tenants/{tenant}/tokens/{token_id}": Route(
            lambda c: {"url": _native(c)}, lambda c, a: _yes(c.now() is None)
        ),
        "POST /v1/tenants/{tenant}/tokens/{token_id}/enable": Route(
            lambda c: {"url": _native(c, "/enable")},
            lambda c, a: _yes(getattr(c.now(), "active", False)),
            active=False,
        ),
        "POST /v1/tenants/{tenant}/tokens/{token_id}/disable": Route(
            lambda c: {"url": _native(c, "/disable")},
            lambda c, a: _yes(not getattr(c.now(), "active", True)),
        ),
        "POST /v1/tenants/{tenant}/tokens/{token_id}/rotate": Route(
            lambda c: {"url": _native(c, "/rotate")},
            lambda c, a: _yes(getattr(c.now(), "secret_hash", "") != c.target.secret_hash),  # type: ignore[union-attr]
        ),
        "GET /v1/tenants/{tenant}/tokens/{token_id}/secret": Route(
            lambda c: {"url": _native(c, "/secret")},
            lambda c, a: _yes(a.json()["secret"] == c.secret),
        ),
        "POST /v1/tenants/{tenant}/tokens/{token_id}/credits": Route(
            lambda c: {"url": _native(c, "/credits"), "json": {"set": 5}},
            lambda c, a: _yes(getattr(c.now(), "credits", None) is not None),
        ),
        "GET /v1/tenants/{tenant}/tokens/{token_id}/usage": Route(
            lambda c: {"url": _native(c, "/usage")}
        ),
        "GET /v1/tenants/{tenant}/usage": Route(
            lambda c: {"url": f"/v1/tenants/{c.tenant}/usage"}, target=False
        ),
        "GET /v1/audit": Route(
            lambda c: {"params": {"tenant": c.tenant, "token_id": c.tid}},
            lambda c, a: _yes(any(r["token_id"] == c.tid for r in a.json()["items"])),
        ),
        "GET /metrics": Route(lambda c: {}, target=False),
        "GET /v1/tenants/{tenant}/policy": Route(
            lambda c: {"url": f"/v1/tenants/{c.tenant}/policy"}, target=False
        ),
        "PUT /v1/tenants/{tenant}/policy": Route(
            lambda c: {
                "url": f"/v1/tenants/{c.tenant}/policy",
                "json": {"expiry_notice_seconds": [c.extra.setdefault("n", _counter())]},
            },
            lambda c, a: _yes(_notices_of(c) == [c.extra["n"]]),
            target=False,
        ),
        "POST /v1/tenants/{tenant}/webhooks": Route(
            lambda c: {
                "url": f"/v1/tenants/{c.tenant}/webhooks",
                "json": {"url": HOOK_URL, "events": ["token.created"]},
            },
            lambda c, a: _yes(_webhook_of(c, a.json()["id"]) is not None),
            target=False,
        ),
        "GET /v1/tenants/{tenant}/webhooks": Route(
            _webhook_listing,
            lambda c, a: _yes(c.extra["hook"] in [h["id"] for h in a.json()["items"]]),
            target=False,
        ),
        "GET /v1/tenants/{tenant}/webhooks/{webhook_id}": Route(
            lambda c: {"url": f"/v1/tenants/{c.tenant}/webhooks/{_hook(c)}"}, target=False
        ),
        "PATCH /v1/tenants/{tenant}/webhooks/{webhook_id}": Route(
            lambda c: {
                "url": f"/v1/tenants/{c.tenant}/webhooks/{_hook(c)}",
                "json": {"description": "changed"},
            },
            lambda c, a: _yes(
                getattr(_webhook_of(c, c.extra["hook"]), "description", "") == "changed"
            ),
            target=False,
        ),
        "DELETE /v1/tenants/{tenant}/webhooks/{webhook_id}": Route(
            lambda c: {"url": f"/v1/tenants/{c.tenant}/webhooks/{_hook(c)}"},
            lambda c, a: _yes(_webhook_of(c, c.extra["hook"]) is None),
            target=False,
        ),
        "GET /v1/tenants/{tenant}/webhooks/{webhook_id}/deliveries": Route(
            lambda c: {
                "url": f"/v1/tenants/{c.tenant}/webhooks/{_hook(c, delivery=True)}/deliveries"
            },
            lambda c, a: _yes(c.extra["delivery"] in [d["id"] for d in a.json()["items"]]),
            target=False,
        ),
        "POST /v1/tenants/{tenant}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry": Route(
            lambda c: {
                "url": f"/v1/tenants/{c.tenant}/webhooks/{_hook(c, delivery=True)}"
                f"/deliveries/{c.extra['delivery']}/retry"
            },
            target=False,
        ),
        "POST /v1/leaks/check": Route(
            lambda c: {"json": {"hashes": [hashlib.sha256(c.secret.encode()).hexdigest()]}},
            lambda c, a: _yes(a.json()["items"][0]["live"] is True),
        ),
        "POST /oauth2/introspect": Route(
            lambda c: {"data": {"token": c.secret}},
            lambda c, a: _yes(a.json().get("active") is True),
        ),
        "POST /oauth2/revoke": Route(
            lambda c: {"data": {"token": c.secret}},
            lambda c, a: _yes(not getattr(c.now(), "active", True)),
        ),
        "POST /api/v2/token": Route(
            lambda c: {"json": {"type": "global", "name": "b", "permissions": SCOPES}},
            lambda c, a: _created_in(c, a.json()["id"]),
            target=False,
        ),
        "GET /api/v2/token/query": Route(
            lambda c: {},
            lambda c, a: _yes(str(c.tid) in [t["id"] for t in a.json()["content"]]),
        ),
        "DELETE /api/v2/token/{id}": Route(
            lambda c: {"url": f"/api/v2/token/{c.tid}"},
            lambda c, a: _yes(c.now() is None),
            deny=frozenset({400, 403}),
        ),
        "POST /_/token": Route(
            lambda c: {"json": {"name": c.extra.setdefault("new", unique("q"))}},
            lambda c, a: _yes(_named_in(c, c.extra["new"])),
            target=False,
            deny=QUERY_DENY,
        ),
        "GET /_/token": Route(
            lambda c: {},
            lambda c, a: _yes(
                c.target is not None and c.target.name in [t["name"] for t in a.json()["data"]]
            ),
            deny=QUERY_DENY,
        ),
        "PUT /_/token": Route(
            lambda c: {"json": {"name": c.target.name, "active": False}},  # type: ignore[union-attr]
            lambda c, a: _yes(not getattr(c.now(), "active", True)),
            deny=QUERY_DENY,
        ),
        "DELETE /_/token": Route(
            lambda c: {"json": {"name": c.target.name}},  # type: ignore[union-attr]
            lambda c, a: _yes(c.now() is None),
            deny=QUERY_DENY,
        ),
        "GET /_/token/value": Route(
            lambda c: {"params": {"name": c.target.name}},  # type: ignore[union-attr]
            lambda c, a: _yes(a.json()["data"] == [{"token": c.secret}]),
            deny=QUERY_DENY,
        ),
        "GET /v2/accounts/{accountName}/tokens": Route(
            lambda c: {"url": f"/v2/accounts/{c.tenant}/tokens"},
            lambda c, a: _yes(c.tid in [t["id"] for t in a.json()]),
        ),
        "GET /v2/accounts/{accountName}/tokens/{tokenId}": Route(
            lambda c: {"url": _devo(c)},
            lambda c, a: _yes(a.json()["token"] == c.secret, otherwise="m"),
        ),
        "POST /v2/accounts/{accountName}/tokens": Route(
            lambda c: {
                "url": f"/v2/accounts/{c.tenant}/tokens",
                "json": {"audience": "billing", "scopes": SCOPES},
            },
            lambda c, a: _created_in(c, a.json()["id"]),
            target=False,
        ),
        "PUT /v2/accounts/{accountName}/tokens/{tokenId}/enable": Route(
            lambda c: {"url": _devo(c, "/enable")},
            lambda c, a: _yes(getattr(c.now(), "active", False)),
            active=False,
        ),
        "PUT /v2/accounts/{accountName}/tokens/{tokenId}/disable": Route(
            lambda c: {"url": _devo(c, "/disable")},
            lambda c, a: _yes(not getattr(c.now(), "active", True)),
        ),
        "PUT /v2/accounts/{accountName}/tokens/{tokenId}/rename": Route(
            lambda c: {"url": _devo(c, "/rename"), "json": {"value": "renamed"}},
            lambda c, a: _yes(getattr(c.now(), "name", None) == "renamed"),
        ),
        "DELETE /v2/accounts/{accountName}/tokens/{tokenId}": Route(
            lambda c: {"url": _devo(c)}, lambda c, a: _yes(c.now() is None)
        ),
        "GET /api/projects/{projectId}/tokens": Route(
            lambda c: {"url": f"/api/projects/{c.tenant}/tokens"},
            lambda c, a: _yes(str(c.tid) in [t["id"] for t in a.json()]),
        ),
        "POST /api/projects/{projectId}/tokens": Route(
            lambda c: {
                "url": f"/api/projects/{c.tenant}/tokens",
                "json": {"name": c.extra.setdefault("new", unique("c"))},
            },
            lambda c, a: _created_in(c, a.json()["id"]),
            target=False,
        ),
        "DELETE /api/projects/{projectId}/tokens/{tokenId}": Route(
            lambda c: {"url": f"/api/projects/{c.tenant}/tokens/{c.tid}"},
            lambda c, a: _yes(a.json() is True and c.now() is None),
        ),
    }
    for key in EXPECTED:
        if EXPECTED[key] == DENY_ALL and key not in routes:  # the faces' catch-all routes
            path = key.split(" ", 1)[1]
            routes[key] = Route(_catch_all(path), deny=CATCH_ALL)
    return routes


#: A documentation address (TEST-NET-1): the dispatcher refuses it without a connection.
HOOK_URL = "http://192.0.2.1/hook"
_COUNT = iter(range(1000, 10**9))
_HOOKS: dict[tuple[int, str], int] = {}


def _counter() -> int:
    return next(_COUNT)


def _hook(cell: Cell, *, delivery: bool = False) -> int:
    """A webhook of the cell's tenant, made by root; with ``delivery``, one delivery to it."""
    if "hook" not in cell.extra:
        # One per tenant while it lasts (a tenant has at most 50): only DELETE removes it.
        slot = (id(cell.core), cell.tenant)
        kept = _HOOKS.get(slot)
        if kept is None or _webhook_of(cell, kept) is None:
            made, _ = webhooks.create(
                cell.core, Actor.root(), tenant=cell.tenant, url=HOOK_URL, events=["token.created"]
            )
            kept = _HOOKS[slot] = made.id
        cell.extra["hook"] = kept
    if delivery and "delivery" not in cell.extra:
        make_target(cell.core, cell.tenant)  # its token.created event
        with cell.core.uow(write=True) as uow:
            uow.dispatch.fan_out(cell.core.clock(), limit=1000)
            uow.commit()
        found = webhooks.deliveries(
            cell.core, Actor.root(), tenant=cell.tenant, webhook_id=cell.extra["hook"]
        )
        cell.extra["delivery"] = found.items[0].id
    return int(cell.extra["hook"])


def _webhook_listing(cell: Cell) -> Request:
    _hook(cell)
    return {"url": f"/v1/tenants/{cell.tenant}/webhooks"}


def _webhook_of(cell: Cell, webhook_id: int) -> Webhook | None:
    with cell.core.uow() as uow:
        return uow.webhooks.get(cell.tenant, webhook_id)


def _notices_of(cell: Cell) -> list[int]:
    return list(policies.get(cell.core, Actor.root(), tenant=cell.tenant).expiry_notice_seconds)


def _catch_all(path: str) -> Callable[[Cell], Request]:
    def request(cell: Cell) -> Request:
        url = (
            path.replace("{id}", str(cell.tid))
            .replace("{rest:path}", f"{cell.tenant}/tokens/{cell.tid}/unknown")
            .replace("{projectId}", cell.tenant)
            .replace("{tokenId}", str(cell.tid))
        )
        return {"url": url}

    return request


ROUTES = _routes()


def _url(key: str, request: Request) -> str:
    url = request.pop("url", None)
    return str(url) if url is not None else key.split(" ", 1)[1]


def _refusal_format(face: str, answer: httpx.Response, method: str) -> bool:
    """A refusal is in the face's own error format (HEAD answers carry no body)."""
    if method == "HEAD":
        return True
    if face == "query":
        return answer.headers.get("content-type", "text/plain").startswith("text/plain") or (
            answer.content == b""
        )
    if face == "boomerang" and answer.status_code in (400, 405) and answer.content == b"":
        return True  # the product's empty 400 for an unknown or foreign id
    try:
        body = answer.json()
    except json.JSONDecodeError:
        return False
    match face:
        case "native":
            return set(body["error"]) >= {"code", "message", "request_id"}
        case "oauth2":
            return "error" in body and "error_description" in body
        case "boomerang":
            return {"timestamp", "code", "reason", "message", "status"} <= set(body)
        case "devo":
            return bool(body["error"]["code"] == answer.status_code)
        case "cedalo":
            return bool(body["status"] == answer.status_code and "code" in body)
    return False


@dataclass
class Matrix:
    client: TestClient
    callers: dict[str, Caller]
    outcomes: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: A target per (route, tenant), kept while the cells only read or are refused.
    targets: dict[tuple[str, str], tuple[Token, str]] = field(default_factory=dict)

    def run(self, key: str, caller: Caller) -> None:
        route = ROUTES[key]
        face = face_of(key.split(" ", 1)[1])
        core = core_of(self.client)
        tenant = ACME
        if caller.name == "root" and face in IMPLICIT:
            tenant = "default"
        if caller.name == "root" and key == "DELETE /v1/tenants/{tenant}":
            # root may delete a tenant: never the callers' own
            tenant = make_tenant(self.client, unique("doomed"))
        cell = Cell(core, key, caller, tenant)
        if route.target or route.deny is CATCH_ALL:
            slot = (key, tenant)
            if slot not in self.targets:
                self.targets[slot] = make_target(core, tenant, active=route.active)
            cell.target, cell.secret = self.targets[slot]
        method = key.split(" ", 1)[0]
        request = route.request(cell)
        url = _url(key, request)
        answer = self.client.request(method, url, headers=caller.headers, **request)
        status = answer.status_code
        if answer.is_success:
            outcome = route.observe(cell, answer)
            if method not in ("GET", "HEAD") and key != "POST /oauth2/introspect":
                self.targets.pop(
                    (key, tenant), None
                )  # it may have changed: the next gets a new one
        else:
            outcome = "."
            wanted = (
                {401}
                if caller.name in UNAUTHENTICATED and route.deny is not CATCH_ALL
                else route.deny
            )
            if status not in wanted:
                self.problems.append(
                    f"{key} as {caller.name}: status {status}, expected one of {sorted(wanted)}"
                )
            if not _refusal_format(face, answer, method):
                self.problems.append(
                    f"{key} as {caller.name}: refusal not in the {face} format: {answer.text[:200]}"
                )
        self.outcomes[(key, caller.name)] = (outcome, status)

    def table(self) -> str:
        width = max(len(k) for k in EXPECTED)
        header = " ".join(f"{i:>2}" for i in range(len(CALLERS)))
        lines = [
            "columns: " + ", ".join(f"{i} {name}" for i, name in enumerate(CALLERS)),
            f"{'route':<{width}}  {header}",
        ]
        for key in EXPECTED:
            cells = []
            for caller in CALLERS:
                got, _ = self.outcomes[(key, caller)]
                mark = got if got == expected(key, caller) else f"{got}!"
                cells.append(f"{mark:>2}")
            lines.append(f"{key:<{width}}  {' '.join(cells)}")
        return "\n".join(lines)

    def wrongly(self) -> tuple[list[str], list[str]]:
        allowed, denied = [], []
        for (key, caller), (got, status) in self.outcomes.items():
            want = expected(key, caller)
            if RANK[got] > RANK[want]:
                allowed.append(f"{key} as {caller}: {got} ({status}), expected {want}")
            elif got != want:
                denied.append(f"{key} as {caller}: {got} ({status}), expected {want}")
        return allowed, denied


@pytest.fixture
def matrix_client(settings: Settings) -> Iterator[TestClient]:
    """The real app; the failed-authentication limit is off, since the matrix fails on purpose
    hundreds of times from one address (suite 6 tests the limit)."""
    quiet = settings.model_copy(update={"auth_failure_limit": 0})
    with TestClient(create_app(quiet)) as client:
        yield client


def test_every_route_has_a_row(matrix_client: TestClient) -> None:
    served = set(route_table(matrix_client.app)) - PUBLIC
    missing = sorted(served - set(EXPECTED))
    stale = sorted(set(EXPECTED) - served)
    assert not missing, f"routes without a row in the authorization matrix: {missing}"
    assert not stale, f"rows for routes the server no longer has: {stale}"
    assert set(ROUTES) == set(EXPECTED)


def test_authorization_matrix(matrix_client: TestClient, backend: str) -> None:
    callers = make_callers(matrix_client)
    matrix = Matrix(matrix_client, callers)
    # Root last on each route: its cells change the most (a deleted tenant, a rotated target).
    for key in EXPECTED:
        for name in CALLERS:
            matrix.run(key, callers[name])
    allowed, denied = matrix.wrongly()
    print(f"\nauthorization matrix on {backend}:\n{matrix.table()}")
    print(
        f"{len(EXPECTED)} routes x {len(CALLERS)} callers = {len(matrix.outcomes)} cells; "
        f"wrongly allowed: {len(allowed)}; wrongly refused: {len(denied)}; "
        f"other problems: {len(matrix.problems)}"
    )
    report = "\n".join([matrix.table(), *allowed, *denied, *matrix.problems])
    assert len(matrix.outcomes) == len(EXPECTED) * len(CALLERS)
    assert not allowed, report
    assert not denied, report
    assert not matrix.problems, report


def test_escalation_cases_of_design(matrix_client: TestClient) -> None:
    """DESIGN.md's escalations, on every face that can attempt them: each refused."""
    client = matrix_client
    callers = make_callers(client)
    editor, viewer = callers["editor"].headers, callers["viewer"].headers
    admin = callers["admin"].headers
    later = "2099-01-01T00:00:00Z"
    short = client.post(
        f"/v1/tenants/{ACME}/tokens",
        json={
            "name": "short admin",
            "role": "admin",
            "audience": ["tokenward"],
            "ttl_seconds": 3600,
        },
        headers=ROOT_HEADERS,
    ).json()
    expiring_admin = {"Authorization": f"Bearer {short['secret']}"}
    core = core_of(client)
    not_mine, _ = make_target(core, ACME)
    timed, _ = make_target(core, ACME, ttl_seconds=600)
    mine = client.post(
        f"/v1/tenants/{ACME}/tokens",
        json={"name": "eddie's", "recoverable": True, "scopes": SCOPES},
        headers=editor,
    ).json()
    native = f"/v1/tenants/{ACME}/tokens"
    cases: list[tuple[str, dict[str, str], str, str, dict[str, Any], int]] = [
        # an editor minting an admin token
        (
            "editor mints admin (native)",
            editor,
            "POST",
            native,
            {"json": {"name": "a", "role": "admin"}},
            403,
        ),
        (
            "editor mints admin (cedalo)",
            editor,
            "POST",
            f"/api/projects/{ACME}/tokens",
            {"json": {"name": "a", "role": "admin"}},
            403,
        ),
        (
            "editor raises a token to admin",
            editor,
            "PATCH",
            f"{native}/{mine['id']}",
            {"json": {"role": "admin"}},
            403,
        ),
        # an editor granting a scope it does not hold
        (
            "editor grants scope (native)",
            editor,
            "POST",
            native,
            {"json": {"name": "s", "scopes": ["flow/write"]}},
            403,
        ),
        (
            "editor grants scope (devo)",
            editor,
            "POST",
            f"/v2/accounts/{ACME}/tokens",
            {"json": {"audience": "x", "scopes": "flow/write"}},
            403,
        ),
        (
            "editor grants scope (boomerang)",
            editor,
            "POST",
            "/api/v2/token",
            {"json": {"type": "global", "name": "s", "permissions": ["flow/write"]}},
            403,
        ),
        (
            "editor adds a scope",
            editor,
            "PATCH",
            f"{native}/{mine['id']}",
            {"json": {"scopes": [*SCOPES, "flow/write"]}},
            403,
        ),
        # a tenant admin minting a token for another tenant
        (
            "admin mints in rival (native)",
            admin,
            "POST",
            f"/v1/tenants/{RIVAL}/tokens",
            {"json": {"name": "x"}},
            404,
        ),
        (
            "admin mints in rival (devo)",
            admin,
            "POST",
            f"/v2/accounts/{RIVAL}/tokens",
            {"json": {"audience": "x"}},
            404,
        ),
        (
            "admin mints in rival (cedalo)",
            admin,
            "POST",
            f"/api/projects/{RIVAL}/tokens",
            {"json": {"name": "x"}},
            404,
        ),
        # a tenant admin minting a token that outlives it
        (
            "expiring admin mints permanent",
            expiring_admin,
            "POST",
            native,
            {"json": {"name": "p", "expires_at": None}},
            403,
        ),
        (
            "expiring admin mints permanent (devo)",
            expiring_admin,
            "POST",
            f"/v2/accounts/{ACME}/tokens",
            {"json": {"audience": "x", "expiresInSeconds": -1}},
            403,
        ),
        (
            "expiring admin mints later",
            expiring_admin,
            "POST",
            native,
            {"json": {"name": "l", "expires_at": later}},
            403,
        ),
        (
            "expiring admin mints later (devo)",
            expiring_admin,
            "POST",
            f"/v2/accounts/{ACME}/tokens",
            {"json": {"audience": "x", "expiresInSeconds": 7200}},
            403,
        ),
        (
            "expiring admin mints later (cedalo)",
            expiring_admin,
            "POST",
            f"/api/projects/{ACME}/tokens",
            {"json": {"name": "l", "valid_date": later}},
            403,
        ),
        (
            "expiring admin makes one permanent",
            expiring_admin,
            "PATCH",
            f"{native}/{timed.id}",
            {"json": {"expires_at": None}},
            403,
        ),
        # a viewer revealing a secret
        ("viewer reveals (native)", viewer, "GET", f"{native}/{mine['id']}/secret", {}, 403),
        (
            "viewer reveals (query)",
            viewer,
            "GET",
            "/_/token/value",
            {"params": {"name": "eddie's"}},
            401,  # Query answers a credential that is not an admin's with its empty 401
        ),
        # a non-owner editor revealing another's secret
        (
            "editor reveals root's (native)",
            editor,
            "GET",
            f"{native}/{not_mine.id}/secret",
            {},
            403,
        ),
    ]
    failures = []
    for label, headers, method, url, extra, status in cases:
        answer = client.request(method, url, headers=headers, **extra)
        if answer.status_code != status:
            failures.append(f"{label}: {answer.status_code} {answer.text[:200]}")
    # The Devo face shows the secret only to its owner or an admin; others see the mask.
    for headers, shown in ((viewer, False), (editor, False), (admin, True)):
        body = client.get(f"/v2/accounts/{ACME}/tokens/{not_mine.id}", headers=headers).json()
        if body["token"].startswith("tk.") == shown:
            failures.append(f"devo get of root's token shown={not shown} to {headers}")
    # The controls: what the owner editor may do, it does.
    assert (
        client.get(f"{native}/{mine['id']}/secret", headers=editor).json()["secret"]
        == mine["secret"]
    )
    assert (
        client.get(f"/v2/accounts/{ACME}/tokens/{mine['id']}", headers=editor).json()["token"]
        == mine["secret"]
    )
    print(f"\nescalation cases: {len(cases) + 3} checked, {len(failures)} allowed")
    assert not failures, "\n".join(failures)


def test_verify_requiring_a_credential(settings: Settings) -> None:
    """With TOKENWARD_VERIFY_REQUIRES_AUTH, /v1/verify is one more row of the matrix: any
    management caller verifies; a credential that identifies no one is refused (401)."""
    strict = settings.model_copy(update={"verify_requires_auth": True, "auth_failure_limit": 0})
    with TestClient(create_app(strict)) as client:
        callers = make_callers(client)
        _, secret = make_target(core_of(client), ACME)
        outcomes = {}
        for name, caller in callers.items():
            answer = client.post("/v1/verify", json={"token": secret}, headers=caller.headers)
            outcomes[name] = answer.status_code
            if answer.status_code == 401:
                assert answer.json()["error"]["code"] == "UNAUTHENTICATED"
            else:
                assert answer.json()["valid"] is True
    want = {name: 401 if name in UNAUTHENTICATED else 200 for name in CALLERS}
    print(f"\n/v1/verify with a credential required: {outcomes}")
    assert outcomes == want
