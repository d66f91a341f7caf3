"""The distribution as a user installs it: a wheel built with ``python -m build``, installed
into a fresh virtual environment outside the checkout.

The client-only install (no extra) must give ``tokenward.client`` and
``tokenward.integrations`` without any server module, and a ``tokenward`` command that names
the extra it needs. The ``[server]`` install must serve and answer a verification; it installs
about forty packages, so it runs with the long tests (``make test-long``) only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY_MODULES = (
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "alembic",
    "psycopg",
    "pydantic",
    "pydantic_settings",
    "cryptography",
    "typer",
    "tokenward.service",
    "tokenward.store",
    "tokenward.api",
    "tokenward.app",
    "tokenward.settings",
    "tokenward.console",
    "jinja2",
)


def _run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENWARD_", "PYTHON"))}
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel, as ``python -m build`` makes them: the wheel is built from
    the sdist, so a file the sdist lacks is missing from the wheel too."""
    out = tmp_path_factory.mktemp("dist")
    built = _run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    assert built.returncode == 0, built.stderr[-3000:]
    (sdist,) = out.glob("tokenward-*.tar.gz")
    (found,) = out.glob("tokenward-*.whl")
    return sdist, found


@pytest.fixture(scope="module")
def wheel(dist: tuple[Path, Path]) -> Path:
    return dist[1]


def _package_files() -> set[str]:
    """Every file of the package in the checkout, as a path from ``src/``: modules,
    migrations and their template, typing marker, web assets, whatever is added later."""
    source = ROOT / "src"
    return {
        path.relative_to(source).as_posix()
        for path in (source / "tokenward").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_the_wheel_and_the_sdist_hold_every_file_of_the_package(
    dist: tuple[Path, Path],
) -> None:
    sdist, built_wheel = dist
    expected = _package_files()
    # What an install cannot do without: if the walk above ever finds none of these, it is
    # looking in the wrong place.
    assert {
        "tokenward/py.typed",
        "tokenward/store/migrations/env.py",
        "tokenward/store/migrations/script.py.mako",
        "tokenward/store/migrations/versions/0001_initial.py",
    } <= expected
    with zipfile.ZipFile(built_wheel) as archive:
        in_wheel = set(archive.namelist())
    assert sorted(expected - in_wheel) == []
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    prefix = names[0].split("/")[0]
    in_sdist = {name.removeprefix(f"{prefix}/src/") for name in names}
    assert sorted(expected - in_sdist) == []
    assert f"{prefix}/pyproject.toml" in names


def _venv(where: Path, requirement: str) -> Path:
    """A new environment at ``where`` with ``requirement`` installed; its python."""
    made = _run(sys.executable, "-m", "venv", "--without-pip", where, cwd=where.parent)
    assert made.returncode == 0, made.stderr
    python = where / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "--quiet")
    installed = _run(*pip, requirement, cwd=where.parent)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return python


PROBE = """
import json, sys
import tokenward.client, tokenward.integrations
from tokenward.client import Client
from tokenward.integrations import Verifier
print(json.dumps(sorted(sys.modules)))
"""


def test_the_client_only_install_imports_no_server_module(wheel: Path, tmp_path: Path) -> None:
    python = _venv(tmp_path / "client-env", str(wheel))
    probe = _run(python, "-c", PROBE, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    loaded = set(json.loads(probe.stdout))
    leaked = [m for m in SERVER_ONLY_MODULES if m in loaded]
    assert leaked == [], leaked
    assert not any(m.split(".")[0] in SERVER_ONLY_MODULES for m in loaded), loaded
    # The server's dependencies are not even installed.
    absent = _run(python, "-c", "import sqlalchemy", cwd=tmp_path)
    assert absent.returncode != 0

    version = _run(tmp_path / "client-env" / "bin" / "tokenward", "--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"tokenward {wheel.name.split('-')[1]}\n"

    command = _run(tmp_path / "client-env" / "bin" / "tokenward", "--help", cwd=tmp_path)
    assert command.returncode == 2
    assert "tokenward[server]" in command.stderr
    assert "Traceback" not in command.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(wheel: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    python = _venv(tmp_path / "server-env", f"tokenward[server] @ {wheel.as_uri()}")
    port = _free_port()
    root = "tw_packaging_root_credential_0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENWARD_", "PYTHON"))}
    env |= {"TOKENWARD_ADMIN_TOKEN": root, "TOKENWARD_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
        [str(python.parent / "tokenward"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield url, root
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_server_install_serves_and_verifies(served: tuple[str, str]) -> None:
    url, root = served
    auth = {"Authorization": f"Bearer {root}"}
    assert httpx.post(f"{url}/v1/tenants", json={"name": "pkg"}, headers=auth).status_code == 201
    created = httpx.post(
        f"{url}/v1/tenants/pkg/tokens", json={"name": "wheel", "scopes": ["a"]}, headers=auth
    )
    assert created.status_code == 201, created.text
    verdict = httpx.post(f"{url}/v1/verify", json={"token": created.json()["secret"]}).json()
    assert verdict["valid"] is True
    assert verdict["token"]["tenant"] == "pkg"


def test_the_wheel_carries_the_console_templates_and_assets(wheel: Path) -> None:
    """The console renders from files in the package: a wheel without them serves 500s."""
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src" / "tokenward" / "console"
    for folder in ("templates", "static"):
        files = sorted(p.relative_to(ROOT / "src").as_posix() for p in (package / folder).iterdir())
        assert files and set(files) <= names, set(files) - names
