"""Issue 21, section 2: real ``tokenward serve`` processes on a primary and a real streaming
replica of it (``conftest.py``), with lag injected by pausing the replica's replay.

- in normal operation, verification lookups and lists read from the replica;
- a revocation (disable, delete, a rotation without grace) made while the replica lags is
  never undone by it: the server that made it refuses the secret from its answer on, another
  server from the moment its change feed has seen the change (as for its cache), and a server
  started during the lag from its first answer;
- a stopped replica costs nothing but the primary's reads: logged once, counted in /metrics.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server
from tests.helpers import ROOT_HEADERS, ROOT_TOKEN
from tests.replica.conftest import Pair

TOKENS = "/v1/tenants/default/tokens"
DOWN = "the read replica is not available"
BACK = "the read replica is available again"


def _env(pair: Pair) -> dict[str, str]:
    return {
        "TOKENWARD_DATABASE_URL": pair.primary.url("tokenward"),
        "TOKENWARD_DATABASE_REPLICA_URL": pair.replica.url("tokenward"),
        "TOKENWARD_ADMIN_TOKEN": ROOT_TOKEN,
        "TOKENWARD_SECRET_KEY": "replica-test-key-0123456789abcdefghijklmnop",
        "TOKENWARD_DRAIN_SECONDS": "0",
    }


class _Server(Server):
    """A server given longer to start than ``Server``'s 30 s: on a loaded machine, with two
    clusters beside it, a cold start of the process alone has taken that long."""

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not become healthy:\n{self.output()}")


def _start(pair: Pair, tmp: Path) -> Server:
    return _Server(tmp / f"data-{uuid.uuid4().hex[:8]}", _env(pair))


@pytest.fixture(scope="module")
def servers(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two servers on the same primary and replica (one after the other: the first migrates)."""
    tmp = tmp_path_factory.mktemp("replica")
    started: list[Server] = []
    try:
        started.append(_start(pair, tmp))
        started.append(_start(pair, tmp))
        yield started
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("more")


def _issue(server: Server, name: str = "replica") -> tuple[int, str]:
    answer = httpx.post(f"{server.url}{TOKENS}", json={"name": name}, headers=ROOT_HEADERS)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["id"], body["secret"]


def _verify(server: Server, secret: str) -> dict[str, object]:
    answer = httpx.post(f"{server.url}/v1/verify", json={"token": secret}, timeout=10)
    assert answer.status_code == 200, answer.text
    verdict: dict[str, object] = answer.json()
    return verdict


def _listed(server: Server) -> set[int]:
    answer = httpx.get(f"{server.url}{TOKENS}?limit=200", headers=ROOT_HEADERS, timeout=10)
    assert answer.status_code == 200, answer.text
    return {token["id"] for token in answer.json()["items"]}


def _primary_reads(server: Server) -> dict[str, float]:
    """``tokenward_replica_primary_reads_total`` by reason."""
    text = httpx.get(f"{server.url}/metrics", headers=ROOT_HEADERS).text
    pattern = r'^tokenward_replica_primary_reads_total\{reason="(\w+)"\} (\S+)$'
    return {reason: float(n) for reason, n in re.findall(pattern, text, re.MULTILINE)}


def _settle(pair: Pair) -> None:
    """The replica has replayed everything, and the servers' change feeds have seen it (they
    read its replay position at each sync, every 50 ms)."""
    pair.wait_replayed()
    time.sleep(0.5)


def test_lookups_and_lists_read_from_the_replica(pair: Pair, servers: list[Server]) -> None:
    a, b = servers
    # A change the servers cannot know of (no change-log entry), made on the primary while
    # the replica's replay is paused: which copy a server answers from shows where it read.
    for _attempt in range(5):
        token_id, secret = _issue(a, "before")
        _settle(pair)
        pair.pause()
        try:
            pair.sql(pair.primary, f"UPDATE tokens SET name = 'after' WHERE id = {token_id}")
            seen = _verify(b, secret)
        finally:
            pair.resume()
        assert seen["valid"] is True
        if seen["token"]["name"] == "before":  # type: ignore[index]
            break  # read on the replica
    else:
        raise AssertionError("verification lookups never read from the replica")

    # Lists too: a token created while replay is paused is not listed until it resumes,
    # though it verifies at once (the lag rule sends its lookup to the primary).
    pair.pause()
    try:
        created, created_secret = _issue(a, "during the pause")
        assert _verify(a, created_secret)["valid"] is True
        assert _verify(b, created_secret)["valid"] is True
        assert created not in _listed(a)
        assert token_id in _listed(a)
    finally:
        pair.resume()
    assert created in _listed(a)

    # The replica serves the lookups' own connections.
    lookups = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'tokenward'"
        " AND query LIKE '%token_secrets%'"
    )
    assert pair.sql(pair.replica, lookups, "postgres") >= 1  # type: ignore[operator]


