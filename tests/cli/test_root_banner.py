"""The generated root credential goes to the terminal, never into a log stream (issue 16)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import free_port

TOKENWARD = Path(sys.executable).parent / "tokenward"
SECRET = re.compile(r"tw_[0-9A-Za-z]{34}")


def _first_start(tmp_path: Path, *options: str) -> str:
    """Starts ``tokenward serve`` on a new store with standard error piped (not a terminal),
    stops it once ready, and returns what it wrote."""
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "TOKENWARD_DATA_DIR": str(tmp_path / "data")}
    env["TOKENWARD_LOG_FORMAT"] = "json"
    env["TOKENWARD_DRAIN_SECONDS"] = "0"  # stopped once ready: no drain to wait for
    process = subprocess.Popen(
        [str(TOKENWARD), "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90  # returns when healthy; a loaded machine is slow
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    return output


def test_not_shown_when_not_on_a_terminal(tmp_path: Path) -> None:
    output = _first_start(tmp_path)
    assert SECRET.search(output) is None, output
    assert "not shown because standard error is not a terminal" in output
    assert "tokenward admin-token reset" in output
    # Never a log record: no JSON line mentions the credential.
    assert not any("root credential" in line for line in output.splitlines() if "{" in line)


def test_shown_when_asked(tmp_path: Path) -> None:
    output = _first_start(tmp_path, "--print-root-credential")
    assert len(SECRET.findall(output)) == 1, output
    assert f"creating a new store at {tmp_path / 'data' / 'tokenward.db'}" in output
