"""Helpers for the Boomerang face's tests: calls, the error body, fast issue through the core."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import Token, TokenSpec, TokenType
from tokenward.service import tokens
from tokenward.service.core import Core

CREATE = "/api/v2/token"
QUERY = "/api/v2/token/query"
PREFIXES = {"global": "bfg_", "team": "bft_", "workflow": "bfw_", "user": "bfu_", "session": "bfs_"}

#: ``2023-08-02T10:15:30.000+00:00``: milliseconds and a colon offset, always UTC.
DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00")
HTTP_TEXT = {
    400: "400 BAD_REQUEST",
    401: "401 UNAUTHORIZED",
    403: "403 FORBIDDEN",
    405: "405 METHOD_NOT_ALLOWED",
    413: "413 PAYLOAD_TOO_LARGE",
}


def create(
    client: TestClient, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return client.post(CREATE, json=body, headers=ROOT_HEADERS if headers is None else headers)


def created(client: TestClient, headers: dict[str, str] | None = None, **body: Any) -> Any:
    """Creates a token (global with one permission unless told) and returns the 200 body."""
    body.setdefault("type", "global")
    body.setdefault("name", "test token")
    if body["type"] != "user":
        body.setdefault("permissions", ["workflow/read"])
    answer = create(client, headers, **body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def query(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    answer = client.get(QUERY, params=params, headers=ROOT_HEADERS if headers is None else headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def names(client: TestClient, **params: Any) -> list[str]:
    return [t["name"] for t in query(client, **params)["content"]]


def assert_error(answer: httpx.Response, status: int, code: int, reason: str) -> dict[str, Any]:
    """The product's error body, whole: nothing missing, nothing more."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"]
    body: dict[str, Any] = answer.json()
    assert set(body) == {"timestamp", "code", "reason", "message", "status", "cause"}
    assert body["cause"] is None
    assert DATE.fullmatch(body["timestamp"]), body["timestamp"]
    assert body["code"] == code and isinstance(body["code"], int)
    assert body["reason"] == reason
    assert body["status"] == HTTP_TEXT[status]
    assert isinstance(body["message"], str) and body["message"]
    return body


def assert_empty(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.content == b""
    assert answer.headers["x-request-id"]


def app_core(client: TestClient) -> Core:
    core: Core = client.app_state["core"]
    return core


def ticking(start: datetime, per_tick: int = 1) -> Callable[[], datetime]:
    """A clock that moves one millisecond every ``per_tick`` readings, from ``start``."""
    readings: Iterator[int] = itertools.count()
    return lambda: start + timedelta(milliseconds=next(readings) // per_tick)


def issue_fast(
    core: Core, clock: Callable[[], datetime], specs: list[TokenSpec], tenant: str = "default"
) -> list[Token]:
    """Issues straight through the service (one transaction each, no HTTP), on ``clock``."""
    timed = Core(
        uow=core.uow, sealer=core.sealer, changes=core.changes, secrets=core.secrets, clock=clock
    )
    root = Actor.root()
    return [
        tokens.issue(
            timed, root, tenant=tenant, spec=spec, secret_prefix=PREFIXES[spec.type][:-1]
        ).token
        for spec in specs
    ]


def spec(name: str, type: TokenType = TokenType.GLOBAL, principal: str | None = None) -> TokenSpec:
    return TokenSpec(name=name, type=type, principal=principal, scopes=("workflow/read",))
