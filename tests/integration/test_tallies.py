"""Token tallies on real SQLite and PostgreSQL: the triggers keep them equal to the rows, and a
listing's total read from them equals a count of the matches, whatever wrote the tokens."""

from __future__ import annotations

import dataclasses
import itertools
import random
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from tests.helpers import tenant as make_tenant
from tokenward import verification
from tokenward.domain import clock
from tokenward.domain.actors import Actor
from tokenward.domain.roles import TOKEN_ROLES, Role
from tokenward.domain.tokens import (
    PageRequest,
    Token,
    TokenChanges,
    TokenQuery,
    TokenSpec,
    TokenType,
)
from tokenward.service import tenants, tokens
from tokenward.service.core import Core
from tokenward.store import migrate
from tokenward.store.engine import make_engine
from tokenward.store.tables import tokens as tokens_table

ROOT = Actor.root(client="test")
TENANTS = ("default", "t1", "t2")
Key = tuple[str, str, str, bool]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    found = make_engine(database_url)
    try:
        yield found
    finally:
        found.dispose()


def tallies(engine: Engine) -> Counter[Key]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tenant, type, role, active, count FROM token_tallies"))
        found = Counter({(t, ty, r, bool(a)): int(n) for t, ty, r, a, n in rows})
    assert all(n >= 0 for n in found.values()), found
    return +found  # rows that reached zero may stay


def grouped(engine: Engine) -> Counter[Key]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tenant, type, role, active, count(*) FROM tokens"
                " GROUP BY tenant, type, role, active"
            )
        )
        return Counter({(t, ty, r, bool(a)): int(n) for t, ty, r, a, n in rows})


def _all_tokens(core: Core, tenant: str) -> tuple[Token, ...]:
    return tokens.search(core, ROOT, tenant=tenant, page=PageRequest(0, None)).items


_TYPE_FILTERS: tuple[tuple[TokenType, ...] | None, ...] = (
    None,
    (TokenType.USER,),
    (TokenType.USER, TokenType.TEAM),
    (),
)


def _tallied_queries() -> Iterator[TokenQuery]:
    for types, role, active in itertools.product(
        _TYPE_FILTERS, (None, *TOKEN_ROLES), (None, True, False)
    ):
        yield TokenQuery(types=types, role=role, active=active)
    yield TokenQuery(types=(TokenType.SESSION,), name_contains="")


def _counted_queries(now: datetime) -> Iterator[TokenQuery]:
    yield TokenQuery(expired=True)
    yield TokenQuery(types=(TokenType.USER,), expired=False, active=True)
    yield TokenQuery(role=Role.ADMIN, name_contains="3")
    yield TokenQuery(active=False, created_after=now - timedelta(minutes=5))
    yield TokenQuery(types=(TokenType.TEAM,), principals=("team-1",))


def _matches(token: Token, query: TokenQuery) -> bool:
    return (
        (query.types is None or token.type in query.types)
        and (query.role is None or token.role is query.role)
        and (query.active is None or token.active is query.active)
    )


def check(core: Core, engine: Engine) -> None:
    """Tallies equal the rows; totals, from tallies or counted, equal brute-force counts."""
    assert tallies(engine) == grouped(engine)
    with engine.connect() as conn:
        present = set(conn.execute(text("SELECT name FROM tenants")).scalars())
    now = core.clock()
    for tenant in sorted(present & set(TENANTS)):
        every = _all_tokens(core, tenant)
        for query in _tallied_queries():
            page = tokens.search(core, ROOT, tenant=tenant, query=query, page=PageRequest(0, 5))
            assert page.total == sum(_matches(t, query) for t in every), (tenant, query)
        for query in _counted_queries(now):
            found = tokens.search(core, ROOT, tenant=tenant, query=query, page=PageRequest(0, None))
            page = tokens.search(core, ROOT, tenant=tenant, query=query, page=PageRequest(0, 5))
            assert page.total == len(found.items), (tenant, query)


