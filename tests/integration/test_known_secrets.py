"""The known-secrets filter: unknown secrets refused without a store read, and never a token
that exists refused, however recently another process made it.

Two verification engines on one database stand for two processes: each has its own
connections, so a commit by one is "another connection" to the other, as between worker processes.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tokenward import metrics
from tokenward.app import create_app, open_engine
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenSpec
from tokenward.domain.verification import VerifyCode
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.settings import Settings
from tokenward.store import wal_index
from tokenward.store.lookup import SqlSecretLookup
from tokenward.store.unit_of_work import SqlUnitOfWorkFactory
from tokenward.store.wal_index import WalIndex, stable_header
from tokenward.verification import Engine
from tokenward.verification.known_secrets import KnownSecrets, Presence, SecretFilter

ROOT = Actor.root()


@pytest.fixture
def room_to_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test process opens hundreds of databases; a server maps one. Room for one more."""
    monkeypatch.setattr(wal_index, "MAX_MAPPED", len(wal_index._mapped) + 1)


def _small_filter(engine: sqlalchemy.Engine) -> Engine:
    """An engine whose known-secrets filter starts at four hashes, to saturate it soon."""
    return Engine(
        uow=SqlUnitOfWorkFactory(engine), lookup=SqlSecretLookup(engine), filter_min_capacity=4
    )


def _filtered() -> int:
    return metrics.STATS.lookups()[metrics.Lookup.FILTERED]


def _lookups() -> dict[metrics.Lookup, int]:
    return metrics.STATS.lookups()


def test_filter_holds_every_added_hash_and_few_others() -> None:
    known = SecretFilter(10_000)
    added = [secret_format.hash_secret(secret_format.generate()) for _ in range(10_000)]
    for secret_hash in added:
        known.add(secret_hash)
    assert all(secret_hash in known for secret_hash in added)
    strangers = [secret_format.hash_secret(secret_format.generate()) for _ in range(20_000)]
    false_positives = sum(secret_hash in known for secret_hash in strangers)
    assert false_positives < 20_000 * 0.01  # designed for about 0.24 % at this load
    assert not known.saturated
    known.add(added[0])
    assert known.count == 10_001 and known.saturated


@pytest.mark.parametrize("backend", ["sqlite"])
def test_unknown_secrets_are_refused_without_a_store_read(core: Core, other: Engine) -> None:
    tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t"))
    other.sync()

    misses = _lookups()[metrics.Lookup.MISS]
    before = _filtered()
    for _ in range(200):
        secret = secret_format.generate()
        # Probes of the filter's 0.24 % false positives would read: skip those few.
        if other.known_secrets.presence(secret_format.hash_secret(secret)) is Presence.ABSENT:
            assert other.verify_without_blocking(secret) == other.verify(secret)
            assert other.verify(secret).code is VerifyCode.NOT_FOUND
    assert _filtered() - before >= 2 * 190
    assert _lookups()[metrics.Lookup.MISS] == misses  # no unknown secret reached the store
    assert other.cache.sizes() == (0, 0)  # nothing cached: a flood cannot evict anything


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_token_made_by_another_process_is_valid_at_once(core: Core, other: Engine) -> None:
    """No sync in between: the reader sees that the store moved and catches up itself."""
    for i in range(20):
        secret = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name=f"t{i}")).secret
        assert other.verify_without_blocking(secret) is None  # needs the thread path
        assert other.verify(secret).code is VerifyCode.VALID


@pytest.mark.parametrize("backend", ["sqlite"])
def test_rotated_and_imported_secrets_are_valid_at_once(core: Core, other: Engine) -> None:
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t"))
    rotated = tokens.rotate(core, ROOT, tenant="default", token_id=issued.token.id)
    assert other.verify(rotated.secret).code is VerifyCode.VALID

    imported_secret = secret_format.generate()
    template = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="u")).token
    tokens.delete(core, ROOT, tenant="default", token_id=template.id)
    other.sync()
    copy = dataclasses.replace(
        template, name="imported", secret_hash=secret_format.hash_secret(imported_secret)
    )
    tokens.restore(core, ROOT, token=copy)
    assert other.verify(imported_secret).code is VerifyCode.VALID


