"""Concurrent writes from several OS processes through two ``tokenward serve`` processes on
one database (SQLite file, then PostgreSQL).

Client processes (multiprocessing) send renames, enables, disables and rotations of one token,
and creates in one tenant, alternating between the two servers. Every answer is recorded with
its start and end on the machine-wide monotonic clock, so the checks can use real-time order:
a write that began after another was acknowledged must be applied after it. Hence the final
state must be that of an acknowledged write that no other acknowledged write of the same field
strictly followed.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fuzz.bounds import scaled
from tests.helpers import ROOT_HEADERS
from tests.reliability.server import Server

CLIENTS = 4
UPDATES_PER_CLIENT = scaled(25, 150)
CREATES_PER_CLIENT = scaled(25, 150)
TOKENS = "/v1/tenants/default/tokens"


@dataclass(frozen=True)
class Answer:
    op: str
    value: Any
    status: int
    started: float
    ended: float
    body: dict[str, Any]


def _update_worker(args: tuple[int, list[str], int, int]) -> list[Answer]:
    client_no, urls, token_id, count = args
    answers = []
    with httpx.Client(headers=ROOT_HEADERS, timeout=30) as http:
        for i in range(count):
            url = f"{urls[i % len(urls)]}{TOKENS}/{token_id}"
            op = ["rename", "enable", "disable", "rotate"][(i + client_no) % 4]
            value: Any = None
            started = time.monotonic()
            if op == "rename":
                value = f"w{client_no}-{i}"
                response = http.patch(url, json={"name": value})
            elif op == "rotate":
                response = http.post(f"{url}/rotate", json={"grace_seconds": 0})
            else:
                value = op == "enable"
                response = http.post(f"{url}/{op}")
            ended = time.monotonic()
            body = response.json() if response.content else {}
            if op == "rotate" and response.status_code == 200:
                value = body["secret"]
            answers.append(Answer(op, value, response.status_code, started, ended, body))
    return answers


def _create_worker(args: tuple[int, list[str], int]) -> list[Answer]:
    client_no, urls, count = args
    answers = []
    with httpx.Client(headers=ROOT_HEADERS, timeout=30) as http:
        for i in range(count):
            name = f"c{client_no}-{i}"
            started = time.monotonic()
            response = http.post(f"{urls[i % len(urls)]}{TOKENS}", json={"name": name})
            ended = time.monotonic()
            body = response.json() if response.content else {}
            answers.append(Answer("create", name, response.status_code, started, ended, body))
    return answers


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        for n in range(2):
            started.append(Server(tmp_path / f"data{n}", database_url))
        yield started
    finally:
        for server in started:
            server.stop()


def _run(worker: Any, jobs: list[Any]) -> list[Answer]:
    context = multiprocessing.get_context("fork")
    with context.Pool(len(jobs)) as pool:
        results = pool.map(worker, jobs, chunksize=1)
    return [answer for answers in results for answer in answers]


def _last_candidates(acknowledged: list[Answer]) -> list[Answer]:
    """Writes that no other acknowledged write began after: one of them must have won."""
    return [a for a in acknowledged if not any(b.started > a.ended for b in acknowledged)]


def test_concurrent_updates_of_one_token(servers: list[Server]) -> None:
    urls = [server.url for server in servers]
    with httpx.Client(headers=ROOT_HEADERS, timeout=30) as http:
        # Every rotated-out secret is verified again below: reuse detection reports them
        # (audited) instead of disabling the token whose state this test follows.
        policy = http.put(f"{urls[0]}/v1/tenants/default/policy", json={"on_reuse": "notify"})
        assert policy.status_code == 200, policy.text
        created = http.post(f"{urls[0]}{TOKENS}", json={"name": "contended"})
        assert created.status_code == 201, created.text
        token = created.json()
        answers = _run(
            _update_worker, [(n, urls, token["id"], UPDATES_PER_CLIENT) for n in range(CLIENTS)]
        )
        assert len(answers) == CLIENTS * UPDATES_PER_CLIENT
        errors = [a for a in answers if a.status >= 500]
        assert not errors, errors[:5]
        refused = [a for a in answers if a.status != 200]
        assert not refused, refused[:5]  # nothing here is a conflict: every write applies

        renames = [a for a in answers if a.op == "rename"]
        switches = [a for a in answers if a.op in ("enable", "disable")]
        rotations = [a for a in answers if a.op == "rotate"]
        for rename in renames:
            assert rename.body["name"] == rename.value
        for switch in switches:
            assert switch.body["active"] is switch.value

        time.sleep(0.5)  # past the other process's cache-sync interval (0.05 s)
        final = http.get(f"{urls[1]}{TOKENS}/{token['id']}").json()
        assert final["name"] in {a.value for a in _last_candidates(renames)}, final["name"]
        assert final["active"] in {a.value for a in _last_candidates(switches)}

        secrets = [a.value for a in rotations]
        assert len(set(secrets)) == len(secrets), "a rotation answered a secret twice"
        current = []
        for secret in [token["secret"], *secrets]:
            for url in urls:
                verdict = http.post(f"{url}/v1/verify", json={"token": secret}).json()
                if verdict["code"] != "NOT_FOUND":
                    assert verdict["valid"] is final["active"], verdict
                    current.append(secret)
        # Exactly one secret is current (seen by both servers), one a last rotation answered.
        assert len(current) == 2 and current[0] == current[1], current
        assert current[0] in {a.value for a in _last_candidates(rotations)}
        # The servers report what those verifications queued within half a second: once
        # they have, the two counts below are of the same records.
        time.sleep(1.5)
        audit = http.get(f"{urls[0]}/v1/audit", params={"token_id": token["id"], "limit": 1})
        reuses = http.get(
            f"{urls[0]}/v1/audit",
            params={"token_id": token["id"], "action": "token.reuse_detected", "limit": 1},
        )
        # One audit record per acknowledged change (enable/disable are idempotent but audited).
        assert audit.json()["total"] - reuses.json()["total"] == 1 + len(answers), audit.text
    print(
        f"\nconcurrent updates: {CLIENTS} client processes x {UPDATES_PER_CLIENT}, "
        f"2 server processes: {len(renames)} renames, {len(switches)} enable/disable, "
        f"{len(rotations)} rotations acknowledged, 0 5xx"
    )


def test_concurrent_creates_in_one_tenant(servers: list[Server]) -> None:
    urls = [server.url for server in servers]
    answers = _run(_create_worker, [(n, urls, CREATES_PER_CLIENT) for n in range(CLIENTS)])
    assert not [a for a in answers if a.status != 201], [a for a in answers if a.status != 201][:5]
    ids = [a.body["id"] for a in answers]
    assert len(set(ids)) == len(ids) == CLIENTS * CREATES_PER_CLIENT, "duplicate ids"
    assert len({a.body["secret"] for a in answers}) == len(ids)
    with httpx.Client(headers=ROOT_HEADERS, timeout=30) as http:
        listed = http.get(f"{urls[1]}{TOKENS}", params={"limit": 1000}).json()
        assert listed["total"] == len(ids)
        assert {t["id"]: t["name"] for t in listed["items"]} == {
            a.body["id"]: a.value for a in answers
        }
        for answer in answers[:: max(1, len(answers) // 40)]:
            verdict = http.post(f"{urls[0]}/v1/verify", json={"token": answer.body["secret"]})
            assert verdict.json()["valid"] is True
    print(f"\nconcurrent creates: {CLIENTS} processes x {CREATES_PER_CLIENT}, ids unique")
