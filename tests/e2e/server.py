"""A real ``tokenward serve`` process on a free port, started as an operator starts it: the
root credential printed unless the environment gives one, ``--workers`` as asked."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.helpers import TOKENWARD, free_port


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str], workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"serve-{self.port}.log"
        environment = {**os.environ, "TOKENWARD_DATA_DIR": str(data_dir), **env}
        if "TOKENWARD_ADMIN_TOKEN" not in env:
            environment.pop("TOKENWARD_ADMIN_TOKEN", None)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    *(str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(self.port)),
                    "--print-root-credential",
                    *("--workers", str(workers)),
                ],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.process.kill()  # not left running beside the next tests
            self.process.wait(timeout=15)
            raise

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + 90  # a loaded machine starts it slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not become healthy:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
