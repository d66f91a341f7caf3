"""A real PostgreSQL primary and a streaming replica of it, started by the suite in a
temporary directory on their own ports (``initdb``, ``pg_basebackup -R``), whatever the
system's own cluster is configured to do. ``make test-long`` runs the suite; ``make test``
leaves it out altogether (deselected, not skipped): starting two clusters is not a unit test.

PostgreSQL's server binaries refuse to run as root: as root (CI, this machine), they run as
the ``postgres`` OS user, in a directory it owns.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.helpers import free_port

_HERE = Path(__file__).parent
_RUN_AS = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TOKENWARD_TEST_LONG", "") == "1":
        return
    deselected = [item for item in items if item.path.is_relative_to(_HERE)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


def _bin_dir() -> Path:
    """The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not found:
        pytest.fail("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin", pytrace=False)

    def major(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    return max(found, key=major)


@dataclass
class Cluster:
    """One PostgreSQL server of the pair."""

    name: str
    bin: Path
    data: Path
    port: int

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*_RUN_AS, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def start(self) -> None:
        log = str(self.data.parent / f"{self.name}.log")
        self.run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def engine(self, database: str = "postgres") -> Engine:
        return create_engine(self.url(database), isolation_level="AUTOCOMMIT")


@dataclass
class Pair:
    primary: Cluster
    replica: Cluster

    def sql(self, cluster: Cluster, statement: str, database: str = "tokenward") -> object:
        engine = cluster.engine(database)
        try:
            with engine.connect() as conn:
                result = conn.execute(text(statement))
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()

    def pause(self) -> None:
        self.sql(self.replica, "SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + 10
        state = "SELECT pg_get_wal_replay_pause_state()"
        while self.sql(self.replica, state) != "paused":
            assert time.monotonic() < deadline, "replay did not pause"
            time.sleep(0.05)

    def resume(self) -> None:
        self.sql(self.replica, "SELECT pg_wal_replay_resume()")
        self.wait_replayed()

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary had written when asked."""
        target = self.sql(self.primary, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        deadline = time.monotonic() + timeout
        replayed = "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn"
        while (self.sql(self.replica, replayed) or 0) < target:  # type: ignore[operator]
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)


def _configure(data: Path, port: int, sockets: Path) -> None:
    settings = f"""
port = {port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{sockets}'
max_connections = 100
shared_buffers = 32MB
wal_level = replica
max_wal_senders = 5
hot_standby = on
fsync = off
log_min_messages = warning
"""
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(settings)


@pytest.fixture(scope="package")
def pair() -> Iterator[Pair]:
    """The primary (with a ``tokenward`` database) and its streaming replica, running."""
    root = Path(tempfile.mkdtemp(prefix="tokenward-replica-"))
    if _RUN_AS:
        shutil.chown(root, "postgres", "postgres")
    bin_dir = _bin_dir()
    primary = Cluster("primary", bin_dir, root / "primary", free_port())
    replica = Cluster("replica", bin_dir, root / "replica", free_port())
    started: list[Cluster] = []
    try:
        primary.run(
            "initdb", "-D", str(primary.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        _configure(primary.data, primary.port, root)
        primary.start()
        started.append(primary)
        admin = primary.engine()
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE tokenward"))
        admin.dispose()
        # A fast checkpoint: the default spreads it over minutes after CREATE DATABASE.
        primary.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        _configure(replica.data, replica.port, root)
        replica.start()
        started.append(replica)
        pair = Pair(primary, replica)
        assert pair.sql(replica, "SELECT pg_is_in_recovery()") is True
        yield pair
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"{exc.cmd}: {exc.stderr.decode(errors='replace')}") from exc
    finally:
        for cluster in reversed(started):
            with contextlib.suppress(Exception):
                cluster.run("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
