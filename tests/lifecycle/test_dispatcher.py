"""The dispatcher in process, on a clock the test moves: retries with one ``webhook-id``,
backoff for about a day then failed, an endpoint disabled after five failing days, no
redirect followed, slow receivers bounded, and the address guard (SSRF)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.lifecycle.receiver import Receiver, verified
from tokenward.domain.actors import Actor
from tokenward.domain.lifecycle import DeliveryStatus, is_public_address
from tokenward.domain.tokens import TokenSpec
from tokenward.lifecycle import Dispatcher, DispatchSettings
from tokenward.lifecycle.addresses import RefusedAddress, resolve
from tokenward.lifecycle.dispatcher import next_delay
from tokenward.service import tokens, webhooks
from tokenward.service.core import Core

ROOT = Actor.root(client="test")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Always:
    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


def dispatcher(core: Core, clock: Clock, **settings: object) -> Dispatcher:
    core.clock = clock
    options: dict[str, object] = {"allow_private": True, "scheduler_seconds": 3600.0}
    options.update(settings)
    return Dispatcher(
        core.uow,
        core.sealer,
        Always(),
        clock=clock,
        settings=DispatchSettings(**options),  # type: ignore[arg-type]
    )


def tick(d: Dispatcher) -> int:
    return asyncio.run(d.tick())


def hook(core: Core, url: str, events: tuple[str, ...] = ("token.created",)) -> tuple[int, str]:
    made, secret = webhooks.create(core, ROOT, tenant="default", url=url, events=list(events))
    return made.id, secret


def create_token(core: Core) -> None:
    tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t"))


def test_retries_keep_the_webhook_id_until_delivered(core: Core, receiver: Receiver) -> None:
    clock = Clock()
    d = dispatcher(core, clock)
    receiver.status = lambda n: 500 if n <= 2 else 200
    hook_id, secret = hook(core, receiver.url)
    create_token(core)
    assert tick(d) == 1
    assert tick(d) == 0  # not due yet: backing off
    clock.advance(5)
    assert tick(d) == 1
    clock.advance(10)
    assert tick(d) == 1
    assert len(receiver.received) == 3
    assert len({r.id for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    for item in receiver.received:
        verified(secret, item)
    [delivery] = webhooks.deliveries(core, ROOT, tenant="default", webhook_id=hook_id).items
    assert delivery.status is DeliveryStatus.DELIVERED
    assert [a.status_code for a in delivery.attempts] == [500, 500, 200]
    assert delivery.attempts[0].error == "HTTP 500"
    assert webhooks.get(core, ROOT, tenant="default", webhook_id=hook_id).failing_since is None


def test_backoff_grows_with_jitter_and_stops_at_the_cap() -> None:
    settings = DispatchSettings()
    rng = random.Random(7)
    delays = [next_delay(n, settings, rng) for n in range(1, 30)]
    assert 2.5 <= delays[0] <= 5
    assert 5 <= delays[1] <= 10
    assert all(d <= settings.retry_cap_seconds for d in delays)
    assert max(delays) > settings.retry_cap_seconds / 2
    assert len({round(d, 6) for d in delays[-10:]}) == 10  # jittered, not in lockstep


def test_a_day_of_failures_fails_the_delivery_and_five_days_disable_the_endpoint(
    core: Core, receiver: Receiver
) -> None:
    clock = Clock()
    d = dispatcher(core, clock)
    receiver.status = lambda n: 503
    hook_id, _ = hook(core, receiver.url)
    create_token(core)
    start = clock.now
    attempts = 0
    while True:
        attempts += tick(d)
        [delivery] = webhooks.deliveries(core, ROOT, tenant="default", webhook_id=hook_id).items
        if delivery.status is not DeliveryStatus.PENDING:
            break
        assert delivery.next_attempt_at is not None
        clock.now = delivery.next_attempt_at
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    assert timedelta(hours=20) <= clock.now - start <= timedelta(hours=25)
    assert 20 <= attempts <= 60 and attempts == len(delivery.attempts)
    endpoint = webhooks.get(core, ROOT, tenant="default", webhook_id=hook_id)
    assert endpoint.active and endpoint.failing_since == start

    for _ in range(5):  # an event a day, every delivery failing
        clock.advance(86400)
        create_token(core)
        tick(d)
    endpoint = webhooks.get(core, ROOT, tenant="default", webhook_id=hook_id)
    assert not endpoint.active
    assert endpoint.disabled_reason is not None and "5 days" in endpoint.disabled_reason
    sent = len(receiver.received)
    create_token(core)
    clock.advance(3600)
    tick(d)
    assert len(receiver.received) == sent  # a disabled endpoint receives nothing

    receiver.status = lambda n: 200
    webhooks.update(core, ROOT, tenant="default", webhook_id=hook_id, active=True)
    endpoint = webhooks.get(core, ROOT, tenant="default", webhook_id=hook_id)
    assert endpoint.active and endpoint.disabled_reason is None and endpoint.failing_since is None


def test_redirects_are_not_followed(core: Core, receiver: Receiver) -> None:
    clock = Clock()
    d = dispatcher(core, clock)
    target = Receiver()
    try:
        receiver.status = lambda n: 307
        receiver.location = target.url
        hook_id, _ = hook(core, receiver.url)
        create_token(core)
        tick(d)
        [delivery] = webhooks.deliveries(core, ROOT, tenant="default", webhook_id=hook_id).items
        assert delivery.status is DeliveryStatus.PENDING
        assert delivery.attempts[0].status_code == 307
        assert delivery.attempts[0].error == "redirect not followed"
        assert target.received == []
    finally:
        target.close()


def test_a_slow_receiver_is_cut_off_and_stalls_no_other(core: Core, receiver: Receiver) -> None:
    clock = Clock()
    d = dispatcher(core, clock, total_timeout=0.5, connect_timeout=0.5)
    slow = Receiver()
    try:
        slow.hang = 3.0
        slow_id, _ = hook(core, slow.url)
        fast_id, _ = hook(core, receiver.url)
        create_token(core)
        tick(d)
        [late] = webhooks.deliveries(core, ROOT, tenant="default", webhook_id=slow_id).items
        [on_time] = webhooks.deliveries(core, ROOT, tenant="default", webhook_id=fast_id).items
        assert on_time.status is DeliveryStatus.DELIVERED
        assert late.status is DeliveryStatus.PENDING
        assert late.attempts[0].error is not None and "timed out" in late.attempts[0].error
        assert late.attempts[0].duration_ms < 2000
    finally:
        slow.close()


def test_private_addresses_are_refused_unless_allowed(core: Core, receiver: Receiver) -> None:
    clock = Clock()
    d = dispatcher(core, clock, allow_private=False)
    hook_id, _ = hook(core, receiver.url)
    create_token(core)
    tick(d)
    [delivery] = webhooks.deliveries(core, ROOT, tenant="default", webhook_id=hook_id).items
    assert receiver.received == []
    assert delivery.attempts[0].status_code is None
    assert (delivery.attempts[0].error or "").startswith("refused")


SSRF_CORPUS = [
    "http://127.0.0.1/",
    "http://localhost:8080/x",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://[2002:7f00:1::]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "https://240.0.0.1/",
]


@pytest.mark.parametrize("url", SSRF_CORPUS)
def test_ssrf_corpus_is_refused_after_resolution(url: str) -> None:
    with pytest.raises(RefusedAddress):
        asyncio.run(resolve(url, allow_private=False))


def test_public_addresses_pass_and_keep_the_host_for_tls() -> None:
    target = asyncio.run(resolve("https://93.184.215.14:8443/p?q=1", allow_private=False))
    assert target.url == "https://93.184.215.14:8443/p?q=1"
    assert target.host_header == "93.184.215.14:8443"
    assert is_public_address("2606:4700::1111")
    assert not is_public_address("fc00::1")
