"""Bulk seeding of the ``tokens`` and ``token_secrets`` tables, straight into the store.

The schema is made by tokenward's own migrations; rows are written with the driver's bulk
paths (one ``executemany`` transaction on SQLite, ``COPY`` on PostgreSQL), so 1M tokens take
seconds, not the hours that 1M service calls would.

Secrets are well-formed tokenward secrets (prefix, 28 base62 characters, CRC32 checksum) made
from ``os.urandom`` by a fast local generator; ``is_well_formed`` checks a sample of them.
Their hashes are SHA-256 hex, as the service stores them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sqlite3
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tokenward.domain import secrets as secret_format

ALPHABET = secret_format.ALPHABET
_TABLE = bytes(ord(ALPHABET[b % 62]) for b in range(256))
_NOW_MS = int(time.time() * 1000)
_YEAR_MS = 365 * 86400 * 1000

_SERVICES = [
    "billing", "search", "ingest", "reports", "payments", "ci", "deploy", "backup",
    "metrics", "gateway", "mailer", "sync", "export", "import", "webhook", "scheduler",
]  # fmt: skip
_ENVS = ["prod", "staging", "dev", "test", "eu", "us", "ap"]
_TYPES = ["global"] * 2 + ["user"] * 5 + ["team"] * 2 + ["workflow"] + ["session"]
_ROLES = ["viewer"] * 6 + ["editor"] * 3 + ["admin"]
_SCOPES = ["read", "write", "invoices:read", "invoices:write", "deploy", "admin:users"]
_AUDIENCES = ["billing", "search", "ingest", "gateway", "tokenward"]

TOKEN_COLUMNS = (
    "id", "tenant", "name", "description", "type", "principal", "owner", "user", "role",
    "scopes", "audience", "resources", "restricted", "active", "expires_at", "created_at",
    "updated_at", "last_used_at", "secret_hash", "secret_hint", "sealed_secret", "metadata",
)  # fmt: skip


@dataclass
class Seeded:
    """Secrets kept for verification (a sample of the seeded ones), with their token ids."""

    count: int
    kept: list[tuple[int, str]]
    seconds: float


def fast_secrets(n: int, prefix: str = "tw") -> list[str]:
    """``n`` well-formed secrets; 28 random base62 characters each (a slight modulo bias is
    irrelevant here: these are benchmark data, not credentials)."""
    raw = os.urandom(28 * n).translate(_TABLE).decode("ascii")
    out = []
    for i in range(n):
        head = f"{prefix}_{raw[i * 28 : (i + 1) * 28]}"
        out.append(head + _checksum(zlib.crc32(head.encode("ascii"))))
    return out


def _checksum(value: int) -> str:
    chars = []
    for _ in range(secret_format.CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _rows(
    start_id: int, count: int, tenant: str, rng: random.Random, keep_every: int
) -> Iterator[tuple[tuple[Any, ...], tuple[str, int], str | None]]:
    secrets = fast_secrets(count)
    for s in secrets[:: max(1, count // 50)]:
        assert secret_format.is_well_formed(s), s
    scope_sets = [json.dumps(rng.sample(_SCOPES, rng.randrange(4))) for _ in range(64)]
    audience_sets = [json.dumps(rng.sample(_AUDIENCES, rng.randrange(3))) for _ in range(32)]
    kinds = rng.choices(_TYPES, k=count)
    services = rng.choices(_SERVICES, k=count)
    envs = rng.choices(_ENVS, k=count)
    roles = rng.choices(_ROLES, k=count)
    scopes = rng.choices(scope_sets, k=count)
    audiences = rng.choices(audience_sets, k=count)
    rand = rng.random
    randrange = rng.randrange
    sha256 = hashlib.sha256
    hint = secret_format.hint
    for i, secret in enumerate(secrets):
        token_id = start_id + i
        kind = kinds[i]
        service = services[i]
        user_n = randrange(5000)
        if kind == "global":
            principal = None
        elif kind == "user":
            principal = f"user-{user_n}"
        elif kind == "team":
            principal = f"team-{user_n % 300}"
        elif kind == "workflow":
            principal = f"wf-{randrange(2000)}"
        else:
            principal = f"sess-{randrange(10**9)}"
        owner = f"user-{user_n % 200}"
        created = _NOW_MS - randrange(2 * _YEAR_MS)
        expires = None if rand() < 0.6 else created + randrange(1, 3 * _YEAR_MS)
        secret_hash = sha256(secret.encode()).hexdigest()
        row = (
            token_id,
            tenant,
            f"{service}-{envs[i]}-{randrange(100000):05d}",
            f"{service} token for {principal or 'everyone'}",
            kind,
            principal,
            owner,
            f"user-{user_n}" if kind == "user" else owner,
            roles[i],
            scopes[i],
            audiences[i],
            "[]",
            False,
            rand() > 0.05,
            expires,
            created,
            created + randrange(86400 * 1000),
            None if rand() < 0.3 else created + randrange(_YEAR_MS),
            secret_hash,
            hint(secret),
            None,
            "{}",
        )
        yield row, (secret_hash, token_id), (secret if i % keep_every == 0 else None)


def seed_sqlite(
    path: str, start_id: int, count: int, *, tenant: str = "default", keep: int = 100_000
) -> Seeded:
    """Appends ``count`` tokens with ids from ``start_id`` to a migrated SQLite database."""
    t0 = time.perf_counter()
    keep_every = max(1, count // keep)
    rng = random.Random(start_id)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        kept: list[tuple[int, str]] = []
        token_rows: list[tuple[Any, ...]] = []
        secret_rows: list[tuple[str, int]] = []
        for row, secret_row, secret in _rows(start_id, count, tenant, rng, keep_every):
            token_rows.append(row)
            secret_rows.append(secret_row)
            if secret is not None:
                kept.append((row[0], secret))
        secret_rows.sort()
        conn.execute("BEGIN")
        # Secondary indexes are rebuilt after a big load (a sort) instead of grown row by row.
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('tokens', 'token_secrets')"
        ).fetchall()
        if count >= 100_000:
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
        _sqlite_flush(conn, token_rows, secret_rows)
        if count >= 100_000:
            for _, sql in indexes:
                conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return Seeded(count, kept, time.perf_counter() - t0)


def _sqlite_flush(
    conn: sqlite3.Connection, token_rows: list[tuple[Any, ...]], secret_rows: list[tuple[str, int]]
) -> None:
    cols = ", ".join(f'"{c}"' for c in TOKEN_COLUMNS)
    marks = ", ".join("?" * len(TOKEN_COLUMNS))
    conn.executemany(f"INSERT INTO tokens ({cols}) VALUES ({marks})", token_rows)
    conn.executemany(
        "INSERT INTO token_secrets (secret_hash, token_id, retires_at) VALUES (?, ?, NULL)",
        secret_rows,
    )
    token_rows.clear()
    secret_rows.clear()


def seed_postgres(
    dsn: str, start_id: int, count: int, *, tenant: str = "default", keep: int = 100_000
) -> Seeded:
    """Appends ``count`` tokens to a migrated PostgreSQL database with ``COPY``."""
    import psycopg

    t0 = time.perf_counter()
    keep_every = max(1, count // keep)
    rng = random.Random(start_id)
    kept: list[tuple[int, str]] = []
    cols = ", ".join(f'"{c}"' for c in TOKEN_COLUMNS)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        tok_buf = io.StringIO()
        sec_buf = io.StringIO()
        for row, (secret_hash, token_id), secret in _rows(start_id, count, tenant, rng, keep_every):
            tok_buf.write("\t".join(_pg_text(v) for v in row) + "\n")
            sec_buf.write(f"{secret_hash}\t{token_id}\t\\N\n")
            if secret is not None:
                kept.append((token_id, secret))
        with cur.copy(f"COPY tokens ({cols}) FROM STDIN") as copy:
            copy.write(tok_buf.getvalue())
        with cur.copy("COPY token_secrets (secret_hash, token_id, retires_at) FROM STDIN") as copy:
            copy.write(sec_buf.getvalue())
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('tokens', 'id'), (SELECT max(id) FROM tokens))"
        )
        conn.commit()
    # As an operator would after a bulk load, and so that autovacuum and the checkpointer do
    # not compete with the measurements for the two cores in the minutes that follow.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) tokens")
        conn.execute("VACUUM (ANALYZE) token_secrets")
        conn.execute("CHECKPOINT")
    return Seeded(count, kept, time.perf_counter() - t0)


def _pg_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
