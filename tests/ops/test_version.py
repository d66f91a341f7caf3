"""``tokenward --version``: alone (answered before the server's modules load) and among
other options (answered by the command tree)."""

from __future__ import annotations

from pathlib import Path

from tests.ops._servers import environment, run
from tokenward import __version__


def test_version_alone_and_among_options(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    assert run("--version", env=env).stdout == f"tokenward {__version__}\n"
    among = run("--data-dir", str(tmp_path / "elsewhere"), "--version", env=env)
    assert among.stdout == f"tokenward {__version__}\n"
    assert not (tmp_path / "elsewhere").exists()
