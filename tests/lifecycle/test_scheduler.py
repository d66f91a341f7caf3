"""Time-driven events from the scheduler in the dispatcher: with
``TOKENWARD_SCHEDULER_INTERVAL_SECONDS=1`` (the conftest's settings) a token with a two-second
lifetime is announced as expiring, then as expired, once each."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue
from tests.lifecycle.receiver import Receiver, verified
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.service import events, tokens
from tokenward.service.core import Core

ROOT = Actor.root()
WANTED = ["token.expiring", "token.expired"]


def test_a_two_second_token_is_announced_expiring_then_expired(
    client: TestClient, receiver: Receiver
) -> None:
    hook = client.post(
        "/v1/tenants/default/webhooks",
        json={"url": receiver.url, "events": WANTED},
        headers=ROOT_HEADERS,
    ).json()
    token = issue(client, name="short", ttl_seconds=2)
    permanent = issue(client, name="forever")
    seen = receiver.wait_for(lambda got: any(r.payload["type"] == "token.expired" for r in got))
    time.sleep(2.5)  # two more scans: nothing is announced twice
    payloads = [verified(hook["secret"], item) for item in receiver.received]
    assert [p["type"] for p in payloads] == WANTED
    expiring, expired = payloads
    assert 0 <= expiring["data"]["seconds_left"] <= 2
    assert expiring["data"]["token"]["id"] == token["id"]
    assert expired["data"]["token"]["id"] == token["id"]
    assert expired["data"]["token"]["expired"] is True
    assert permanent["id"] not in {p["data"]["token"]["id"] for p in payloads}
    assert len(seen) >= 2


def test_each_notice_window_is_announced_once(core: Core) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    core.clock = lambda: now
    tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="month", ttl_seconds=20 * 86400))
    counts = []
    for days in (0, 1, 14, 15, 19, 19.5, 25):  # the windows: 30, 7 and 1 day before
        counts.append(events.announce_time_driven(core.uow, now + timedelta(days=days)))
    # 20 days left: the 30-day notice; 6 days left: the 7-day one; 12 h: the 1-day one;
    # then expired. Repeated scans inside a window add nothing.
    assert counts == [1, 0, 1, 0, 1, 0, 1]
