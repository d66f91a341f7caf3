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
from tokenward.domain.audit import AuditQuery
from tokenward.domain.tokens import TokenSpec
from tokenward.service import audit, events, policies, tokens, webhooks
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


def test_inactive_tokens_are_disabled_audited_and_announced(core: Core) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    core.clock = lambda: now
    used = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="used")).token
    idle = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="idle")).token
    hook, _ = webhooks.create(
        core, ROOT, tenant="default", url="https://example.com/", events=["token.auto_disabled"]
    )
    policies.put(core, ROOT, tenant="default", values={"inactivity_disable_seconds": 3600})
    with core.uow(write=True) as uow:
        uow.tokens.record_use({used.id: now + timedelta(seconds=3000)})
        uow.commit()
    assert events.announce_time_driven(core.uow, now + timedelta(seconds=1800)) == 0
    assert events.announce_time_driven(core.uow, now + timedelta(seconds=3700)) == 1
    assert tokens.get(core, ROOT, tenant="default", token_id=used.id).active
    assert not tokens.get(core, ROOT, tenant="default", token_id=idle.id).active
    records = audit.search(core, ROOT, query=AuditQuery(action="token.auto_disable")).items
    assert [(r.token_id, r.actor) for r in records] == [(idle.id, "tokenward")]
    assert "inactivity_disable_seconds" in records[0].detail["reason"]
    with core.uow(write=True) as uow:
        uow.dispatch.fan_out(now + timedelta(seconds=3700), limit=100)
        uow.commit()
    [delivery] = webhooks.deliveries(core, ROOT, tenant="default", webhook_id=hook.id).items
    assert delivery.event_type == "token.auto_disabled"
    # The used token goes too once it has been idle for the period.
    assert events.announce_time_driven(core.uow, now + timedelta(seconds=6700)) == 1
    assert not tokens.get(core, ROOT, tenant="default", token_id=used.id).active
