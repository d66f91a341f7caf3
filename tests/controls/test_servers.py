"""The guarantees of the controls against real ``tokenward serve`` processes: credits never
over-spent across workers and servers, rate limits shared through Redis, and a Redis that
dies mid-load."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import test_serve
from tests.helpers import free_port

ADMIN = "controls-test-root-credential-0123456789"
ROOT = {"Authorization": f"Bearer {ADMIN}"}
REDIS = "redis://127.0.0.1:6379/0"


class Server(test_serve.Server):
    """Given longer to start: on a loaded machine two workers took half a minute."""

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server did not become healthy:\n{self.output()}")


def _servers(tmp_path: Path, count: int, workers: int, env: dict[str, str]) -> list[Server]:
    return [
        Server(tmp_path / f"data{i}", {"TOKENWARD_ADMIN_TOKEN": ADMIN, **env}, workers=workers)
        for i in range(count)
    ]


@pytest.fixture
def prefix() -> str:
    """Keys of this test's own in the shared Redis."""
    return f"tokenward-test-{uuid.uuid4().hex[:12]}:"


def _token(server: Server, tenant: str, **fields: Any) -> dict[str, Any]:
    with httpx.Client(base_url=server.url, headers=ROOT, timeout=10) as http:
        if tenant != "default":
            http.post("/v1/tenants", json={"name": tenant})
        created = http.post(f"/v1/tenants/{tenant}/tokens", json={"name": "load", **fields})
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body


def _hammer(servers: list[Server], secret: str, total: int, clients: int = 16) -> Counter[str]:
    """``total`` verifications from ``clients`` concurrent clients, spread over the servers."""

    def one(index: int) -> list[str]:
        codes = []
        with httpx.Client(timeout=30) as http:
            for n in range(index, total, clients):
                url = servers[n % len(servers)].url
                answer = http.post(f"{url}/v1/verify", json={"token": secret})
                assert answer.status_code == 200, answer.text
                codes.append(answer.json()["code"])
        return codes

    with ThreadPoolExecutor(clients) as pool:
        return Counter(code for codes in pool.map(one, range(clients)) for code in codes)


def _stop(servers: list[Server]) -> None:
    for server in servers:
        server.stop()


# 16 concurrent clients against 300 credits: the race is there at this size as at ten times
# it (each verification is its own spend), in a fraction of the time.
CREDITS = 300


def test_credits_are_never_over_spent_by_two_workers(tmp_path: Path) -> None:
    [server] = _servers(tmp_path, 1, 2, {})
    try:
        token = _token(server, "default", credits={"remaining": CREDITS})
        codes = _hammer([server], token["secret"], CREDITS + 100)
        assert codes == Counter({"VALID": CREDITS, "USAGE_EXCEEDED": 100})
        with httpx.Client(base_url=server.url, headers=ROOT) as http:
            got = http.get(f"/v1/tenants/default/tokens/{token['id']}").json()
        assert got["credits"]["remaining"] == 0
    finally:
        _stop([server])


def test_credits_are_never_over_spent_by_two_servers_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    servers = _servers(tmp_path, 2, 2, {"TOKENWARD_DATABASE_URL": postgres_url})
    try:
        name = f"credits-{uuid.uuid4().hex[:8]}"
        token = _token(servers[0], name, credits={"remaining": CREDITS})
        codes = _hammer(servers, token["secret"], CREDITS + 100)
        assert codes == Counter({"VALID": CREDITS, "USAGE_EXCEEDED": 100})
    finally:
        _stop(servers)


def test_a_rate_limit_holds_across_workers_and_servers_with_redis(
    tmp_path: Path, postgres_url: str, prefix: str
) -> None:
    """Two servers of two workers on one PostgreSQL and one Redis: a burst of 200 within
    the window is admitted exactly 60 times."""
    env = {
        "TOKENWARD_DATABASE_URL": postgres_url,
        "TOKENWARD_REDIS_URL": REDIS,
        "TOKENWARD_REDIS_PREFIX": prefix,
    }
    servers = _servers(tmp_path, 2, 2, env)
    try:
        limit = {"name": "minute", "limit": 60, "window_seconds": 600}
        token = _token(servers[0], f"rates-{uuid.uuid4().hex[:8]}", rate_limits=[limit])
        codes = _hammer(servers, token["secret"], 200)
        assert codes == Counter({"VALID": 60, "RATE_LIMITED": 140})
    finally:
        _stop(servers)