@pytest.mark.parametrize("backend", ["sqlite"])
def test_writes_that_change_no_secret_only_cost_a_catch_up(
    core: Core, verifier: Engine, other: Engine
) -> None:
    """Last-use times move the store's version too; the next unknown secret syncs once."""
    secret = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t")).secret
    assert verifier.verify(secret).valid
    verifier.flush()
    unknown = secret_format.generate()
    while other.known_secrets.presence(secret_format.hash_secret(unknown)) is Presence.POSSIBLE:
        unknown = secret_format.generate()
    assert other.known_secrets.presence(secret_format.hash_secret(unknown)) is Presence.OUTDATED
    assert other.verify(unknown).code is VerifyCode.NOT_FOUND
    assert other.known_secrets.presence(secret_format.hash_secret(unknown)) is Presence.ABSENT


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_saturated_filter_is_reloaded(core: Core, settings: Settings) -> None:
    engine = open_engine(settings)
    small = _small_filter(engine)
    try:
        small.start()
        made = [
            tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name=f"t{i}")).secret
            for i in range(40)
        ]
        assert small.known_secrets.size_bytes == 64  # 4 x 16 bits, in one 64-byte block
        small.sync()
        assert small.known_secrets.size_bytes == 256  # reloaded for 80: 1,280 bits -> 2,048
        assert not small.known_secrets.needs_reload
        assert all(small.verify(secret).valid for secret in made)
    finally:
        engine.dispose()
        small.close()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_without_a_cheap_version_the_filter_stays_out_of_the_way(core: Core, other: Engine) -> None:
    """PostgreSQL: no version to trust a filter at, so every unknown secret is read."""
    before = _lookups()
    unknown = secret_format.generate()
    assert other.known_secrets.presence(secret_format.hash_secret(unknown)) is Presence.POSSIBLE
    assert other.verify(unknown).code is VerifyCode.NOT_FOUND
    after = _lookups()
    assert after[metrics.Lookup.MISS] == before[metrics.Lookup.MISS] + 1
    assert after[metrics.Lookup.FILTERED] == before[metrics.Lookup.FILTERED]


def test_a_stable_wal_header_needs_two_equal_initialised_copies() -> None:
    header = bytes(12) + b"\x01" + bytes(35)
    assert stable_header(header, header) == header
    assert stable_header(header, header[:-1] + b"\x02") is None  # a write in between
    uninitialised = bytes(48)
    assert stable_header(uninitialised, uninitialised) is None
    assert stable_header(header[:40], header[:40]) is None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_store_version_moves_with_every_commit_and_only_then(
    room_to_map: None, core: Core, verifier: Engine, settings: Settings
) -> None:
    """Read from the WAL index in shared memory, without a query, once it is mapped."""
    engine = open_engine(settings)
    other = SimpleNamespace(lookup=SqlSecretLookup(engine))
    first = other.lookup.version()
    settled = other.lookup.version()
    assert isinstance(settled, bytes)  # the shared-memory header, not the pragma
    assert other.lookup.version() == settled  # nothing committed: the same
    tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t"))
    moved = other.lookup.version()
    assert moved != settled and moved != first
    assert other.lookup.version() == moved
    verifier.flush()  # nothing to write: no commit, no move
    assert other.lookup.version() == moved
    other.lookup.close()
    assert other.lookup.version() is not None  # reopened on demand
    other.lookup.close()
    engine.dispose()


def _locks_held_on(path: str) -> int:
    """POSIX locks this process holds on ``path`` (Linux's /proc/locks)."""
    inode = os.stat(path).st_ino
    held = 0
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "POSIX" in fields and str(os.getpid()) in fields:
            device_inode = next(f for f in fields if f.count(":") == 2)
            held += int(device_inode.rsplit(":", 1)[1]) == inode
    return held


