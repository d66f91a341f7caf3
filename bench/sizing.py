"""The sizing figures of docs/deploy.md (issue 21, section 1), for one server of the topology:
``tokenward serve --workers 2`` on a PostgreSQL store of 1M tokens, with Redis.

- PostgreSQL connections per worker: ``pg_stat_activity`` for the store's database, idle and
  under a verification load (each worker's pool, its hot-path lookups and its ``LISTEN``);
- memory per worker: resident size after verifying over 100,000 distinct tokens of the 1M
  (which fills each worker's cache to its default size);
- verifications per core: requests answered per second of CPU that the server's workers
  used (from ``/proc``), for a cached valid token and for that 100,000-token spread (cache
  misses, which also cost PostgreSQL's backends the CPU reported beside it). Per CPU second
  rather than per wall second, because wrk, PostgreSQL and other work share the 2 cores.

Run: ``.venv/bin/python bench/sizing.py`` (the seeding takes 1 to 7 minutes, the rest under
one; PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379). It prints the figures;
docs/deploy.md records them. ``BENCH_SIZING_URL`` reuses a store that it seeded before (with
its secrets' files in bench/.work) instead of seeding one.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import psycopg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import (  # noqa: E402
    WORK,
    fmt_http,
    migrate,
    postgres_database,
    rss_kb,
    tokenward_server,
    wrk,
)
from seed import seed_postgres  # noqa: E402

REDIS_URL = os.environ.get("TOKENWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKENS = 1_000_000
SPREAD = 100_000
#: Each wrk run; longer on a loaded machine, so that the spread fills the workers' caches.
SECONDS = int(os.environ.get("BENCH_SIZING_SECONDS", "10"))


def cpu_seconds(pids: list[int]) -> float:
    """User and system time of these processes so far (those that ended count nothing)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def backends(watch: psycopg.Connection[tuple[int]]) -> list[int]:
    """PostgreSQL's processes serving the store's database, ``watch`` excluded (one connection
    for the whole run: a shared server may have no slot left for a new one)."""
    rows = watch.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    return [int(row[0]) for row in rows]


def measured(
    server_url: str,
    watch: psycopg.Connection[tuple[int]],
    workers: list[int],
    secrets_file: Path,
    label: str,
) -> tuple[str, float, float, int]:
    """One wrk run: its figures, verifications per worker CPU second, PostgreSQL's CPU share
    of the workers', and the database connections at its end."""
    database = backends(watch)
    before, pg_before = cpu_seconds(workers), cpu_seconds(database)
    result = wrk(server_url, "verify.lua", SECONDS, env={"BENCH_SECRETS": str(secrets_file)})
    connections = len(backends(watch))
    used = cpu_seconds(workers) - before
    pg_used = cpu_seconds(backends(watch)) - pg_before
    requests = result["rps"] * SECONDS
    print(f"{label}: {fmt_http(result)}; workers used {used:.1f} CPU s, PostgreSQL {pg_used:.1f}")
    return fmt_http(result), requests / used, pg_used / used, connections


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    spread, one = WORK / "sizing_spread.txt", WORK / "sizing_one.txt"
    reused = os.environ.get("BENCH_SIZING_URL")  # a store this script seeded before, kept
    with contextlib.ExitStack() as stack:
        if reused:
            url = reused
        else:
            url = stack.enter_context(postgres_database())
            migrate(url)
            seeded = seed_postgres(url, 1, TOKENS, keep=SPREAD)
            print(f"seeded {TOKENS:,} tokens in {seeded.seconds:.1f} s")
            spread.write_text("".join(f"{secret}\n" for _, secret in seeded.kept[:SPREAD]))
            one.write_text(f"{seeded.kept[0][1]}\n")
        data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        watch: psycopg.Connection[tuple[int]] = stack.enter_context(
            psycopg.connect(url, autocommit=True)
        )
        server = tokenward_server(
            "sizing",
            {
                "TOKENWARD_DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg://"),
                "TOKENWARD_DATA_DIR": data_dir,
                "TOKENWARD_REDIS_URL": REDIS_URL,
                "TOKENWARD_REDIS_PREFIX": f"tokenward-sizing-{os.getpid()}:",
            },
        )
        with server:
            time.sleep(2)
            workers = server.workers()
            idle_connections = len(backends(watch))
            idle_rss = [rss_kb(pid) / 1024 for pid in workers]
            hit = measured(server.url, watch, workers, one, "one cached token")
            miss = measured(server.url, watch, workers, spread, f"{SPREAD:,} distinct tokens")
            rss = [rss_kb(pid) / 1024 for pid in workers]
        print(
            f"\nworkers: {len(workers)}"
            f"\nPostgreSQL connections: idle {idle_connections}, under load {miss[3]}"
            f" ({miss[3] / len(workers):.1f} per worker)"
            f"\nRSS per worker: idle {', '.join(f'{v:.0f} MB' for v in idle_rss)};"
            f" after {SPREAD:,} distinct tokens of {TOKENS:,}:"
            f" {', '.join(f'{v:.0f} MB' for v in rss)}"
            f"\nverifications per worker CPU second: cached {hit[1]:,.0f};"
            f" {SPREAD:,} distinct (misses then hits) {miss[1]:,.0f},"
            f" PostgreSQL using {miss[2]:.2f} s of CPU per worker CPU second"
        )


if __name__ == "__main__":
    main()
