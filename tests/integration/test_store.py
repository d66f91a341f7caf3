"""The store on real SQLite and PostgreSQL: schema, migrations, concurrency."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from tokenward import verification
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditQuery
from tokenward.domain.errors import Conflict, Unavailable
from tokenward.domain.roles import Role
from tokenward.domain.tokens import PageRequest, TokenChanges, TokenQuery, TokenSpec, TokenType
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.store import migrate
from tokenward.store.engine import make_engine
from tokenward.store.lookup import SqlSecretLookup
from tokenward.store.tables import metadata

ROOT = Actor.root(client="test")


def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert migrate.pending(engine) == []
        migrate.upgrade(engine)  # idempotent
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("tokens")}
        assert {
            "ix_tokens_tenant_created_at_id",
            "ix_tokens_tenant_name",
            "ix_tokens_tenant_type_principal",
        } <= indexes
        # Not in the metadata, so not compared above; a SQLite batch migration drops them.
        assert {"token_tallies_insert", "token_tallies_delete", "token_tallies_update"} <= (
            _triggers_on_tokens(engine)
        )
    finally:
        engine.dispose()


_TRIGGERS_ON_TOKENS = {
    "postgresql": "SELECT tgname FROM pg_trigger WHERE tgrelid = 'tokens'::regclass",
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'tokens'",
}


def _triggers_on_tokens(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(_TRIGGERS_ON_TOKENS[conn.dialect.name])).scalars())


def test_sqlite_pragmas(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    finally:
        engine.dispose()


def test_secret_hash_is_stored_never_the_secret(core: Core, database_url: str) -> None:
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="s", recoverable=True))
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM tokens")).all()
            secrets = conn.execute(text("SELECT secret_hash FROM token_secrets")).scalars().all()
    finally:
        engine.dispose()
    assert issued.secret not in repr(rows)
    assert issued.secret.encode() not in b"".join(
        v for row in rows for v in row if isinstance(v, bytes | memoryview)
    )
    assert secrets == [issued.token.secret_hash]


def test_concurrent_updates_of_one_token_lose_nothing(core: Core) -> None:
    token = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="start")).token
    errors: list[BaseException] = []
    names: list[str] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        try:
            for step in range(8):
                name = f"w{worker}-{step}"
                tokens.update(
                    core, ROOT, tenant="default", token_id=token.id, changes=TokenChanges(name=name)
                )
                with lock:
                    names.append(name)
                if step % 3 == 0:
                    tokens.rotate(core, ROOT, tenant="default", token_id=token.id)
                action = tokens.disable if step % 2 else tokens.enable
                action(core, ROOT, tenant="default", token_id=token.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = tokens.get(core, ROOT, tenant="default", token_id=token.id)
    assert final.name in names
    assert len(names) == 48


def test_concurrent_creates_get_unique_ids(core: Core) -> None:
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for i in range(10):
                issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name=f"c{i}"))
                with lock:
                    ids.append(issued.token.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids) == 60 and max(Counter(ids).values()) == 1
    page = tokens.search(core, ROOT, tenant="default")
    assert page.total == 60


def test_update_and_rotate_is_all_or_nothing(core: Core) -> None:
    from datetime import timedelta

    from tokenward.domain.errors import Forbidden

    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="q", role=Role.EDITOR))
    both = tokens.update_and_rotate(
        core,
        ROOT,
        tenant="default",
        token_id=issued.token.id,
        changes=TokenChanges(name="q2", active=False),
    )
    assert both.token.name == "q2" and both.token.active is False
    assert both.secret != issued.secret

    short = Actor(
        identity="ed",
        role=Role.ADMIN,
        tenant="default",
        scopes=frozenset(),
        expires_at=core.clock() + timedelta(hours=1),
        token_id=99,
    )
    # The rename alone is allowed, but the new secret of a permanent token is not: neither.
    with pytest.raises(Forbidden):
        tokens.update_and_rotate(
            core,
            short,
            tenant="default",
            token_id=issued.token.id,
            changes=TokenChanges(name="q3"),
        )
    assert tokens.get(core, ROOT, tenant="default", token_id=issued.token.id).name == "q2"


def test_ids_are_never_reused(core: Core) -> None:
    first = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="a")).token.id
    tokens.delete(core, ROOT, tenant="default", token_id=first)
    second = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="b")).token.id
    assert second > first


def test_change_sequence_keeps_growing_after_pruning(
    core: Core, verifier: verification.Engine
) -> None:
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="a")).token
    tokens.disable(core, ROOT, tenant="default", token_id=issued.id)
    with core.uow() as uow:
        seen = uow.changes.latest()
    verifier.prune_changes(keep_seconds=-1)
    tokens.enable(core, ROOT, tenant="default", token_id=issued.id)
    with core.uow() as uow:
        changed, latest = uow.changes.since(seen)
    assert changed == [issued.id] and latest > seen


def test_unique_names_hold_under_concurrent_creates(core: Core) -> None:
    from tokenward.domain.errors import Conflict

    outcomes: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        try:
            tokens.issue(
                core, ROOT, tenant="default", spec=TokenSpec(name="only-one"), unique_name=True
            )
            result = "created"
        except Conflict:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["created"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_change_log_numbers_follow_commit_order(core: Core) -> None:
    """PostgreSQL numbers rows at insert; a changer holding a number blocks the next one
    until it commits, so no reader can pass a number that commits later."""
    first = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="a")).token
    second = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="b")).token
    with core.uow(write=True) as uow:
        uow.changes.record([first.id], core.clock())
        other = threading.Thread(
            target=tokens.disable,
            args=(core, ROOT),
            kwargs={"tenant": "default", "token_id": second.id},
        )
        other.start()
        other.join(0.3)
        assert other.is_alive(), "a second changer numbered its change before the first committed"
        uow.commit()
    other.join(5)
    with core.uow() as uow:
        changed, _ = uow.changes.since(0)
    assert changed[-2:] == [first.id, second.id]


#: Every kind of value a token holds.
FULL = TokenSpec(
    name="full",
    description="all fields set",
    type=TokenType.TEAM,
    principal="svc",
    role=Role.EDITOR,
    scopes=("read", "write"),
    audience=("billing",),
    resources=("r1", "r2"),
    restricted=True,
    recoverable=True,
    metadata={"team": "a", "n": 3, "nested": {"x": [1, 2]}},
    ttl_seconds=3 * 86400,
)
#: Text that JSON must escape (SQLite's lookup reads the row as one json_array).
AWKWARD = TokenSpec(
    name='quo"te\\back',
    description="ünïcode 😀, tab\t, line\u2028 and 'quotes'",
    scopes=('a"b', "ü"),
    metadata={"k\u2028": None, "f": 1.5, "neg": -0.25, "t": True, "l": [[], {}], "s": "😀"},
)


def test_the_hot_path_lookup_reads_what_the_repository_reads(
    core: Core, verifier: verification.Engine
) -> None:
    """``store/lookup.py`` builds tokens by hand (driver rows, slot setters): every field must
    come out equal to the repository's, on both backends, for every kind of value."""
    for spec in (FULL, TokenSpec(name="bare"), AWKWARD):
        issued = tokens.issue(core, ROOT, tenant="default", spec=spec)
        tokens.disable(core, ROOT, tenant="default", token_id=issued.token.id)
        found = verifier.find(issued.token.secret_hash)
        assert found is not None
        with core.uow() as uow:
            expected = uow.tokens.get_by_secret_hash(issued.token.secret_hash)
        assert found == expected
    assert verifier.find("0" * 64) is None