def test_mapping_the_wal_index_keeps_sqlite_s_locks(room_to_map: None, tmp_path: Path) -> None:
    """Closing a descriptor of the -shm file would drop SQLite's locks on it in this process
    (another process then failed with "locking protocol"): the map must close nothing."""
    database = str(tmp_path / "locks.db")
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
        before = _locks_held_on(database + "-shm")
        assert before > 0  # SQLite holds its shared-memory lock while connected
        sqlite_s = _descriptors_of(database + "-shm")
        wal = WalIndex.open(database)
        assert wal is not None and wal.header() is not None
        assert _locks_held_on(database + "-shm") == before
        assert WalIndex.open(database) is wal  # one map per database and process
        wal.release()
        assert wal.header() is not None  # one user left: still mapped
        assert _descriptors_of(database + "-shm") > sqlite_s
    finally:
        connection.close()
    wal.release()  # the last user, once SQLite's connection is closed: the descriptor goes
    assert _descriptors_of(database + "-shm") == 0 and wal.header() is None


def _descriptors_of(path: str) -> int:
    """This process's open descriptors of ``path``."""
    fds = Path("/proc/self/fd")
    return sum(os.path.realpath(fds / fd) == os.path.realpath(path) for fd in os.listdir(fds))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_server_s_shutdown_closes_the_wal_index(room_to_map: None, settings: Settings) -> None:
    """The map of the -shm file and its descriptor live as long as the app, not the process."""
    shm = f"{make_url(settings.resolved_database_url).database}-shm"
    with TestClient(create_app(settings)) as client:
        client.post("/v1/verify", json={"token": secret_format.generate()})  # reads the version
        assert _descriptors_of(shm) > 0
    assert _descriptors_of(shm) == 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_without_a_map_the_version_comes_from_sqlite(
    monkeypatch: pytest.MonkeyPatch, core: Core, settings: Settings
) -> None:
    """Past ``MAX_MAPPED`` databases in one process, the pragma answers, as exactly."""
    monkeypatch.setattr(wal_index, "MAX_MAPPED", len(wal_index._mapped))
    engine = open_engine(settings)
    lookup = SqlSecretLookup(engine)
    try:
        before = lookup.version()
        assert isinstance(before, tuple) and lookup.version() == before
        tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t"))
        assert lookup.version() != before
    finally:
        lookup.close()
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_changes_that_keep_a_secret_do_not_fill_the_filter(core: Core, settings: Settings) -> None:
    """The count that triggers a reload counts secrets: disabling and enabling a token
    fifty times adds none."""
    made = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="flip"))
    engine = open_engine(settings)
    small = _small_filter(engine)
    try:
        small.start()
        for _ in range(25):
            tokens.disable(core, ROOT, tenant="default", token_id=made.token.id)
            small.sync(wait=False)  # applies the change; no reload here
            tokens.enable(core, ROOT, tenant="default", token_id=made.token.id)
            small.sync(wait=False)
        assert not small.known_secrets.needs_reload
    finally:
        engine.dispose()
        small.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_revocation_does_not_wait_for_a_filter_reload(
    core: Core, other: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload takes seconds at 1M tokens: the changes read with it leave the cache first."""
    made = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="revoked"))
    assert other.verify(made.secret).valid  # cached in the other process
    tokens.disable(core, ROOT, tenant="default", token_id=made.token.id)
    cached_while_loading = []
    load = other.known_secrets.load

    def observed_load() -> None:
        cached_while_loading.append(other.cache.get(made.token.secret_hash))
        load()

    monkeypatch.setattr(other.known_secrets, "load", observed_load)
    monkeypatch.setattr(KnownSecrets, "needs_reload", property(lambda self: True))
    other.sync()
    assert cached_while_loading == [None]
    assert other.verify(made.secret).code is VerifyCode.DISABLED
