"""The malformed-request corpus of tests/fuzz/corpus.py against every face, on both backends.

Each face's corpus runs in one test (one app, one database): every case must answer a 4xx
whose body is in that face's own error format. A 5xx, a 2xx or a body in another format is
listed with its case.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fuzz import corpus
from tests.helpers import ROOT_HEADERS
from tests.helpers import tenant as make_tenant

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def _query_format(answer: httpx.Response) -> None:
    if answer.status_code == 405:  # the face's documented 405: empty body, Allow header
        assert not answer.content and answer.headers["allow"]
        return
    assert answer.headers["content-type"].startswith("text/plain"), answer.headers
    assert answer.text.strip()


def _boomerang_format(answer: httpx.Response) -> None:
    if answer.status_code == 400 and not answer.content:
        return  # an unknown id on delete: the product's empty 400
    body = answer.json()
    assert set(body) == {"timestamp", "code", "reason", "message", "status", "cause"}, body
    assert body["cause"] is None, body
    assert isinstance(body["code"], int) and isinstance(body["message"], str)
    assert body["status"].startswith(f"{answer.status_code} "), body


def _devo_format(answer: httpx.Response) -> None:
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == answer.status_code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert answer.headers["x-devo-cid"] == answer.headers["x-request-id"]


def _cedalo_format(answer: httpx.Response) -> None:
    body = answer.json()
    assert set(body) == {"message", "code", "status", "info"}, body
    assert body["status"] == answer.status_code
    assert isinstance(body["code"], str) and body["code"].isupper()
    assert isinstance(body["info"], dict)


def _native_format(answer: httpx.Response) -> None:
    body = answer.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "request_id"}, body
    assert body["error"]["request_id"] == answer.headers["x-request-id"]


FACES: dict[str, tuple[Callable[[], list[corpus.Case]], Callable[[httpx.Response], None]]] = {
    "boomerang": (corpus.boomerang, _boomerang_format),
    "query": (corpus.query, _query_format),
    "devo": (corpus.devo, _devo_format),
    "cedalo": (corpus.cedalo, _cedalo_format),
    "native": (corpus.native, _native_format),
}

MINIMUM_CASES = 40


def _prepare(client: TestClient) -> dict[str, Any]:
    """The tenants the corpus names, a Devo token for ``{id}`` and a Query token named ``n``."""
    for tenant in (corpus.ACCOUNT, corpus.PROJECT):
        make_tenant(client, tenant)
    devo = client.post(
        f"/v2/accounts/{corpus.ACCOUNT}/tokens", json={"audience": "a"}, headers=ROOT_HEADERS
    )
    assert devo.status_code == 201, devo.text
    native = client.post("/v1/tenants/default/tokens", json={"name": "t"}, headers=ROOT_HEADERS)
    assert native.status_code == 201, native.text
    assert client.post("/_/token", json={"name": "n"}, headers=ROOT_HEADERS).status_code == 201
    return {"devo": devo.json()["id"], "native": native.json()["id"]}


@pytest.mark.parametrize("face", list(FACES))
def test_malformed_requests_answer_4xx_in_the_face_format(client: TestClient, face: str) -> None:
    build, check_format = FACES[face]
    cases = build()
    assert len(cases) >= MINIMUM_CASES
    assert len({case.id for case in cases}) == len(cases), "case ids must be unique"
    ids = _prepare(client)
    token_id = ids["native"] if face == "native" else ids["devo"]
    failures: list[str] = []
    for case in cases:
        answer = client.request(
            case.method,
            case.path.replace("{id}", str(token_id)),
            content=case.body,
            params=case.params,
            headers={**ROOT_HEADERS, "Content-Type": "application/json"},
        )
        try:
            assert 400 <= answer.status_code < 500, f"status {answer.status_code}"
            check_format(answer)
        except (AssertionError, KeyError, json.JSONDecodeError) as exc:
            failures.append(f"{case.id}: {exc!r} {answer.status_code} {answer.text[:200]!r}")
    assert not failures, "\n".join(failures)
    # Nothing the corpus sent was stored: the tokens are the ones _prepare made.
    listed = client.get("/v1/tenants/default/tokens", headers=ROOT_HEADERS).json()
    account = client.get(f"/v1/tenants/{corpus.ACCOUNT}/tokens", headers=ROOT_HEADERS).json()
    project = client.get(f"/v1/tenants/{corpus.PROJECT}/tokens", headers=ROOT_HEADERS).json()
    assert (listed["total"], account["total"], project["total"]) == (2, 1, 0)
