"""Real ``tokenward serve`` processes: a ``kill -9`` between a change and its delivery loses
nothing, and two servers on one PostgreSQL deliver each event once (then one survives the
other's death and carries on)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ROOT_HEADERS
from tests.lifecycle.receiver import Receiver, verified
from tests.reliability.server import Server

TOKENS = "/v1/tenants/default/tokens"
SHARED_KEY = "lifecycle-test-key-0123456789abcdefghijklmnop"


@pytest.fixture(autouse=True)
def _private_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The servers read these from the environment they inherit.
    monkeypatch.setenv("TOKENWARD_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("TOKENWARD_SECRET_KEY", SHARED_KEY)
    monkeypatch.setenv("TOKENWARD_SCHEDULER_INTERVAL_SECONDS", "3600")


def register(url: str, target: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{url}/v1/tenants/default/webhooks",
        json={"url": target, "events": ["token.created"]},
        headers=ROOT_HEADERS,
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def create(url: str, name: str) -> int:
    answer = httpx.post(f"{url}{TOKENS}", json={"name": name}, headers=ROOT_HEADERS)
    assert answer.status_code == 201, answer.text
    token_id: int = answer.json()["id"]
    return token_id


def test_kill_9_in_flight_then_restart_delivers_with_the_same_id(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.hang = 60  # the first delivery never gets its answer: the server dies first
    server = Server(tmp_path / "data", database_url)
    try:
        hook = register(server.url, receiver.url)
        token_id = create(server.url, "in flight")
        first = receiver.wait_for(lambda got: len(got) >= 1)[0]
        server.kill()
    finally:
        server.kill()
    receiver.hang = 0
    restarted = Server(tmp_path / "data", database_url)
    try:
        again = receiver.wait_for(lambda got: len(got) >= 2)[1]
    finally:
        restarted.stop()
    assert again.id == first.id
    payload = verified(hook["secret"], again)
    assert payload["type"] == "token.created"
    assert payload["data"]["token"]["id"] == token_id


def test_kill_9_right_after_the_changes_loses_no_event(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    server = Server(tmp_path / "data", database_url)
    try:
        hook = register(server.url, receiver.url)
        created = {create(server.url, f"t{n}") for n in range(5)}
        server.kill()  # within the dispatcher's poll interval of the last create
    finally:
        server.kill()
    restarted = Server(tmp_path / "data", database_url)
    try:
        seen = receiver.wait_for(
            lambda got: {r.payload["data"]["token"]["id"] for r in got} >= created
        )
    finally:
        restarted.stop()
    for item in seen:
        verified(hook["secret"], item)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_servers_on_one_postgresql_deliver_each_event_once(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    one = Server(tmp_path / "one", database_url)
    two = Server(tmp_path / "two", database_url)
    try:
        hook = register(one.url, receiver.url)
        created = {create((one, two)[n % 2].url, f"t{n}") for n in range(20)}
        receiver.wait_for(lambda got: len({r.id for r in got}) >= 20)
        time.sleep(2.5)  # more than two polls of either dispatcher: any duplicate shows
        ids = [r.id for r in receiver.received]
        assert len(ids) == 20 == len(set(ids))
        assert {r.payload["data"]["token"]["id"] for r in receiver.received} == created
        for item in receiver.received:
            verified(hook["secret"], item)

        # Whichever held the lock, the survivor takes it over when one dies.
        one.kill()
        later = {create(two.url, f"late{n}") for n in range(3)}
        got = receiver.wait_for(
            lambda got: {r.payload["data"]["token"]["id"] for r in got} >= created | later
        )
        assert len({r.id for r in got}) == 23
    finally:
        one.kill()
        two.stop()