def test_a_create_stores_what_it_returns(core: Core) -> None:
    """A create's statements run on the driver (``store/driver.py``) with the column types'
    own conversions: SQLAlchemy reads back the token, its audit entry and its change."""
    for spec in (FULL, TokenSpec(name="bare"), AWKWARD):
        issued = tokens.issue(core, ROOT, tenant="default", spec=spec)
        with core.uow() as uow:
            assert uow.tokens.get("default", issued.token.id) == issued.token
            assert uow.tokens.get_by_secret_hash(issued.token.secret_hash) == (issued.token, None)
            audited = uow.audit.search(AuditQuery(token_id=issued.token.id), PageRequest()).items
            changed, _ = uow.changes.since(0)
        assert [(entry.action, entry.at) for entry in audited] == [
            ("token.issue", issued.token.created_at)
        ]
        assert changed[-1] == issued.token.id
    with core.uow() as uow:
        (listed,) = [tenant for tenant in uow.tenants.list() if tenant.name == "default"]
        assert uow.tenants.get("default") == listed


def test_a_driver_error_is_a_conflict_like_any_other(core: Core) -> None:
    """A second token with a stored secret hash breaks the key of ``token_secrets``: the
    driver's error reaches the unit of work as SQLAlchemy's, which makes it a conflict and
    undoes the whole write."""
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="first"))
    twin = dataclasses.replace(issued.token, name="twin")
    with pytest.raises(Conflict) as refused, core.uow(write=True) as uow:
        uow.tokens.add(twin, now=issued.token.created_at)
        uow.commit()
    # The driver's error, as SQLAlchemy's, is chained and may be logged: without parameters
    # (PostgreSQL's own text still names the duplicate key, a hash and not a secret).
    cause = str(refused.value.__cause__)
    assert "hidden due to hide_parameters" in cause
    assert issued.secret not in cause
    found = tokens.search(core, ROOT, tenant="default", query=TokenQuery(name="twin"))
    assert found.total == 0


