"""The read replica's routing (``store/replica.py``) on the test's PostgreSQL, without a
replica: the lag rule with the replay position played by the test, and the fallback to the
primary when the replica does not answer. ``tests/replica`` runs both against a real
streaming replica (``make test-long``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine as DatabaseEngine

from tests.helpers import ROOT_HEADERS, ROOT_TOKEN, free_port
from tokenward.app import build_core, build_verifier, create_app
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tokens
from tokenward.settings import Settings
from tokenward.store.engine import make_engine
from tokenward.store.replica import LAGGING, UNAVAILABLE, Replica, ReplicaLookup

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


@pytest.fixture
def reads(database_url: str, database: DatabaseEngine) -> Iterator[ReplicaLookup]:
    """A replica lookup whose "replica" is the primary itself, its replay position the
    test's to set (``replica.position``)."""
    replica = Replica(database_url)
    replica.position = 0  # type: ignore[attr-defined]
    replica.replayed = lambda: replica.position  # type: ignore[attr-defined,method-assign]
    lookup = ReplicaLookup(database, replica)
    try:
        yield lookup
    finally:
        lookup.close()
        replica.close()


def test_a_changed_token_is_read_on_the_primary_until_the_replica_replayed_it(
    settings: Settings, database: DatabaseEngine, reads: ReplicaLookup
) -> None:
    verifier = build_verifier(settings, database, reads)
    core = build_core(settings, database, verifier, reads)
    counts = reads.replica.primary_reads
    issued = tokens.issue(core, Actor.root(), tenant="default", spec=TokenSpec(name="t"))
    found_hash = secret_format.hash_secret(issued.secret)
    unknown_hash = secret_format.hash_secret(secret_format.generate())

    # A starting process trusts the replica only once it has replayed the primary's position.
    verifier.start()
    assert reads.find(found_hash) is not None
    assert counts[LAGGING] == 1
    reads.replica.position = reads._inserted()  # type: ignore[attr-defined]
    reads.changed([])
    assert reads.find(found_hash) is not None
    assert reads.find(unknown_hash) is None
    assert counts[LAGGING] == 1  # both read on the replica

    # A change this process made: read on the primary until replayed past it.
    tokens.disable(core, Actor.root(), tenant="default", token_id=issued.token.id)
    assert verifier.verify(issued.secret).code.value == "DISABLED"
    assert counts[LAGGING] == 2
    assert reads.find(unknown_hash) is None  # "not found" is asked again too, while pending
    assert counts[LAGGING] == 3
    other = tokens.issue(core, Actor.root(), tenant="default", spec=TokenSpec(name="o"))
    reads.replica.position = reads._pending[other.token.id] - 1  # type: ignore[attr-defined]
    reads.changed([])
    assert reads.find(secret_format.hash_secret(other.secret)) is not None
    assert counts[LAGGING] == 4, "replayed to just before the change: still pending"
    reads.replica.position = reads._inserted()  # type: ignore[attr-defined]
    reads.changed([])
    assert reads.find(found_hash) is not None
    assert reads.find(unknown_hash) is None
    assert counts[LAGGING] == 4
    assert counts[UNAVAILABLE] == 0


def test_a_replica_that_does_not_answer_sends_the_reads_to_the_primary(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        database_replica_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        admin_token=ROOT_TOKEN,
    )
    caplog.set_level(logging.WARNING, "tokenward.store.replica")
    with TestClient(create_app(settings), headers=ROOT_HEADERS) as client:
        secrets = []
        for i in range(3):
            answer = client.post("/v1/tenants/default/tokens", json={"name": f"t{i}"})
            assert answer.status_code == 201, answer.text
            secrets.append(answer.json()["secret"])
        for secret in secrets:
            assert client.post("/v1/verify", json={"token": secret}).json()["valid"] is True
        listed = client.get("/v1/tenants/default/tokens")
        assert listed.status_code == 200
        assert listed.json()["total"] == 3
        metrics = client.get("/metrics").text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith('tokenward_replica_primary_reads_total{reason="unavailable"}')
    )
    assert float(line.split()[-1]) >= 4
    downs = [r for r in caplog.records if "read replica is not available" in r.getMessage()]
    assert len(downs) == 1


def test_a_change_whose_position_is_unknown_stays_on_the_primary_until_bounded(
    reads: ReplicaLookup, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads.replica.position = 1 << 60  # type: ignore[attr-defined]  # replayed "everything"
    primary = reads._primary_engine
    unreachable = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    monkeypatch.setattr(reads, "_primary_engine", unreachable)
    reads.changed([42])  # committed, but the primary's position cannot be read now
    assert 42 in reads._pending
    monkeypatch.setattr(reads, "_primary_engine", primary)
    reads.changed([])  # the position read now bounds that change: replayed past it
    assert reads._pending == {}
    unreachable.dispose()