def test_replica_lag_never_undoes_a_revocation(
    pair: Pair, servers: list[Server], tmp: Path
) -> None:
    a, b = servers
    # The old secrets are asked for again and again after their rotation: reported as kept
    # copies (reuse detection, docs/lifecycle.md), not acted on, or their tokens would be
    # disabled and their new secrets refused.
    with httpx.Client(base_url=a.url, headers=ROOT_HEADERS, timeout=10) as http:
        policy = http.put("/v1/tenants/default/policy", json={"on_reuse": "notify"})
        assert policy.status_code == 200, policy.text
    disabled, deleted, rotated, uncached, live, graced = (_issue(a, n) for n in "ABCDEF")
    for server in servers:
        for _, secret in (disabled, deleted, rotated, live, graced):
            assert _verify(server, secret)["valid"] is True  # cached as valid everywhere
    _settle(pair)
    pair.pause()
    try:
        with httpx.Client(base_url=a.url, headers=ROOT_HEADERS, timeout=10) as http:
            assert http.post(f"{TOKENS}/{disabled[0]}/disable").status_code == 200
            assert _verify(a, disabled[1])["valid"] is False
            assert http.delete(f"{TOKENS}/{deleted[0]}").status_code in (200, 204)
            assert _verify(a, deleted[1])["valid"] is False
            answer = http.post(f"{TOKENS}/{rotated[0]}/rotate", json={"grace_seconds": 0})
            assert answer.status_code == 200, answer.text
            new_secret = answer.json()["secret"]
            assert _verify(a, rotated[1])["valid"] is False
            assert http.post(f"{TOKENS}/{uncached[0]}/disable").status_code == 200
            assert _verify(a, uncached[1])["valid"] is False
            # Rotated with a grace that runs out while the replica still lags.
            answer = http.post(f"{TOKENS}/{graced[0]}/rotate", json={"grace_seconds": 1})
            assert answer.status_code == 200, answer.text
            grace_ends = time.monotonic() + 1
            graced_new = answer.json()["secret"]
        revoked = [disabled[1], deleted[1], rotated[1], uncached[1]]

        # The lag is real: the replica still holds every revoked secret as it was.
        active = f"SELECT bool_and(active) FROM tokens WHERE id IN ({disabled[0]}, {uncached[0]})"
        assert pair.sql(pair.replica, active) is True
        kept = f"SELECT count(*) FROM tokens WHERE id = {deleted[0]}"
        assert pair.sql(pair.replica, kept) == 1
        assert pair.sql(pair.primary, kept) == 0

        # The other server refuses each once its change feed has seen the change (as for
        # its cache: at once on the notification), and from then on never answers VALID.
        # (The bound on that is the topology test's; this one allows for a loaded machine.)
        deadline = time.monotonic() + 10
        for secret in revoked:
            while _verify(b, secret)["valid"]:
                assert time.monotonic() < deadline, "the other server never refused it"
                time.sleep(0.02)
        time.sleep(max(0.0, grace_ends + 0.2 - time.monotonic()))
        revoked.append(graced[1])
        assert _verify(b, graced[1])["valid"] is False
        # A server started now, while the replica lags, refuses them from its first answer.
        late = _start(pair, tmp)
        try:
            watched = [a, b, late]
            until = time.monotonic() + 2
            rounds = 0
            while rounds < 3 or time.monotonic() < until:
                for server in watched:
                    for secret in revoked:
                        verdict = _verify(server, secret)
                        assert verdict["valid"] is False, (server.url, verdict)
                rounds += 1
            for server in watched:
                for secret in (live[1], new_secret, graced_new):
                    verdict = _verify(server, secret)
                    assert verdict["valid"] is True, (server.url, verdict)
            assert _primary_reads(late)["lagging"] > 0
        finally:
            late.stop()
        assert pair.sql(pair.replica, kept) == 1, "the replica replayed during the test"
    finally:
        pair.resume()

    # Replayed: the revocations hold, and lookups read from the replica again.
    _settle(pair)
    fresh = _issue(a, "after the pause")
    _settle(pair)
    before = _primary_reads(b)
    assert _verify(b, fresh[1])["valid"] is True
    assert _primary_reads(b) == before
    for server in servers:
        for secret in revoked:
            assert _verify(server, secret)["valid"] is False


def test_a_stopped_replica_falls_back_to_the_primary(pair: Pair, servers: list[Server]) -> None:
    a, b = servers
    waiting = [_issue(a, f"fallback {i}") for i in range(3)]
    _settle(pair)
    pair.replica.stop()
    try:
        for _, secret in waiting:  # never verified: each is a lookup in the store
            assert _verify(b, secret)["valid"] is True
            assert _verify(a, secret)["valid"] is True
        assert {token_id for token_id, _ in waiting} <= _listed(a)
        for server in servers:
            assert _primary_reads(server)["unavailable"] >= 2
            assert server.output().count(DOWN) == 1, server.output()
    finally:
        pair.replica.start()
    _settle(pair)
    back = _issue(a, "replica back")
    deadline = time.monotonic() + 10
    while BACK not in b.output():
        assert time.monotonic() < deadline, b.output()
        # A new token each time: a cached answer reads nothing.
        assert _verify(b, back[1])["valid"] is True
        back = _issue(a, "replica back")
        time.sleep(0.2)
    assert b.output().count(DOWN) == 1