def test_a_rate_limit_holds_across_the_workers_of_one_server_without_redis(
    tmp_path: Path,
) -> None:
    """Two workers, no Redis: eight clients verify a token of 40 per 2 s for 5 s. No span of
    2 s holds more than the limit plus 10 % (counted from what was surely admitted within
    it: sent and answered inside it), and the clients are not starved either: about a limit
    per 1.1 windows is admitted (each worker counting alone would admit up to twice)."""
    [server] = _servers(tmp_path, 1, 2, {})
    limit, window, clients = 40, 2.0, 8
    try:
        rate = {"name": "two", "limit": limit, "window_seconds": int(window)}
        token = _token(server, "default", rate_limits=[rate])
        admitted: list[tuple[float, float]] = []
        refused = 0
        start = time.monotonic() + 0.5
        stop = start + 2.5 * window

        def load() -> None:
            nonlocal refused
            with httpx.Client(base_url=server.url, timeout=30) as http:
                while time.monotonic() < start:
                    time.sleep(0.005)
                while (sent := time.monotonic()) < stop:
                    answer = http.post("/v1/verify", json={"token": token["secret"]})
                    code = answer.json()["code"]
                    if code == "VALID":
                        admitted.append((sent, time.monotonic()))
                    else:
                        assert code == "RATE_LIMITED", answer.text
                        refused += 1

        with ThreadPoolExecutor(clients) as pool:
            for done in [pool.submit(load) for _ in range(clients)]:
                done.result()
        assert refused > 0
        for first, _ in admitted:
            within = [
                1 for sent, answered in admitted if sent >= first and answered < first + window
            ]
            assert len(within) <= limit * 1.1, (len(within), sorted(admitted))
        # 2.5 windows from a fresh start: a limit at once, another after 1.1 windows, and a
        # third after 2.2 (windows.py); at least two of those however loaded the machine is.
        assert 2 * limit <= len(admitted) <= 3 * limit
    finally:
        _stop([server])


