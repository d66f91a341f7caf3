"""SQLite writers: the file lock that orders processes, and the group commit of a process.

Real SQLite files and real processes: two processes that create concurrently have every
acknowledged token stored; a writer that cannot get the lock in time gets ``Unavailable``;
the lock of a process killed with SIGKILL is free at once; in a shared transaction one
writer's failure undoes its own work only, and a transaction that fails fails every writer.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.helpers import ROOT_TOKEN
from tokenward.app import build_core, open_engine
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Conflict, Unavailable
from tokenward.domain.tenants import Tenant
from tokenward.domain.tokens import TokenSpec
from tokenward.service import tokens
from tokenward.settings import Settings
from tokenward.store.engine import make_engine, sqlite_file
from tokenward.store.unit_of_work import SqlUnitOfWorkFactory
from tokenward.store.write_lock import LOCK_SUFFIX, FileWriteLock

PROCESSES = 2
THREADS = 4
CREATES = 25

#: Holds a write transaction (and so the file lock) until killed or its stdin closes.
HOLDER = """
import sys
from tokenward.store.engine import make_engine
from tokenward.store.unit_of_work import SqlUnitOfWorkFactory
engine = make_engine(sys.argv[1])
with SqlUnitOfWorkFactory(engine)(write=True) as uow:
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def db(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tokenward.db"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture
def engine(db: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{db}")
    yield engine
    engine.dispose()


@pytest.fixture
def holder(db: Path) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    """Starts a process that holds the write lock; it is ended (kill -9) after the test."""
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, f"sqlite:///{db}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _add_tenant(factory: SqlUnitOfWorkFactory, name: str) -> None:
    with factory(write=True) as uow:
        uow.tenants.add(Tenant(name=name, created_at=datetime.now(UTC)))
        uow.commit()


def _tenants(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM tenants ORDER BY name")).scalars())


# --------------------------------------------------------------------------- processes


def _create_tokens(args: tuple[str, str, int]) -> list[tuple[int, str]]:
    """In a process of its own: THREADS threads issue CREATES tokens each, all at once."""
    url, data_dir, process_no = args
    settings = Settings(database_url=url, data_dir=Path(data_dir), admin_token=ROOT_TOKEN)
    engine = open_engine(settings)
    core = build_core(settings, engine)
    actor = Actor.root(None)
    acknowledged: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(thread_no: int) -> None:
        start.wait()
        for i in range(CREATES):
            name = f"p{process_no}-t{thread_no}-{i}"
            try:
                issued = tokens.issue(core, actor, tenant="default", spec=TokenSpec(name=name))
            except BaseException as exc:
                errors.append(exc)
            else:
                acknowledged.append((issued.token.id, name))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert not errors, errors
    return acknowledged


def test_two_processes_creating_at_once_store_every_acknowledged_token(
    db: Path, engine: Engine, tmp_path: Path
) -> None:
    url = f"sqlite:///{db}"
    jobs = [(url, str(tmp_path / "data"), n) for n in range(PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.map(_create_tokens, jobs)
    acknowledged = sorted(pair for result in results for pair in result)
    assert len(acknowledged) == PROCESSES * THREADS * CREATES
    with engine.connect() as conn:
        stored = sorted(
            (row.id, row.name)
            for row in conn.execute(text("SELECT id, name FROM tokens WHERE name LIKE 'p%'"))
        )
        secrets = conn.execute(text("SELECT count(*) FROM token_secrets")).scalar_one()
    assert stored == acknowledged
    assert secrets == len(acknowledged)
    assert Path(f"{db}{LOCK_SUFFIX}").exists()


# --------------------------------------------------------------------------- the file lock


def test_a_writer_that_cannot_get_the_lock_in_time_is_told_the_database_is_busy(
    engine: Engine, holder: Callable[[], subprocess.Popen[str]]
) -> None:
    proc = holder()
    factory = SqlUnitOfWorkFactory(engine, write_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="busy"):
        _add_tenant(factory, "late")
    assert 0.25 < time.monotonic() - started < 3
    assert proc.stdin is not None
    proc.stdin.close()  # the holder rolls back and exits: the lock is handed over
    proc.wait(timeout=10)
    _add_tenant(factory, "on-time")
    assert _tenants(engine) == ["default", "on-time"]


def test_the_lock_of_a_killed_process_is_free_at_once(
    engine: Engine, holder: Callable[[], subprocess.Popen[str]]
) -> None:
    proc = holder()
    factory = SqlUnitOfWorkFactory(engine, write_timeout=5)
    killer = threading.Timer(0.3, proc.kill)
    killer.start()
    started = time.monotonic()
    _add_tenant(factory, "after-kill")
    waited = time.monotonic() - started
    killer.join()
    assert 0.25 < waited < 2.5
    assert _tenants(engine) == ["after-kill", "default"]


def test_a_wait_given_up_does_not_keep_the_lock_when_it_gets_it(
    db: Path, holder: Callable[[], subprocess.Popen[str]]
) -> None:
    proc = holder()
    lock = FileWriteLock(db)
    assert not lock.acquire(0.2)  # its helper thread still waits for the holder
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)
    assert lock.acquire(2.0)
    lock.release()
    other = FileWriteLock(db)  # another open file: excluded as another process would be
    assert other.acquire(0.5)
    assert not lock.acquire(0.1)
    other.release()


def test_the_lock_file_lets_in_no_one_who_may_not_write_the_database(
    db: Path, engine: Engine
) -> None:
    db.chmod(0o640)
    _add_tenant(SqlUnitOfWorkFactory(engine), "first")
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE(Path(f"{db}{LOCK_SUFFIX}").stat().st_mode)
    assert mode == 0o640 & ~umask
    assert not mode & 0o007


def test_a_symlink_in_place_of_the_lock_file_is_not_followed(
    db: Path, engine: Engine, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    Path(f"{db}{LOCK_SUFFIX}").symlink_to(target)
    _add_tenant(SqlUnitOfWorkFactory(engine), "still-written")  # SQLite alone orders writers
    assert not target.exists()
    assert _tenants(engine) == ["default", "still-written"]


def test_only_sqlite_files_have_a_lock_file(tmp_path: Path) -> None:
    def path_of(url: str) -> Path | None:
        engine = make_engine(url)
        try:
            return sqlite_file(engine)
        finally:
            engine.dispose()

    assert path_of(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert path_of("sqlite://") is None
    assert path_of("sqlite:///:memory:") is None
    assert path_of(f"sqlite:///file:{tmp_path}/a.db?mode=ro&uri=true") is None
    assert path_of("postgresql://postgres@127.0.0.1:5432/postgres") is None


# --------------------------------------------------------------------------- group commit


def _in_one_batch(
    factory: SqlUnitOfWorkFactory,
    first: Callable[[Callable[[], None]], None],
    others: list[Callable[[], None]],
) -> tuple[BaseException | None, list[BaseException | None]]:
    """Runs ``first``, which is handed a ``wait`` to call in its unit of work, so that every
    other writer queues behind it and joins its transaction. Returns what each raised."""
    writers = factory._writers
    assert writers is not None
    outcomes: dict[int, BaseException | None] = {}

    def run(n: int, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:
            outcomes[n] = exc
        else:
            outcomes[n] = None

    def wait() -> None:
        deadline = time.monotonic() + 10
        while writers._queued < len(others) and time.monotonic() < deadline:
            time.sleep(0.005)

    lead = threading.Thread(target=run, args=(0, lambda: first(wait)))
    lead.start()
    while writers._batch is None:
        time.sleep(0.001)
    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(others, 1)]
    for thread in threads:
        thread.start()
    for thread in [lead, *threads]:
        thread.join(timeout=30)
    return outcomes[0], [outcomes[n] for n in range(1, len(others) + 1)]


def test_in_a_shared_transaction_a_writer_that_fails_undoes_only_its_own_part(
    engine: Engine,
) -> None:
    factory = SqlUnitOfWorkFactory(engine)

    def first(wait: Callable[[], None]) -> None:
        with factory(write=True) as uow:
            uow.tenants.add(Tenant(name="dup", created_at=datetime.now(UTC)))
            wait()
            uow.commit()

    others: list[Callable[[], None]] = [
        (lambda n=n: _add_tenant(factory, f"t{n}")) for n in range(4)
    ]
    others += [(lambda: _add_tenant(factory, "dup")) for _ in range(4)]

    def refused() -> None:
        with factory(write=True) as uow:
            uow.tenants.add(Tenant(name="refused", created_at=datetime.now(UTC)))
            raise RuntimeError("changed its mind")

    def quiet() -> None:
        with factory(write=True):
            pass  # leaves without commit: nothing to undo

    lead, outcomes = _in_one_batch(factory, first, [*others[:4], refused, *others[4:], quiet])
    assert lead is None
    assert outcomes[:4] == [None] * 4
    assert isinstance(outcomes[4], RuntimeError)
    assert all(isinstance(o, Conflict) for o in outcomes[5:9])
    assert outcomes[9] is None
    assert _tenants(engine) == ["default", "dup", "t0", "t1", "t2", "t3"]


def test_a_shared_transaction_that_fails_fails_every_writer_in_it(engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(engine)

    def first(wait: Callable[[], None]) -> None:
        with factory(write=True) as uow:
            uow.tenants.add(Tenant(name="lost", created_at=datetime.now(UTC)))
            wait()
            uow.commit()

    def wrecker() -> None:
        with factory(write=True) as uow:
            uow.tokens._conn.exec_driver_sql("ROLLBACK")  # the whole transaction is gone
            uow.commit()

    lead, (wrecked,) = _in_one_batch(factory, first, [wrecker])
    assert isinstance(lead, Unavailable)
    assert isinstance(wrecked, Unavailable)
    assert _tenants(engine) == ["default"]
    _add_tenant(factory, "next")
    assert _tenants(engine) == ["default", "next"]


def test_writers_that_time_out_while_others_hand_on_leave_nothing_stuck(engine: Engine) -> None:
    """Timeouts short enough to fall between a hand-on and the next writer's turn."""
    factory = SqlUnitOfWorkFactory(engine, write_timeout=0.002)
    stored: list[str] = []
    start = threading.Barrier(16)

    def run(n: int) -> None:
        start.wait()
        for i in range(30):
            try:
                _add_tenant(factory, f"w{n}-{i}")
            except Unavailable:
                continue
            stored.append(f"w{n}-{i}")

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert stored
    assert _tenants(engine) == sorted(["default", *stored])
    assert factory._writers is not None and factory._writers._batch is None
    _add_tenant(SqlUnitOfWorkFactory(engine, write_timeout=1), "after")
