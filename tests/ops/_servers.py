"""Real ``tokenward`` processes for the operator tests: servers on free ports, commands."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.helpers import TOKENWARD, free_port

ADMIN = "operator-chosen-root-credential-for-ops-0123456789"
ROOT = {"Authorization": f"Bearer {ADMIN}"}


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TOKENWARD_DATA_DIR": str(data_dir), "TOKENWARD_ADMIN_TOKEN": ADMIN}
    for name in ("TOKENWARD_DATABASE_URL", "TOKENWARD_SECRET_KEY", "TOKENWARD_URL"):
        env.pop(name, None)
    env.update(extra)
    return env


def run(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(TOKENWARD), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise AssertionError(f"tokenward {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done


class Server:
    def __init__(self, env: dict[str, str], log: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    *(str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(self.port)),
                    *("--workers", str(workers)),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"server did not become ready:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def create(http: httpx.Client, name: str, *, recoverable: bool = True) -> tuple[int, str]:
    made = http.post(
        "/v1/tenants/default/tokens",
        json={"name": name, "recoverable": recoverable},
        headers=ROOT,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    return int(body["id"]), str(body["secret"])


def reveal(http: httpx.Client, token_id: int) -> httpx.Response:
    return http.get(f"/v1/tenants/default/tokens/{token_id}/secret", headers=ROOT)


def valid(http: httpx.Client, secret: str) -> bool:
    return bool(http.post("/v1/verify", json={"token": secret}).json()["valid"])


class Load(threading.Thread):
    """Verifies, reveals and creates recoverable tokens until stopped; keeps what failed.
    ``made`` holds every token whose creation was acknowledged, with when."""

    def __init__(self, url: str, made: dict[int, str], *, prefix: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.made = made
        self.prefix = prefix
        self.acknowledged_at: dict[int, float] = {}
        self.failures: list[str] = []
        self.rounds = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self._stop_event.is_set():
                self.rounds += 1
                try:
                    for token_id, secret in list(self.made.items())[-5:]:
                        if not valid(http, secret):
                            self.failures.append(f"verify {token_id}")
                        shown = reveal(http, token_id)
                        if shown.status_code != 200 or shown.json()["secret"] != secret:
                            self.failures.append(f"reveal {token_id}: {shown.text}")
                    token_id, secret = create(http, f"{self.prefix}-{self.rounds}")
                    self.made[token_id] = secret
                    self.acknowledged_at[token_id] = time.monotonic()
                except (httpx.HTTPError, AssertionError) as exc:
                    self.failures.append(f"round {self.rounds}: {exc!r}")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=60)
