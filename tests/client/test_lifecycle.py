"""The client's policy, webhook and leak-check operations against a real ``tokenward serve``
process, sync and async."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from tests.client.support import ROOT
from tests.e2e.server import Server
from tokenward.client import (
    AsyncClient,
    Client,
    Delivery,
    NotFound,
    Policy,
    ValidationFailed,
    WebhookWithSecret,
)


def test_policy_get_and_put(server: Server, tenant_name: str) -> None:
    with Client(server.url, ROOT) as tw:
        tw.create_tenant(tenant_name)
        assert tw.get_policy(tenant_name) == Policy()
        wanted = Policy(
            max_lifetime_seconds=3600,
            allowed_scopes=("read",),
            expiry_notice_seconds=(600,),
            on_leak="notify",
        )
        assert tw.put_policy(tenant_name, wanted) == wanted
        assert tw.get_policy(tenant_name) == wanted
        issued = tw.create_token(tenant_name, name="bounded", scopes=["read"])
        assert issued.expires_at is not None  # the policy gave it one
        with pytest.raises(ValidationFailed) as refused:
            tw.create_token(tenant_name, name="wide", scopes=["write"])
        assert refused.value.code == "POLICY_VIOLATION"


def test_webhooks_and_their_deliveries(server: Server, tenant_name: str) -> None:
    with Client(server.url, ROOT) as tw:
        tw.create_tenant(tenant_name)
        # A loopback receiver: this server refuses it at delivery (SSRF), so the delivery
        # fails with an attempt to show.
        hook = tw.create_webhook(
            tenant_name, "http://127.0.0.1:9/hook", ["token.created"], description="ci"
        )
        assert isinstance(hook, WebhookWithSecret)
        assert hook.secret.startswith("whsec_") and hook.secret not in repr(hook)
        assert [w.id for w in tw.list_webhooks(tenant_name)] == [hook.id]
        fetched = tw.get_webhook(tenant_name, hook.id)
        assert fetched.events == ("token.created",) and not hasattr(fetched, "secret")
        changed = tw.update_webhook(tenant_name, hook.id, events=["token.created", "token.leaked"])
        assert changed.events == ("token.created", "token.leaked")
        assert changed.description == "ci"  # left as it was
        tw.create_token(tenant_name, name="announced")
        deliveries: list[Delivery] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            deliveries = tw.list_deliveries(tenant_name, hook.id)
            if deliveries and deliveries[0].attempts:
                break
            time.sleep(0.1)
        [delivery] = deliveries
        assert delivery.event_type == "token.created"
        assert delivery.attempts[0].error
        retried = tw.retry_delivery(tenant_name, hook.id, delivery.id)
        assert retried.id == delivery.id and retried.status == "pending"
        tw.delete_webhook(tenant_name, hook.id)
        with pytest.raises(NotFound):
            tw.get_webhook(tenant_name, hook.id)


def test_check_secrets_by_hash(server: Server, tenant_name: str) -> None:
    with Client(server.url, ROOT) as tw:
        tw.create_tenant(tenant_name)
        live = tw.create_token(tenant_name, name="live")
        off = tw.create_token(tenant_name, name="off", active=False)
        hashes = [hashlib.sha256(t.secret.encode()).hexdigest() for t in (live, off)]
        states = tw.check_secrets([*hashes, "0" * 64])
    assert [s.live for s in states] == [True, False, False]
    assert states[0].token_id == live.id and states[0].tenant == tenant_name
    assert states[2].token_id is None


def test_async_operations(server: Server, tenant_name: str) -> None:
    async def run() -> None:
        async with AsyncClient(server.url, ROOT) as tw:
            await tw.create_tenant(tenant_name)
            put = await tw.put_policy(tenant_name, Policy(require_expiry=True))
            assert put.require_expiry and await tw.get_policy(tenant_name) == put
            hook = await tw.create_webhook(tenant_name, "https://example.com/h", ["token.leaked"])
            assert (await tw.get_webhook(tenant_name, hook.id)).url == "https://example.com/h"
            assert [w.id for w in await tw.list_webhooks(tenant_name)] == [hook.id]
            updated = await tw.update_webhook(tenant_name, hook.id, active=False)
            assert updated.active is False
            assert await tw.list_deliveries(tenant_name, hook.id, limit=5) == []
            await tw.delete_webhook(tenant_name, hook.id)
            assert await tw.check_secrets(["1" * 64]) != []

    asyncio.run(run())