def test_the_hot_path_lookup_reads_a_rotated_secrets_grace(
    core: Core, verifier: verification.Engine
) -> None:
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="r"))
    before = core.clock()
    rotated = tokens.rotate(
        core, ROOT, tenant="default", token_id=issued.token.id, grace_seconds=60
    )
    old = verifier.find(issued.token.secret_hash)
    new = verifier.find(rotated.token.secret_hash)
    assert old is not None and new is not None
    assert old[0] == new[0] == rotated.token  # both secrets lead to the token as it is now
    assert new[1] is None
    assert old[1] is not None and 59 <= (old[1] - before).total_seconds() <= 61


@pytest.mark.parametrize("backend", ["sqlite"])
def test_secrets_live_in_their_key_on_sqlite(core: Core, verifier: verification.Engine) -> None:
    """The verification lookup searches one B-tree for the hash (migration 0004)."""
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="k"))
    with core.uow() as uow:
        conn = uow.tokens._conn
        ddl = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'token_secrets'"
        ).scalar_one()
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT token_id FROM token_secrets WHERE secret_hash = ?",
            (issued.token.secret_hash,),
        ).all()
    assert ddl.rstrip().endswith("WITHOUT ROWID")
    assert "PRIMARY KEY" in str(plan) and "INDEX" not in str(plan).replace("PRIMARY KEY", "")
    assert verifier.find(issued.token.secret_hash) is not None


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_connection_lost_under_a_driver_statement_is_unavailable(
    core: Core, database_url: str
) -> None:
    """A driver statement on a connection the server dropped is a 503 ``Unavailable``, as
    through SQLAlchemy, and the connection is not handed out again."""
    killer = make_engine(database_url)
    try:
        with pytest.raises(Unavailable), core.uow(write=True) as uow:
            with killer.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            uow.tenants.get("default")  # a DriverStatement
    finally:
        killer.dispose()
    made = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="after"))
    assert tokens.get(core, ROOT, tenant="default", token_id=made.token.id) == made.token