class Moves:
    """A random sequence of every kind of write, through the service."""

    def __init__(
        self, core: Core, verifier: verification.Engine, engine: Engine, seed: int
    ) -> None:
        self.core, self.verifier, self.engine = core, verifier, engine
        self.rng = random.Random(seed)
        self.now = clock.truncate(clock.utcnow())
        core.clock = lambda: self.now
        self.serial = 0

    def tenant(self) -> str:
        name = self.rng.choice(TENANTS)
        if name != "default":
            make_tenant(self.core, name, exist_ok=True)
        return name

    def some_token(self) -> Token | None:
        every = [t for name in self.present() for t in _all_tokens(self.core, name)]
        return self.rng.choice(every) if every else None

    def present(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(text("SELECT name FROM tenants")).scalars())

    def issue(self) -> None:
        kind = self.rng.choice(list(TokenType))
        self.serial += 1
        spec = TokenSpec(
            name=f"token-{self.serial}",
            type=kind,
            principal=None if kind is TokenType.GLOBAL else f"{kind}-{self.rng.randrange(3)}",
            role=self.rng.choice(TOKEN_ROLES),
            active=self.rng.random() < 0.8,
            ttl_seconds=self.rng.choice([None, 60, 3600]),
        )
        tokens.issue(self.core, ROOT, tenant=self.tenant(), spec=spec)

    def change(self) -> None:
        token = self.some_token()
        if token is None:
            return
        where = {"tenant": token.tenant, "token_id": token.id}
        match self.rng.randrange(6):
            case 0:
                changes = TokenChanges(role=self.rng.choice(TOKEN_ROLES))
                tokens.update(self.core, ROOT, **where, changes=changes)
            case 1:
                changes = TokenChanges(
                    role=self.rng.choice(TOKEN_ROLES), active=self.rng.random() < 0.5
                )
                tokens.update(self.core, ROOT, **where, changes=changes)
            case 2:
                tokens.enable(self.core, ROOT, **where)
            case 3:
                tokens.disable(self.core, ROOT, **where)
            case 4:
                tokens.update(self.core, ROOT, **where, changes=TokenChanges(description="x"))
            case _:
                tokens.rotate(self.core, ROOT, **where)

    def delete(self) -> None:
        token = self.some_token()
        if token is not None:
            tokens.delete(self.core, ROOT, tenant=token.tenant, token_id=token.id)

    def restore(self) -> None:
        token = self.some_token()
        if token is None:
            return
        copy = dataclasses.replace(
            token, id=0, tenant=self.tenant(), secret_hash=uuid.uuid4().hex * 2, sealed_secret=None
        )
        tokens.restore(self.core, ROOT, token=copy)

    def use(self) -> None:
        token = self.some_token()
        if token is not None:
            self.verifier.last_use.note(token.id, self.now)
            self.verifier.flush()

    def drop_tenant(self) -> None:
        name = self.rng.choice(TENANTS[1:])
        if name in self.present():
            tenants.delete(self.core, ROOT, name=name)

    def tick(self) -> None:
        self.now += timedelta(seconds=self.rng.choice([30, 90, 4000]))

    def run(self, steps: int) -> None:
        moves = [self.issue] * 8 + [self.change] * 6 + [self.delete] * 2 + [self.restore] * 2
        moves += [self.use, self.drop_tenant, self.tick]
        for step in range(1, steps + 1):
            self.rng.choice(moves)()
            if step % 40 == 0:
                check(self.core, self.engine)


@pytest.mark.parametrize("seed", [1, 2])
def test_tallies_follow_a_random_sequence_of_writes(
    core: Core, verifier: verification.Engine, engine: Engine, seed: int
) -> None:
    Moves(core, verifier, engine, seed).run(160)
    check(core, engine)
    assert sum(tallies(engine).values()) > 0


