"""The controls through the native API, on both backends: fields, rules, credits, the
verification codes and their order, and usage counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, bearer, issue, manager
from tokenward.api.native.schemas import VerifyResponse
from tokenward.service import usage

LIMITED = {
    "rate_limits": [{"name": "burst", "limit": 3, "window_seconds": 3600}],
    "credits": {"remaining": 5, "refill": {"amount": 5, "interval": "daily"}},
    "ip_allowlist": ["10.0.0.0/8", "2001:db8::/32"],
}


def _verify(client: TestClient, secret: str, **asked: Any) -> dict[str, Any]:
    answer = client.post("/v1/verify", json={"token": secret, **asked})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert VerifyResponse.model_validate(body).model_dump(mode="json") == body
    return body


def _path(token: dict[str, Any], tail: str = "") -> str:
    return f"/v1/tenants/default/tokens/{token['id']}{tail}"


def test_a_token_keeps_its_controls_through_get_patch_and_rotation(client: TestClient) -> None:
    token = issue(client, name="limited", **LIMITED)
    for key, value in LIMITED.items():
        assert token[key] == value
    got = client.get(_path(token), headers=ROOT_HEADERS).json()
    assert {key: got[key] for key in LIMITED} == LIMITED
    rotated = client.post(_path(token, "/rotate"), headers=ROOT_HEADERS).json()
    assert {key: rotated[key] for key in LIMITED} == LIMITED
    cleared = client.patch(
        _path(token),
        json={"rate_limits": [], "credits": None, "ip_allowlist": []},
        headers=ROOT_HEADERS,
    ).json()
    assert (cleared["rate_limits"], cleared["credits"], cleared["ip_allowlist"]) == ([], None, [])
    plain = issue(client, name="plain")
    assert (plain["rate_limits"], plain["credits"], plain["ip_allowlist"]) == ([], None, [])


@pytest.mark.parametrize(
    "fields",
    [
        {"rate_limits": [{"name": "a", "limit": 0, "window_seconds": 1}]},
        {"rate_limits": [{"name": "a", "limit": 1, "window_seconds": 86401}]},
        {"credits": {"remaining": -1}},
        {"credits": {"remaining": 1, "refill": {"amount": 1, "interval": "weekly"}}},
        {"ip_allowlist": ["10.0.0.0/40"]},
    ],
)
def test_bad_controls_are_a_clear_4xx(client: TestClient, fields: dict[str, Any]) -> None:
    answer = client.post(
        "/v1/tenants/default/tokens", json={"name": "x", **fields}, headers=ROOT_HEADERS
    )
    assert answer.status_code in (400, 422), answer.text
    assert "error" in answer.json()


def test_an_editor_tightens_controls_but_loosens_none(client: TestClient) -> None:
    editor = manager(client, role="editor", user=None)
    headers = bearer(editor["secret"])
    mine = issue(client, name="mine", headers=headers, **LIMITED)
    tighter = {
        "rate_limits": [{"name": "burst", "limit": 2, "window_seconds": 3600}],
        "credits": {"remaining": 4, "refill": {"amount": 5, "interval": "daily"}},
        "ip_allowlist": ["10.1.0.0/16"],
    }
    assert client.patch(_path(mine), json=tighter, headers=headers).status_code == 200
    # Loosening needs the right to mint the loosened token: an editor acting for someone
    # else (the token acts for root's identity through its owner) may not.
    other = issue(client, name="other's", user="alice", **LIMITED)
    for looser in (
        {"rate_limits": []},
        {"credits": None},
        {"ip_allowlist": []},
        {"credits": {"remaining": 50, "refill": None}},
    ):
        refused = client.patch(_path(other), json=looser, headers=headers)
        assert refused.status_code in (403, 404), refused.text
    assert client.post(_path(other, "/credits"), json={"add": 1}, headers=headers).status_code in (
        403,
        404,
    )


def test_credits_endpoint_sets_adds_and_is_audited(client: TestClient) -> None:
    token = issue(client, name="metered", credits={"remaining": 2, "refill": None})
    assert client.post(_path(token, "/credits"), json={"set": 7}, headers=ROOT_HEADERS).json()[
        "credits"
    ] == {"remaining": 7, "refill": None}
    added = client.post(_path(token, "/credits"), json={"add": 3}, headers=ROOT_HEADERS)
    assert added.json()["credits"]["remaining"] == 10
    both = client.post(_path(token, "/credits"), json={"set": 1, "add": 1}, headers=ROOT_HEADERS)
    assert both.status_code in (400, 422)
    unlimited = issue(client, name="unlimited")
    conflict = client.post(_path(unlimited, "/credits"), json={"add": 1}, headers=ROOT_HEADERS)
    assert conflict.status_code == 409
    # Setting a balance on an unlimited token gives it credits, and verification sees them.
    limited = client.post(_path(unlimited, "/credits"), json={"set": 1}, headers=ROOT_HEADERS)
    assert limited.json()["credits"] == {"remaining": 1, "refill": None}
    assert _verify(client, unlimited["secret"])["code"] == "VALID"
    assert _verify(client, unlimited["secret"])["code"] == "USAGE_EXCEEDED"
    actions = [
        record["action"]
        for record in client.get("/v1/audit", headers=ROOT_HEADERS).json()["items"]
        if record["token_id"] == token["id"]
    ]
    assert actions.count("token.credits") == 2
    editor = bearer(manager(client, role="editor")["secret"])
    # Lowering is an editor's; raising needs the right to mint the raised token.
    lowered = client.post(_path(token, "/credits"), json={"set": 1}, headers=editor)
    assert lowered.status_code == 200, lowered.text


def test_codes_their_order_and_what_each_spends(client: TestClient) -> None:
    token = issue(client, name="limited", scopes=["read"], **LIMITED)
    secret = token["secret"]
    # IP first: a missing or outside address, whatever else is asked.
    assert _verify(client, secret)["code"] == "IP_DENIED"
    assert _verify(client, secret, client_ip="11.0.0.1", scopes=["write"])["code"] == "IP_DENIED"
    # Within its credits and limits, the request's own refusals answer, and spend and count
    # nothing (the token's answer shows both untouched).
    assert _verify(client, secret, client_ip="10.0.0.1", scopes=["write"])["code"] == (
        "INSUFFICIENT_SCOPE"
    )
    wrong = _verify(client, secret, client_ip="10.0.0.1", audience="elsewhere")
    assert wrong["code"] == "AUDIENCE_MISMATCH" and wrong["limits"] is None
    assert wrong["token"]["credits"]["remaining"] == 5
    first = _verify(client, secret, client_ip="::ffff:10.0.0.1")
    assert first["code"] == "VALID" and first["valid"] is True
    assert first["limits"]["credits_remaining"] == 4
    assert first["token"]["credits"]["remaining"] == 4
    assert first["limits"]["rate_limits"][0]["remaining"] == 2
    assert (
        _verify(client, secret, client_ip="2001:db8::1", cost=0)["limits"]["credits_remaining"] == 4
    )
    third = _verify(client, secret, client_ip="10.0.0.1", cost=2)
    assert third["limits"]["credits_remaining"] == 2
    assert third["limits"]["rate_limits"][0]["remaining"] == 0
    # The rate limit is exhausted: refused, and its credit given back.
    limited = _verify(client, secret, client_ip="10.0.0.1")
    assert limited["code"] == "RATE_LIMITED" and limited["retry_after_ms"] > 0
    assert limited["limits"]["credits_remaining"] == 2
    # Over its limit, the token says so whatever the request asks: the rate limit ranks
    # before the audience and the scopes, and nothing is spent or counted either.
    for asked in ({"audience": "elsewhere"}, {"scopes": ["write"]}):
        over = _verify(client, secret, client_ip="10.0.0.1", **asked)
        assert over["code"] == "RATE_LIMITED" and over["retry_after_ms"] > 0
        assert over["limits"]["credits_remaining"] == 2
        assert over["limits"]["rate_limits"][0]["remaining"] == 0
    # Not enough credits comes before the rate limit, and spends nothing.
    exceeded = _verify(client, secret, client_ip="10.0.0.1", cost=3)
    assert exceeded["code"] == "USAGE_EXCEEDED" and exceeded["limits"]["credits_remaining"] == 2
    exceeded = _verify(client, secret, client_ip="10.0.0.1", cost=3, audience="elsewhere")
    assert exceeded["code"] == "USAGE_EXCEEDED" and exceeded["limits"]["credits_remaining"] == 2
    got = client.get(_path(token), headers=ROOT_HEADERS).json()
    assert got["credits"]["remaining"] == 2
    # Disabled comes first of all.
    client.post(_path(token, "/disable"), headers=ROOT_HEADERS)
    assert _verify(client, secret)["code"] == "DISABLED"


def test_bad_verify_fields_are_422(client: TestClient) -> None:
    token = issue(client, name="x")
    for asked in ({"cost": -1}, {"cost": "1"}, {"cost": True}, {"client_ip": 5}):
        answer = client.post("/v1/verify", json={"token": token["secret"], **asked})
        assert answer.status_code == 422, asked


def test_tokens_without_controls_answer_no_limits(client: TestClient) -> None:
    token = issue(client, name="plain")
    body = _verify(client, token["secret"], client_ip="1.2.3.4", cost=1000)
    assert body["code"] == "VALID" and body["limits"] is None and body["retry_after_ms"] is None


def test_usage_counts_match_the_verifications(client: TestClient) -> None:
    core, engine = client.app_state["core"], client.app_state["engine"]
    token = issue(client, name="counted", **LIMITED)
    plain = issue(client, name="plain")
    expected = {"VALID": 3, "IP_DENIED": 2, "RATE_LIMITED": 1}
    for _ in range(2):
        _verify(client, token["secret"])
    for _ in range(4):
        _verify(client, token["secret"], client_ip="10.0.0.1")
    for _ in range(5):
        _verify(client, plain["secret"])
    engine.flush_usage()
    hours = client.get(_path(token, "/usage"), headers=ROOT_HEADERS).json()["buckets"]
    assert len(hours) == 1 and hours[0]["counts"] == expected
    days = client.get(_path(token, "/usage?bucket=day"), headers=ROOT_HEADERS).json()["buckets"]
    assert days[0]["counts"] == expected
    tenant = client.get("/v1/tenants/default/usage", headers=ROOT_HEADERS).json()
    assert tenant["buckets"][0]["counts"] == {"VALID": 8, "IP_DENIED": 2, "RATE_LIMITED": 1}
    assert tenant["top_tokens"][0] == {"id": token["id"], "verifications": 6}
    # Another tenant's admin sees neither the token's nor the tenant's counts.
    client.post("/v1/tenants", json={"name": "other"}, headers=ROOT_HEADERS)
    outsider = bearer(manager(client, "other", role="admin")["secret"])
    assert client.get(_path(token, "/usage"), headers=outsider).status_code == 404
    assert client.get("/v1/tenants/default/usage", headers=outsider).status_code == 404
    # A span outside the counts, and a bad span.
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    empty = client.get(_path(token, "/usage"), params={"since": later}, headers=ROOT_HEADERS)
    assert empty.status_code == 422
    # Retention: pruning everything older than tomorrow removes them.
    core.clock = lambda: datetime.now(UTC) + timedelta(days=800)
    assert usage.prune(core, hourly_days=90, daily_days=730) > 0
    core.clock = lambda: datetime.now(UTC)
    assert client.get(_path(token, "/usage"), headers=ROOT_HEADERS).json()["buckets"] == []