def _terminate_other_backends(database_url: str) -> None:
    killer = make_engine(database_url)
    try:
        with killer.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        killer.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_hot_path_lookup_outlives_its_dropped_connections(
    core: Core, database_url: str, verifier: verification.Engine
) -> None:
    """The lookups' connections skip the pool's pre-ping: ones the server dropped while idle
    (here: terminated) are replaced, and the lookup still answers."""
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="kept"))
    barrier = threading.Barrier(3)

    def find_together() -> None:
        barrier.wait()
        assert verifier.find(issued.token.secret_hash) is not None

    threads = [threading.Thread(target=find_together) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _terminate_other_backends(database_url)
    for _ in range(4):
        found = verifier.find(issued.token.secret_hash)
        assert found is not None and found[0] == issued.token


@contextlib.contextmanager
def _lookup_on(url: str, **bounds: Any) -> Iterator[SqlSecretLookup]:
    """A hot-path lookup of its own on ``url``, as a process makes one, closed after."""
    engine = make_engine(url)
    lookup = SqlSecretLookup(engine, **bounds)
    try:
        yield lookup
    finally:
        lookup.close()
        engine.dispose()


def test_the_hot_path_lookup_without_a_database_is_unavailable() -> None:
    nowhere = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    with _lookup_on(nowhere) as lookup, pytest.raises(Unavailable, match="not available"):
        lookup.find("0" * 64)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_lookup_that_finds_no_free_connection_is_unavailable(database_url: str) -> None:
    """The lookups' connections are bounded; waiting too long for one is a 503."""
    with _lookup_on(database_url, postgres_connections=1, postgres_wait=0.2) as lookup:
        held = lookup._open_postgres().raw_connection()
        try:
            with pytest.raises(Unavailable, match="TimeoutError"):
                lookup.find("0" * 64)
        finally:
            held.close()
        assert lookup.find("0" * 64) is None


def _backends(database_url: str, application: str) -> set[int]:
    """The server processes of connections that ``application`` holds to the test database,
    waiting briefly for closed ones to go (their processes end after the client leaves)."""
    watcher = make_engine(database_url)
    try:
        deadline = time.monotonic() + 2
        while True:
            with watcher.connect() as conn:
                pids = set(
                    conn.execute(
                        text(
                            "SELECT pid FROM pg_stat_activity"
                            " WHERE datname = current_database() AND application_name = :name"
                        ),
                        {"name": application},
                    ).scalars()
                )
            if not pids or time.monotonic() > deadline:
                return pids
            time.sleep(0.05)
    finally:
        watcher.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_hot_path_lookup_outlives_a_column_type_change(
    core: Core, database_url: str, verifier: verification.Engine
) -> None:
    """psycopg prepares the lookup on a kept connection; a migration that changes a selected
    column's type makes that statement fail ("cached plan must not change result type"):
    the connection is replaced rather than failing every lookup after it."""
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="typed"))
    for _ in range(8):  # prepared once a connection has run it five times
        assert verifier.find(issued.token.secret_hash) is not None
    admin = make_engine(database_url)
    try:
        with admin.begin() as conn:
            conn.execute(text("ALTER TABLE tokens ALTER COLUMN name TYPE varchar(300)"))
        for _ in range(3):
            found = verifier.find(issued.token.secret_hash)
            assert found is not None and found[0] == issued.token
    finally:
        with admin.begin() as conn:
            conn.execute(text("ALTER TABLE tokens ALTER COLUMN name TYPE varchar(200)"))
        admin.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_lookup_the_server_cancels_is_unavailable_and_keeps_its_connection(
    database_url: str,
) -> None:
    """A statement timeout is not a lost connection: the lookup answers 503, and the kept
    connection (healthy) serves the next lookup."""
    name = "lookup-cancelled"
    url = f"{database_url}?application_name={name}&options=-c%20statement_timeout%3D300"
    locker = make_engine(database_url)
    try:
        with _lookup_on(url) as lookup:
            assert lookup.find("0" * 64) is None
            kept = _backends(database_url, name)
            assert len(kept) == 1
            with locker.begin() as conn:
                conn.execute(text("LOCK TABLE token_secrets IN ACCESS EXCLUSIVE MODE"))
                with pytest.raises(Unavailable, match="QueryCanceled"):
                    lookup.find("0" * 64)
            assert lookup.find("0" * 64) is None
            assert _backends(database_url, name) == kept
    finally:
        locker.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_disposing_of_the_engine_closes_the_lookups_connections(database_url: str) -> None:
    """A CLI command or a test disposes of its engine, not of the lookup it built on it."""
    name = "lookup-disposed"
    engine = make_engine(f"{database_url}?application_name={name}")
    lookup = SqlSecretLookup(engine)
    assert lookup.find("0" * 64) is None
    assert len(_backends(database_url, name)) == 1
    engine.dispose()
    assert _backends(database_url, name) == set()


def test_a_sqlite_lookup_that_cannot_read_is_unavailable(tmp_path: Path) -> None:
    """Not a 500: here the file has no tables (a store not migrated, or the wrong path)."""
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with _lookup_on(empty) as lookup, pytest.raises(Unavailable, match="OperationalError"):
        lookup.find("0" * 64)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_sqlite_lookup_kept_from_its_lock_is_unavailable_at_once(database_url: str) -> None:
    """SQLite lookups run on the event loop: one that cannot get its lock (another process
    holds the file exclusively) answers 503 within the lookup's 100 ms busy timeout rather
    than stalling the worker for the writers' 10 s."""
    blocker = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    with _lookup_on(database_url) as lookup:
        try:
            blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
            blocker.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()
            with pytest.raises(Unavailable, match="OperationalError"):
                lookup.find("0" * 64)
            assert time.monotonic() - started < 2
        finally:
            blocker.close()
        assert lookup.find("0" * 64) is None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_store_version_that_cannot_be_read_is_unavailable(database_url: str) -> None:
    """The version is read on the event loop when the WAL index header cannot be (torn, not
    mapped): a failure there is a 503, and the next read opens a new connection."""
    with _lookup_on(database_url) as lookup:
        assert lookup.version() is not None
        assert lookup._version_connection is not None
        lookup._wal_index = None  # as if the header could not be read
        lookup._version_connection.close()  # and its connection had failed
        with pytest.raises(Unavailable, match="ProgrammingError"):
            lookup.version()
        assert lookup.version() is not None