def test_totals_come_from_the_tallies_when_the_filters_allow(core: Core, engine: Engine) -> None:
    for i in range(3):
        tokens.issue(
            core,
            ROOT,
            tenant="default",
            spec=TokenSpec(name=f"u{i}", type=TokenType.USER, principal="ann"),
        )
    with engine.begin() as conn:
        conn.execute(text("UPDATE token_tallies SET count = count + 100"))  # a marker, not truth

    def total(query: TokenQuery) -> int:
        return tokens.search(core, ROOT, tenant="default", query=query).total

    assert total(TokenQuery()) == 103
    assert total(TokenQuery(types=(TokenType.USER,), role=Role.VIEWER, active=True)) == 103
    assert total(TokenQuery(types=(TokenType.TEAM,))) == 0
    assert total(TokenQuery(active=False)) == 0
    assert total(TokenQuery(types=())) == 0
    assert total(TokenQuery(principals=("ann",))) == 3
    assert total(TokenQuery(expired=False)) == 3
    assert total(TokenQuery(name_contains="u")) == 3


def test_a_tenants_cascade_keeps_tallies_right(core: Core, engine: Engine) -> None:
    """Deleting the tenant row alone: the foreign keys remove its tokens and its tallies."""
    make_tenant(core, "t1")
    for tenant, i in itertools.product(("default", "t1"), range(4)):
        tokens.issue(core, ROOT, tenant=tenant, spec=TokenSpec(name=f"n{i}", active=i % 2 == 0))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM tenants WHERE name = 't1'"))
        left = conn.execute(text("SELECT count(*) FROM token_tallies WHERE tenant = 't1'"))
        assert left.scalar_one() == 0
    assert tallies(engine) == grouped(engine)
    assert sum(tallies(engine).values()) == 4
    make_tenant(core, "t1")
    tokens.issue(core, ROOT, tenant="t1", spec=TokenSpec(name="again"))
    assert tokens.search(core, ROOT, tenant="t1").total == 1
    check(core, engine)


