"""Reuse detection end to end, in a real ``tokenward serve`` process: a rotated-out secret
presented to ``/v1/verify`` after its grace is answered ``NOT_FOUND`` as before, and the
server acts on its own per ``on_reuse`` (disables or only reports, audits, announces by a
signed webhook). Within the grace, or for an unknown secret, nothing is reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ROOT_HEADERS, tenant
from tests.lifecycle.receiver import Receiver, verified
from tests.reliability.server import Server
from tokenward.domain import secrets as secret_format
from tokenward.service.reuse import IN_FLIGHT

REUSE = "token.reuse_detected"

#: Seconds after its grace before a retired secret counts as a kept copy.
SETTLED = IN_FLIGHT.total_seconds() + 0.1


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch.setenv("TOKENWARD_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("TOKENWARD_SCHEDULER_INTERVAL_SECONDS", "3600")
    monkeypatch.setenv("TOKENWARD_DRAIN_SECONDS", "0")  # no load balancer to wait for
    served = Server(tmp_path / "data", database_url)
    try:
        with httpx.Client(base_url=served.url, headers=ROOT_HEADERS, timeout=10) as client:
            yield client
    finally:
        served.stop()


def hook(client: httpx.Client, t: str, url: str) -> str:
    answer = client.post(f"/v1/tenants/{t}/webhooks", json={"url": url, "events": [REUSE]})
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["secret"]
    return secret


def issue(client: httpx.Client, t: str, name: str) -> dict[str, Any]:
    answer = client.post(f"/v1/tenants/{t}/tokens", json={"name": name})
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def rotate(client: httpx.Client, t: str, token: dict[str, Any], grace: float) -> str:
    answer = client.post(
        f"/v1/tenants/{t}/tokens/{token['id']}/rotate", json={"grace_seconds": grace}
    )
    assert answer.status_code == 200, answer.text
    secret: str = answer.json()["secret"]
    return secret


def code_of(client: httpx.Client, secret: str) -> str:
    code: str = client.post("/v1/verify", json={"token": secret}, headers={}).json()["code"]
    return code


def reuse_audit(client: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/v1/audit", params={"action": REUSE}).json()["items"]
    return items


@pytest.mark.postgres
def test_a_kept_copy_replayed_after_its_grace_is_caught_by_the_server(
    server: httpx.Client, receiver: Receiver
) -> None:
    tenant(server, "acme", headers=ROOT_HEADERS)
    assert server.put("/v1/tenants/acme/policy", json={"on_reuse": "notify"}).status_code == 200
    default_hook = hook(server, "default", receiver.url)
    acme_hook = hook(server, "acme", receiver.url)
    leaked = issue(server, "default", "leaked")
    noted = issue(server, "acme", "noted")
    graced = issue(server, "default", "graced")
    leaked_now = rotate(server, "default", leaked, 0)
    noted_now = rotate(server, "acme", noted, 0)
    graced_now = rotate(server, "default", graced, 1)
    rotated_at = time.monotonic()

    # Within its grace the old secret works and is no reuse; unknown secrets are no reuse.
    assert code_of(server, graced["secret"]) == "VALID"
    for _ in range(50):
        assert code_of(server, secret_format.generate()) == "NOT_FOUND"
    # Kept copies (presented once a request in flight at the rotation would have arrived):
    # the answer is the one an unknown secret gets, and the replay loop is reported once.
    time.sleep(max(0.0, rotated_at + SETTLED - time.monotonic()))
    for _ in range(3):
        assert code_of(server, leaked["secret"]) == "NOT_FOUND"
        assert code_of(server, noted["secret"]) == "NOT_FOUND"

    got = receiver.wait_for(lambda got: len(got) >= 2)
    by_token = {item.payload["data"]["token"]["id"]: item for item in got}
    assert set(by_token) == {leaked["id"], noted["id"]}
    disabled = verified(default_hook, by_token[leaked["id"]])
    assert disabled["type"] == REUSE and disabled["data"]["action"] == "disabled"
    assert disabled["data"]["token"]["active"] is False
    reported = verified(acme_hook, by_token[noted["id"]])
    assert reported["data"]["action"] == "reported"
    assert reported["data"]["token"]["active"] is True
    for item in got:
        assert leaked["secret"] not in item.body and noted["secret"] not in item.body
    assert code_of(server, leaked_now) == "DISABLED"  # on_reuse: disable (the default)
    assert code_of(server, noted_now) == "VALID"  # on_reuse: notify

    # The graced secret once its grace is over: caught from the server's cache entry.
    time.sleep(max(0.0, rotated_at + 1 + SETTLED - time.monotonic()))
    assert code_of(server, graced["secret"]) == "NOT_FOUND"
    receiver.wait_for(lambda got: len(got) >= 3)
    assert code_of(server, graced_now) == "DISABLED"

    time.sleep(1.0)  # two report periods: a duplicate or a late report would show
    audit = reuse_audit(server)
    assert sorted((e["token_id"], e["detail"]["action"]) for e in audit) == sorted(
        [(leaked["id"], "disabled"), (noted["id"], "reported"), (graced["id"], "disabled")]
    )
    assert all(e["actor"] == "tokenward" for e in audit)
    assert len(receiver.received) == 3
