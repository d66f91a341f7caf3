"""Reuse detection's store and service side: rotated-out secrets kept by hash, and
``reuse.report_reuse`` acting per the tenant's ``on_reuse`` (the server reports what the
verification engine queued on a ``NOT_FOUND``), on a real database behind a real app. The
whole path in a served process: test_reuse_served.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue, tenant
from tests.lifecycle.receiver import Receiver, verified
from tokenward import metrics
from tokenward.app import build_core, build_verifier, open_engine
from tokenward.domain import secrets as secret_format
from tokenward.service import reuse
from tokenward.service.core import Core
from tokenward.settings import Settings


@pytest.fixture
def core(client: TestClient, settings: Settings) -> Iterator[Core]:
    """A second core on the app's database (migrated by the app's start)."""
    engine = open_engine(settings)
    yield build_core(settings, engine)
    engine.dispose()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def report_now(core: Core, secret_hash: str, **options: Any) -> bool:
    """``reuse.report_reuse`` with no allowance for requests in flight at the rotation: these
    tests present a retired secret at once, on purpose."""
    return reuse.report_reuse(core, secret_hash, in_flight=timedelta(0), **options)


def rotate(client: TestClient, token: dict[str, Any], grace: int = 0, t: str = "default") -> str:
    answer = client.post(
        f"/v1/tenants/{t}/tokens/{token['id']}/rotate",
        json={"grace_seconds": grace},
        headers=ROOT_HEADERS,
    )
    assert answer.status_code == 200, answer.text
    secret: str = answer.json()["secret"]
    return secret


def code_of(client: TestClient, secret: str) -> str:
    verdict: str = client.post("/v1/verify", json={"token": secret}).json()["code"]
    return verdict


@pytest.mark.postgres
def test_a_retired_secret_presented_again_disables_the_token(
    client: TestClient, core: Core, receiver: Receiver
) -> None:
    hook = client.post(
        "/v1/tenants/default/webhooks",
        json={"url": receiver.url, "events": ["token.reuse_detected"]},
        headers=ROOT_HEADERS,
    ).json()
    token = issue(client, name="rotated")
    first = token["secret"]
    second = rotate(client, token)
    third = rotate(client, token)

    assert code_of(client, first) == "NOT_FOUND"  # the verification answers as before
    assert report_now(core, _hash(first)) is True
    assert code_of(client, third) == "DISABLED"
    # Reported once per period, not per presentation; the other retired one is its own.
    assert report_now(core, _hash(first)) is False
    assert report_now(core, _hash(second)) is True
    audit = client.get(
        "/v1/audit", params={"action": "token.reuse_detected"}, headers=ROOT_HEADERS
    ).json()["items"]
    assert [e["token_id"] for e in audit] == [token["id"], token["id"]]
    assert audit[-1]["actor"] == "tokenward" and audit[-1]["detail"]["action"] == "disabled"
    [item, *_] = receiver.wait_for(lambda got: len(got) >= 1)
    payload = verified(hook["secret"], item)
    assert payload["type"] == "token.reuse_detected"
    assert payload["data"]["token"]["id"] == token["id"]
    assert payload["data"]["token"]["active"] is False
    assert first not in item.body and third not in item.body


def test_only_secrets_past_their_grace_count(client: TestClient, core: Core) -> None:
    token = issue(client)
    old = token["secret"]
    current = rotate(client, token, grace=3600)
    assert report_now(core, _hash(old)) is False  # still in its grace: it works
    assert report_now(core, _hash(current)) is False  # the current secret
    assert report_now(core, _hash("tw_never_issued")) is False
    assert code_of(client, current) == "VALID"
    # A rotation cuts the earlier grace short: the first secret is now retired too.
    rotate(client, token)
    assert report_now(core, _hash(old)) is True


def test_on_reuse_notify_only_reports(client: TestClient, core: Core) -> None:
    tenant(client, "acme")
    put = client.put("/v1/tenants/acme/policy", json={"on_reuse": "notify"}, headers=ROOT_HEADERS)
    assert put.status_code == 200
    token = issue(client, "acme")
    new = rotate(client, token, t="acme")
    assert report_now(core, _hash(token["secret"])) is True
    assert code_of(client, new) == "VALID"
    [entry] = client.get(
        "/v1/audit", params={"action": "token.reuse_detected"}, headers=ROOT_HEADERS
    ).json()["items"]
    assert entry["detail"]["action"] == "reported"


def test_kept_for_the_period_only_and_gone_with_the_token(client: TestClient, core: Core) -> None:
    token = issue(client)
    rotate(client, token)
    old = _hash(token["secret"])
    assert report_now(core, old, keep=timedelta(0)) is False  # past the period
    assert reuse.prune(core, keep=timedelta(0)) == 1
    assert report_now(core, old) is False  # pruned

    other = issue(client)
    rotate(client, other)
    client.delete(f"/v1/tenants/default/tokens/{other['id']}", headers=ROOT_HEADERS)
    assert report_now(core, _hash(other["secret"])) is False
    assert reuse.prune(core, keep=timedelta(0)) == 0  # deleted with its token


@pytest.mark.postgres
def test_the_engine_queues_kept_copies_and_never_unknown_secrets(
    client: TestClient, settings: Settings
) -> None:
    """The engine's own counters, on a real store: an unknown secret costs no report (so no
    read of the kept hashes), and on SQLite no read at all, as before reuse detection."""
    database = open_engine(settings)
    verifier = build_verifier(settings, database)
    verifier.start()
    mine = build_core(settings, database, verifier)
    try:
        token = issue(client, name="rotated")
        current = rotate(client, token)
        verifier.sync()  # what the server's change-log timer does
        misses = metrics.STATS.lookups()[metrics.Lookup.MISS]
        for _ in range(500):
            assert verifier.verify(secret_format.generate()).code == "NOT_FOUND"
        assert verifier.retired.queued == 0 and not verifier.reuses_pending()
        if database.dialect.name == "sqlite":  # PostgreSQL has no known-secrets filter
            assert metrics.STATS.lookups()[metrics.Lookup.MISS] == misses

        # Rebuilt as at a restart, the known-secrets filter still lets the kept copy through
        # to the store read that recognises it.
        verifier.known_secrets.load()
        for _ in range(3):
            assert verifier.verify(token["secret"]).code == "NOT_FOUND"
        assert verifier.retired.queued == 1
        report = verifier.report_reuses
        assert report(lambda secret_hash: report_now(mine, secret_hash)) == 1
        assert code_of(client, current) == "DISABLED"
    finally:
        database.dispose()
        verifier.close()


def test_a_secret_presented_just_after_its_grace_may_be_in_flight_and_is_no_reuse(
    client: TestClient, core: Core
) -> None:
    """A request that was on its way when a rotation (grace 0) happened is no kept copy: the
    token stays enabled. The same secret presented once ``IN_FLIGHT`` has passed is one."""
    token = issue(client, name="busy")
    rotate(client, token)
    path = f"/v1/tenants/default/tokens/{token['id']}"
    assert reuse.report_reuse(core, _hash(token["secret"])) is False
    assert client.get(path, headers=ROOT_HEADERS).json()["active"] is True
    assert reuse.report_reuse(core, _hash(token["secret"]), in_flight=timedelta(0)) is True
    assert client.get(path, headers=ROOT_HEADERS).json()["active"] is False