def test_the_cascade_runs_the_delete_trigger(core: Core, engine: Engine) -> None:
    """The tallies' own foreign key would hide a skipped trigger, so watch it run: PostgreSQL
    counts the function's calls; SQLite shows the trigger compiled into the cascade."""
    make_tenant(core, "t1")
    tokens.issue(core, ROOT, tenant="t1", spec=TokenSpec(name="n"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL track_functions = 'pl'"))
            conn.execute(text("DELETE FROM tenants WHERE name = 't1'"))
            ran = conn.execute(
                text(
                    "SELECT calls FROM pg_stat_xact_user_functions"
                    " WHERE funcname = 'token_tallies_on_delete'"
                )
            ).scalar()
            assert ran is not None and ran >= 1
        else:
            seen: set[tuple[str | None, str | None]] = set()

            def note(
                action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
            ) -> int:
                seen.add((trigger, arg1))
                return sqlite3.SQLITE_OK

            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.set_authorizer(note)
            try:
                conn.execute(text("DELETE FROM tenants WHERE name = 't1'"))
            finally:
                driver.set_authorizer(None)
            assert ("token_tallies_delete", "token_tallies") in seen
    assert tallies(engine) == grouped(engine)


def test_bulk_statements_are_counted(core: Core, engine: Engine) -> None:
    """Writes outside the service (a bulk load, a sweep) keep the tallies too."""
    make_tenant(core, "t1")
    now = core.clock()
    rows = [
        {
            "tenant": "t1" if i % 3 else "default",
            "name": f"bulk-{i}",
            "description": "",
            "type": "user" if i % 2 else "global",
            "principal": f"p{i}" if i % 2 else None,
            "owner": "o",
            "user": "o",
            "role": ("viewer", "editor", "admin")[i % 3],
            "scopes": [],
            "audience": [],
            "resources": [],
            "restricted": False,
            "active": i % 5 != 0,
            "created_at": now,
            "updated_at": now,
            "secret_hash": f"{i:064x}",
            "secret_hint": "h",
            "metadata": {},
        }
        for i in range(60)
    ]
    with engine.begin() as conn:
        conn.execute(insert(tokens_table), rows)
        conn.execute(text("DELETE FROM tokens WHERE 1 = 0"))
    assert tallies(engine) == grouped(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE tokens SET role = 'admin' WHERE type = 'user'"))
        conn.execute(text("DELETE FROM tokens WHERE role = 'editor'"))
    assert tallies(engine) == grouped(engine)
    check(core, engine)


def test_concurrent_writers_lose_no_count(core: Core, engine: Engine) -> None:
    """One tally row is every create's in a tenant; crossed enable/disable must not deadlock."""
    errors: list[BaseException] = []
    made: list[int] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        try:
            for i in range(8):
                spec = TokenSpec(name=f"w{worker}-{i}", active=(worker + i) % 2 == 0)
                token = tokens.issue(core, ROOT, tenant="default", spec=spec).token
                with lock:
                    made.append(token.id)
                    other = made[(worker * 7 + i) % len(made)]
                flip = tokens.enable if i % 2 else tokens.disable
                flip(core, ROOT, tenant="default", token_id=other)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tallies(engine) == grouped(engine)
    assert tokens.search(core, ROOT, tenant="default").total == 48


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"tokenward_tallies_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = migrate._config()
    with engine.connect() as conn:
        conn = conn.execution_options(tokenward_write=True)
        with conn.begin():
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)


def _old_rows(count: int, start: int) -> list[dict[str, object]]:
    moment = clock.truncate(clock.utcnow())
    return [
        {
            "tenant": ("default", "other")[i % 2],
            "name": f"old-{i}",
            "description": "",
            "type": ("global", "user", "team")[i % 3],
            "principal": None if i % 3 == 0 else f"p{i}",
            "owner": "o",
            "user": "o",
            "role": ("viewer", "editor", "admin")[i % 4 % 3],
            "scopes": [],
            "audience": [],
            "resources": [],
            "restricted": False,
            "active": i % 7 != 0,
            "created_at": moment,
            "updated_at": moment,
            "secret_hash": f"{i:064x}",
            "secret_hint": "h",
            "metadata": {},
        }
        for i in range(start, start + count)
    ]


def test_upgrade_counts_the_tokens_already_stored(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        _migrate(engine, "0002")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (name, created_at) VALUES ('other', 0)"))
            conn.execute(insert(tokens_table), _old_rows(50, 0))
        _migrate(engine, "head")
        assert sum(tallies(engine).values()) == 50
        assert tallies(engine) == grouped(engine)

        _migrate(engine, "0002", down=True)  # the triggers go with the table
        with engine.begin() as conn:
            conn.execute(insert(tokens_table), _old_rows(10, 50))
            conn.execute(text("DELETE FROM tokens WHERE name = 'old-3'"))
        _migrate(engine, "head")
        assert sum(tallies(engine).values()) == 59
        assert tallies(engine) == grouped(engine)
        assert migrate.pending(engine) == []
    finally:
        engine.dispose()


def test_migration_0005_marks_the_audit_of_tenants_deleted_before_it(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        _migrate(engine, "0004")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (name, created_at) VALUES ('acme', 2000)"))
            conn.execute(
                text(
                    "INSERT INTO audit (at, tenant, actor, action, detail) VALUES"
                    " (1000, 'acme', 'root', 'tenant.delete', '{}'),"
                    " (1500, 'gone', 'root', 'tenant.create', '{}'),"
                    " (2000, 'acme', 'root', 'tenant.create', '{}'),"
                    " (2500, NULL, 'root', 'token.import', '{}')"
                )
            )
        _migrate(engine, "head")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT at, tenant_deleted_at FROM audit ORDER BY at")).all()
        assert [(at, deleted is not None) for at, deleted in rows] == [
            (1000, True),
            (1500, True),
            (2000, False),
            (2500, False),
        ]
    finally:
        engine.dispose()