class RedisServer:
    """A Redis of this test's own, on a free port, that the test may kill and restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is needed (apt-get install redis-server)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import redis

        client = redis.Redis(port=self.port)
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


def test_redis_dying_mid_load_fails_closed_is_counted_and_recovers(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    [server] = _servers(
        tmp_path, 1, 1, {"TOKENWARD_REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0"}
    )
    try:
        limited = _token(
            server,
            "default",
            name="limited",
            rate_limits=[{"name": "m", "limit": 100000, "window_seconds": 60}],
        )
        plain = _token(server, "default", name="plain")
        with httpx.Client(base_url=server.url, timeout=10) as http:

            def code(token: dict[str, Any]) -> str:
                answer = http.post("/v1/verify", json={"token": token["secret"]})
                assert answer.status_code == 200, answer.text
                result: str = answer.json()["code"]
                return result

            assert [code(limited) for _ in range(20)] == ["VALID"] * 20
            own_redis.kill()
            started = time.monotonic()
            during = [code(limited) for _ in range(50)]
            # Closed: refused, and quickly (one timeout at most, then Redis rests).
            assert during == ["RATE_LIMITED"] * 50
            assert time.monotonic() - started < 5
            assert code(plain) == "VALID"  # tokens without rate limits never ask Redis
            metrics = http.get("/metrics", headers=ROOT).text
            assert "tokenward_redis_up 0.0" in metrics
            failures = [
                line for line in metrics.splitlines() if line.startswith("tokenward_redis_failures")
            ]
            assert failures and float(failures[0].split()[-1]) >= 50
            own_redis.start()
            deadline = time.monotonic() + 10
            while code(limited) != "VALID":
                assert time.monotonic() < deadline, "verification did not recover"
                time.sleep(0.2)
            assert "tokenward_redis_up 1.0" in http.get("/metrics", headers=ROOT).text
        log = server.output()
        assert "Redis is not answering" in log and "Redis answers again" in log
        assert "Traceback" not in log
    finally:
        _stop([server])


def test_kill_9_gives_back_no_credit_that_was_answered(tmp_path: Path) -> None:
    """Verifications under load, then every process of the server killed at once: the
    database has spent at least every credit answered VALID, and at most those plus the
    verifications that were in flight (never answered)."""
    [server] = _servers(tmp_path, 1, 2, {})
    token = _token(server, "default", credits={"remaining": 1_000_000})
    clients = 8
    answered: list[int] = [0] * clients
    unanswered: list[int] = [0] * clients

    def load(index: int) -> None:
        with httpx.Client(timeout=30) as http:
            while True:
                try:
                    answer = http.post(f"{server.url}/v1/verify", json={"token": token["secret"]})
                except httpx.TransportError:
                    unanswered[index] += 1
                    return
                assert answer.json()["code"] == "VALID"
                answered[index] += 1

    with ThreadPoolExecutor(clients) as pool:
        running = [pool.submit(load, index) for index in range(clients)]
        deadline = time.monotonic() + 60
        while sum(answered) < 300:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        workers = subprocess.run(
            ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
        ).stdout.split()
        for pid in [server.process.pid, *map(int, workers)]:
            subprocess.run(["kill", "-9", str(pid)], check=False)
        server.process.wait()
        for done in running:
            done.result()
    [again] = [Server(tmp_path / "data0", {"TOKENWARD_ADMIN_TOKEN": ADMIN}, workers=1)]
    try:
        with httpx.Client(base_url=again.url, headers=ROOT) as http:
            got = http.get(f"/v1/tenants/default/tokens/{token['id']}").json()
        spent = 1_000_000 - got["credits"]["remaining"]
        assert sum(answered) <= spent <= sum(answered) + sum(unanswered)
    finally:
        _stop([again])


def test_the_client_speaks_the_controls(tmp_path: Path) -> None:
    from tokenward.client import AsyncClient, Client, VerifyCode

    [server] = _servers(tmp_path, 1, 1, {"TOKENWARD_USAGE_FLUSH_SECONDS": "0.2"})
    try:
        with Client(server.url, ADMIN) as tw:
            token = tw.create_token(
                name="metered",
                rate_limits=[{"name": "m", "limit": 2, "window_seconds": 60}],
                credits={"remaining": 5, "refill": None},
                ip_allowlist=["192.0.2.0/24"],
            )
            assert token.rate_limits == ({"name": "m", "limit": 2, "window_seconds": 60},)
            assert token.ip_allowlist == ("192.0.2.0/24",)
            assert tw.verify(token.secret).code == VerifyCode.IP_DENIED
            valid = tw.verify(token.secret, client_ip="192.0.2.7", cost=2)
            assert valid.valid and valid.limits is not None
            assert valid.limits["credits_remaining"] == 3
            assert tw.adjust_credits("default", token.id, add=4).credits == {
                "remaining": 7,
                "refill": None,
            }
            changed = tw.update_token("default", token.id, rate_limits=[], credits=None)
            assert (changed.rate_limits, changed.credits) == ((), None)

            async def asynchronously() -> None:
                async with AsyncClient(server.url, ADMIN) as atw:
                    answer = await atw.verify(token.secret, client_ip="192.0.2.8")
                    assert answer.code == VerifyCode.VALID and answer.limits is not None

            import asyncio

            asyncio.run(asynchronously())
            deadline = time.monotonic() + 20
            while sum(sum(b.counts.values()) for b in tw.token_usage("default", token.id)) < 3:
                assert time.monotonic() < deadline, "usage was not written"
                time.sleep(0.2)
            [bucket] = tw.token_usage("default", token.id, bucket="day")
            assert bucket.counts == {"IP_DENIED": 1, "VALID": 2}
            assert tw.tenant_usage().top_tokens == ((token.id, 3),)
    finally:
        _stop([server])
