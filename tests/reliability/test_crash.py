"""Crash safety: ``kill -9`` a real ``tokenward serve`` under load, restart it, and check that
every acknowledged write survived (SQLite file, then PostgreSQL).

Client threads create tokens and rotate, disable and delete them while the server is killed
at several points of the load. Every 2xx answer is recorded. After each restart on the same
data directory and database:

- every acknowledged create exists and its latest acknowledged secret verifies (unless it was
  disabled or deleted): otherwise it is *lost*;
- every acknowledged disable and delete is still in force: otherwise it is *resurrected*;
- an operation that was in flight at the kill may have applied or not; the token is then
  observed, and held to what was observed from then on;
- the database is consistent: ``PRAGMA integrity_check`` and ``foreign_key_check`` on SQLite,
  and on both backends every token has exactly one current secret, its own.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tests.fuzz.bounds import LONG
from tests.helpers import ROOT_HEADERS
from tests.reliability.server import Server
from tokenward.store.engine import make_engine

KILL_POINTS = [0.2, 0.5, 0.8, 1.2, 1.5, 2.0, 3.0] if LONG else [0.3, 0.8, 1.5]
THREADS = 4
TOKENS = "/v1/tenants/default/tokens"


@dataclass
class Tracked:
    id: int
    secret: str | None  # the latest acknowledged secret; None once unknown
    disabled: bool = False
    deleted: bool = False
    pending: str | None = None  # an operation sent but not answered when the server died
    frozen: bool = False  # no further operations (disabled, or its state was only observed)


class Load:
    def __init__(self, url: str, tokens: list[Tracked]) -> None:
        self.url = url
        self.tokens = tokens
        self.lock = threading.Lock()
        self.acknowledged = 0
        self.failures: list[str] = []  # answers that were neither 2xx nor a dead connection

    def _pick(self, rng: random.Random) -> Tracked | None:
        with self.lock:
            live = [t for t in self.tokens if not (t.deleted or t.frozen or t.pending)]
            if not live:
                return None
            token = rng.choice(live)
            token.pending = "claimed"
            return token

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, headers=ROOT_HEADERS, timeout=10) as http:
            while True:
                op = rng.choice(["create", "create", "rotate", "disable", "delete"])
                token = None if op == "create" else self._pick(rng)
                if token is None:
                    op = "create"
                try:
                    self._do(http, op, token)
                except httpx.TransportError:
                    if token is not None:
                        token.pending = op
                    return
                except AssertionError as exc:
                    self.failures.append(f"{op}: {exc}")
                    return

    def _do(self, http: httpx.Client, op: str, token: Tracked | None) -> None:
        if token is None:
            answer = http.post(TOKENS, json={"name": "crash"})
            assert answer.status_code == 201, answer.text
            body = answer.json()
            with self.lock:
                self.tokens.append(Tracked(body["id"], body["secret"]))
                self.acknowledged += 1
            return
        path = f"{TOKENS}/{token.id}"
        if op == "rotate":
            answer = http.post(f"{path}/rotate", json={"grace_seconds": 0})
            assert answer.status_code == 200, answer.text
            token.secret = answer.json()["secret"]
        elif op == "disable":
            answer = http.post(f"{path}/disable")
            assert answer.status_code == 200, answer.text
            token.disabled = token.frozen = True
        else:
            answer = http.delete(path)
            assert answer.status_code == 204, answer.text
            token.deleted = True
        with self.lock:
            token.pending = None
            self.acknowledged += 1


def _verify(http: httpx.Client, secret: str) -> dict[str, Any]:
    answer = http.post("/v1/verify", json={"token": secret})
    assert answer.status_code == 200, answer.text
    verdict: dict[str, Any] = answer.json()
    return verdict


def _check(http: httpx.Client, tokens: list[Tracked]) -> tuple[int, int]:
    """Returns (lost, resurrected); resolves tokens whose last operation went unanswered."""
    lost = resurrected = 0
    for token in tokens:
        found = http.get(f"{TOKENS}/{token.id}")
        assert found.status_code in (200, 404), found.text
        exists = found.status_code == 200
        verdict = _verify(http, token.secret) if token.secret else None
        if token.pending in ("rotate", "disable", "delete"):
            # In flight at the kill: either outcome is right; hold the token to what is seen.
            if token.pending == "delete" and not exists:
                token.deleted = True
            elif not exists:
                lost += 1
            else:
                token.disabled = not found.json()["active"]
                if verdict is not None and verdict["code"] == "NOT_FOUND":
                    token.secret = None  # the rotation applied; its secret was never answered
            token.pending, token.frozen = None, True
            continue
        token.pending = None  # "claimed" but never sent
        if token.deleted:
            if exists or (verdict is not None and verdict["code"] != "NOT_FOUND"):
                resurrected += 1
        elif not exists:
            lost += 1
        elif token.disabled:
            if found.json()["active"] or (verdict is not None and verdict["valid"]):
                resurrected += 1
        elif verdict is not None and not verdict["valid"]:
            lost += 1
    return lost, resurrected


def _consistent(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.close()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            wrong = conn.execute(
                text(
                    "SELECT t.id FROM tokens t LEFT JOIN token_secrets s"
                    " ON s.token_id = t.id AND s.retires_at IS NULL"
                    " GROUP BY t.id, t.secret_hash"
                    " HAVING COUNT(s.secret_hash) != 1"
                    " OR MAX(s.secret_hash) != t.secret_hash"
                )
            ).fetchall()
            orphans = conn.execute(
                text(
                    "SELECT COUNT(*) FROM token_secrets s"
                    " WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = s.token_id)"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert wrong == [], f"tokens without exactly one current secret: {wrong}"
    assert orphans == 0


def test_kill_9_under_load_loses_and_resurrects_nothing(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    tokens: list[Tracked] = []
    acknowledged = lost = resurrected = 0
    server: Server | None = None
    try:
        for round_no, kill_after in enumerate(KILL_POINTS):
            server = Server(data_dir, database_url)
            load = Load(server.url, tokens)
            threads = [
                threading.Thread(target=load.run, args=(round_no * 100 + n,), daemon=True)
                for n in range(THREADS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(kill_after)
            server.kill()
            for thread in threads:
                thread.join(timeout=15)
                assert not thread.is_alive(), "a load thread outlived the server"
            assert not load.failures, load.failures
            assert load.acknowledged > 0, "the kill came before any write was answered"
            acknowledged += load.acknowledged
            _consistent(database_url)
            server = Server(data_dir, database_url)
            with httpx.Client(base_url=server.url, headers=ROOT_HEADERS, timeout=10) as http:
                round_lost, round_resurrected = _check(http, tokens)
            lost += round_lost
            resurrected += round_resurrected
            server.stop()
            server = None
        _consistent(database_url)
    finally:
        if server is not None:
            server.kill()
    print(
        f"\ncrash safety ({backend}): kill points {KILL_POINTS} s, {THREADS} client threads: "
        f"acknowledged {acknowledged}, lost {lost}, resurrected {resurrected}"
    )
    assert (lost, resurrected) == (0, 0)
    assert len(tokens) > 0 and any(t.deleted for t in tokens) and any(t.disabled for t in tokens)
