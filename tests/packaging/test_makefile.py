"""``make run`` leaves the address to the configuration (issue 16): a ``--port`` on its
command line would beat ``TOKENWARD_PORT`` and ``tokenward.toml``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_passes_nothing_the_configuration_sets() -> None:
    planned = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    (serve,) = [line for line in planned.splitlines() if "tokenward serve" in line]
    for option in ("--host", "--port", "--data-dir", "--database-url", "--workers"):
        assert option not in serve
