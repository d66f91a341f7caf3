"""Deeply nested JSON (issue 13): metadata nested deeper than ``MAX_METADATA_DEPTH`` is
refused on create and change, a body nested past what a JSON parser recurses into is a 4xx
on every face, and metadata stored deeper by an earlier version breaks no answer."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.helpers import ROOT_HEADERS, issue
from tests.security.support import BODY_CALLS
from tokenward.domain.limits import MAX_METADATA_DEPTH
from tokenward.settings import Settings
from tokenward.store.engine import make_engine

TOKENS = "/v1/tenants/default/tokens"
JSON_HEADERS = {**ROOT_HEADERS, "content-type": "application/json"}


def nested(depth: int) -> str:
    """Metadata ``depth`` levels deep (the object itself is one), as JSON text: written by
    hand, since Python's own JSON writer stops near its recursion limit."""
    return '{"a":' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


def _total(client: TestClient) -> int:
    answer = client.get(TOKENS, headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text[:200]
    total: int = answer.json()["total"]
    return total


def test_metadata_at_the_depth_limit_is_kept_and_answered(client: TestClient) -> None:
    metadata = json.loads(nested(MAX_METADATA_DEPTH))
    made = issue(client, name="deep", metadata=metadata)
    assert made["metadata"] == metadata
    verified = client.post("/v1/verify", json={"token": made["secret"]})
    assert verified.status_code == 200 and verified.json()["token"]["metadata"] == metadata
    listed = client.get(TOKENS, headers=ROOT_HEADERS)
    assert listed.status_code == 200 and listed.json()["items"][0]["metadata"] == metadata


def test_metadata_nested_deeper_is_refused_on_create_and_change(client: TestClient) -> None:
    made = issue(client, name="flat")
    # Just past the limit; where pydantic's and orjson's writers stop (255, 256); where the
    # old check's own recursion failed (600, 990); far past Python's JSON reader (5000).
    for depth in (MAX_METADATA_DEPTH + 1, 254, 255, 256, 257, 300, 600, 990, 5000):
        body = '{"name": "n", "metadata": ' + nested(depth) + "}"
        answer = client.post(TOKENS, content=body, headers=JSON_HEADERS)
        assert answer.status_code in (400, 422), (depth, answer.status_code, answer.text[:200])
        assert answer.json()["error"]["code"] in ("INVALID_ARGUMENT", "MALFORMED_JSON")
        change = '{"metadata": ' + nested(depth) + "}"
        answer = client.patch(f"{TOKENS}/{made['id']}", content=change, headers=JSON_HEADERS)
        assert answer.status_code in (400, 422), (depth, answer.status_code, answer.text[:200])
    assert _total(client) == 1  # nothing half-made
    shown = client.get(f"{TOKENS}/{made['id']}", headers=ROOT_HEADERS).json()
    assert shown["metadata"] == {}
    assert client.post("/v1/verify", json={"token": made["secret"]}).json()["valid"] is True


def test_bodies_nested_past_the_json_reader_are_4xx_on_every_face(client: TestClient) -> None:
    made = issue(client, name="target")
    calls = [
        *BODY_CALLS.items(),
        ("native change", ("PATCH", f"{TOKENS}/{made['id']}")),
        ("native rotate", ("POST", f"{TOKENS}/{made['id']}/rotate")),
        ("native tenant", ("POST", "/v1/tenants")),
        ("query put", ("PUT", "/_/token")),
        ("query delete", ("DELETE", "/_/token")),
        ("devo rename", ("PUT", f"/v2/accounts/default/tokens/{made['id']}/rename")),
    ]
    deep = b"[" * 60_000  # under the 64 KiB body limit, far past any parser's recursion
    inside = b'{"name": "n", "token": ' + b"[" * 60_000 + b"}"
    for face, (method, path) in calls:
        for body in (deep, inside):
            answer = client.request(method, path, content=body, headers=JSON_HEADERS)
            assert 400 <= answer.status_code < 500, (face, answer.status_code, answer.text[:200])
    assert _total(client) == 1  # nothing made, nothing changed
    assert client.post("/v1/verify", json={"token": made["secret"]}).json()["valid"] is True


def test_deep_metadata_stored_by_an_earlier_version_breaks_no_answer(
    client: TestClient, settings: Settings
) -> None:
    """A version without the depth bound stored metadata up to about 490 levels deep, after
    which every list page holding the token and every verification of it answered 500.
    Such metadata is answered as ``{}``; a PATCH replaces it."""
    made = issue(client, name="old", recoverable=True)
    engine = make_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tokens SET metadata = :m WHERE id = :id"),
            {"m": nested(400), "id": made["id"]},
        )
    engine.dispose()
    listed = client.get(TOKENS, headers=ROOT_HEADERS)
    assert listed.status_code == 200, listed.text[:200]
    assert listed.json()["items"][0]["metadata"] == {}
    one = client.get(f"{TOKENS}/{made['id']}", headers=ROOT_HEADERS)
    assert one.status_code == 200 and one.json()["metadata"] == {}
    verified = client.post("/v1/verify", json={"token": made["secret"]})
    assert verified.status_code == 200, verified.text[:200]
    assert verified.json()["valid"] is True and verified.json()["token"]["metadata"] == {}
    for face, path in (
        ("devo", f"/v2/accounts/default/tokens/{made['id']}"),
        ("devo", "/v2/accounts/default/tokens"),
        ("cedalo", "/api/projects/default/tokens"),
        ("query", "/_/token"),
        ("boomerang", "/api/v2/token/query"),
    ):
        answer = client.get(path, headers=ROOT_HEADERS)
        assert answer.status_code == 200, (face, answer.status_code, answer.text[:200])
    fixed = client.patch(
        f"{TOKENS}/{made['id']}", json={"metadata": {"ok": 1}}, headers=ROOT_HEADERS
    )
    assert fixed.status_code == 200 and fixed.json()["metadata"] == {"ok": 1}
