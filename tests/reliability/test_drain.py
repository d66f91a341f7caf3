"""Drain on ``SIGTERM``: a real ``tokenward serve`` with two workers first says 503 on
``/readyz`` while it still serves, finishes a request it had begun, writes its last-use
buffer, and exits."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT_HEADERS
from tests.reliability.server import Server

DRAIN_SECONDS = 3.0
TOKENS = "/v1/tenants/default/tokens"


def _begin_request(port: int, body: bytes) -> socket.socket:
    """A verification whose headers and first half of body are sent: in flight until the rest."""
    head = (
        "POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall(head + body[: len(body) // 2])
    return conn


def _finish_request(conn: socket.socket, body: bytes) -> bytes:
    conn.sendall(body[len(body) // 2 :])
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    conn.close()
    return answer


def test_sigterm_drains_then_finishes_flushes_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENWARD_DRAIN_SECONDS", str(DRAIN_SECONDS))
    # Written only by the shutdown: the periodic flush would not come in this test's time.
    monkeypatch.setenv("TOKENWARD_LAST_USE_FLUSH_SECONDS", "3600")
    database_url = f"sqlite:///{tmp_path / 'tokenward.db'}"
    server = Server(tmp_path / "data", database_url, extra=["--workers", "2"])
    try:
        created = httpx.post(f"{server.url}{TOKENS}", headers=ROOT_HEADERS, json={"name": "d"})
        assert created.status_code == 201, created.text
        token_id, secret = created.json()["id"], created.json()["secret"]
        body = json.dumps({"token": secret}).encode()
        for _ in range(4):  # new connections: both workers are likely to see one
            assert httpx.post(f"{server.url}/v1/verify", json={"token": secret}).json()["valid"]
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        in_flight = _begin_request(server.port, body)

        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        while httpx.get(f"{server.url}/readyz", timeout=5).status_code != 503:
            assert time.monotonic() - started < DRAIN_SECONDS, "never answered 503"
            time.sleep(0.05)
        not_ready = httpx.get(f"{server.url}/readyz", timeout=5)
        assert not_ready.json()["error"]["code"] == "NOT_READY"
        # Still serving while the load balancer takes it out of rotation.
        during = httpx.post(f"{server.url}/v1/verify", json={"token": secret}, timeout=5)
        assert during.status_code == 200 and during.json()["valid"]
        assert server.process.poll() is None

        time.sleep(DRAIN_SECONDS + 0.5)  # the drain is over: the request begun is finished
        answer = _finish_request(in_flight, body)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b'"valid":true' in answer
        server.process.wait(timeout=30)
        assert time.monotonic() - started >= DRAIN_SECONDS
        assert "draining" in server.output()
    finally:
        server.kill()

    again = Server(tmp_path / "data", database_url)
    try:
        found = httpx.get(f"{again.url}{TOKENS}/{token_id}", headers=ROOT_HEADERS)
        assert found.status_code == 200
        assert found.json()["last_used_at"] is not None, "the shutdown did not write last use"
    finally:
        again.stop()
