"""The README tour against a real ``tokenward serve`` process on a free port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.server import Server
from tests.helpers import tenant
from tokenward.app import GC_THRESHOLDS
from tokenward.domain import secrets as secret_format

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def first_server(data_dir: Path) -> Iterator[Server]:
    server = Server(data_dir, {})
    yield server
    server.stop()


def test_readme_tour_on_sqlite_with_generated_root(first_server: Server, data_dir: Path) -> None:
    printed = re.findall(r"tw_[0-9A-Za-z]{34}", first_server.output())
    assert len(printed) == 1, first_server.output()
    root = {"Authorization": f"Bearer {printed[0]}"}
    key = data_dir / "secret.key"
    assert (data_dir / "tokenward.db").exists()
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600

    with httpx.Client(base_url=first_server.url, timeout=10) as http:
        assert http.get("/readyz").json() == {"status": "ready"}
        tenant(http, "acme", headers=root)
        created = http.post(
            "/v1/tenants/acme/tokens",
            json={"name": "ci", "audience": ["billing"], "scopes": ["read"]},
            headers=root,
        )
        assert created.status_code == 201
        token = created.json()
        verdict = http.post("/v1/verify", json={"token": token["secret"], "audience": "billing"})
        assert verdict.json()["valid"] is True
        disabled = http.post(f"/v1/tenants/acme/tokens/{token['id']}/disable", headers=root)
        assert disabled.status_code == 200
        again = http.post("/v1/verify", json={"token": token["secret"]}).json()
        assert again["valid"] is False and again["code"] == "DISABLED"
    first_server.stop()
    assert token["secret"] not in first_server.output()

    # A restart neither prints nor changes the root credential.
    second = Server(data_dir, {})
    try:
        assert re.findall(r"tw_[0-9A-Za-z]{34}", second.output()) == []
        with httpx.Client(base_url=second.url, timeout=10) as http:
            assert http.get("/v1/tenants", headers=root).status_code == 200
    finally:
        second.stop()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_admin_token_and_postgres_from_environment(database_url: str, tmp_path: Path) -> None:
    """On an emptied database (``database_url``): secrets another test sealed under its own
    key would stop this server's start."""
    admin = "operator-chosen-root-credential-0123456789"
    server = Server(
        tmp_path / "pg",
        {"TOKENWARD_ADMIN_TOKEN": admin, "TOKENWARD_DATABASE_URL": database_url},
    )
    try:
        assert "generated its root credential" not in server.output()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            root = {"Authorization": f"Bearer {admin}"}
            assert http.get("/readyz").status_code == 200
            token = http.post(
                "/v1/tenants/default/tokens", json={"name": "e2e"}, headers=root
            ).json()
            assert http.post("/v1/verify", json={"token": token["secret"]}).json()["valid"]
            http.delete(f"/v1/tenants/default/tokens/{token['id']}", headers=root)
    finally:
        server.stop()


ADMIN = "operator-chosen-root-credential-0123456789"
ROOT = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def two_servers(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Server, Server]]:
    """Two processes on one store (a shared SQLite file, or PostgreSQL)."""
    env = {"TOKENWARD_ADMIN_TOKEN": ADMIN}
    if backend == "postgresql":
        # Emptied first: another test's sealed secrets would stop these servers' start.
        env["TOKENWARD_DATABASE_URL"] = request.getfixturevalue("database_url")
    data_dir = tmp_path / "shared"
    first = Server(data_dir, env)
    try:
        second = Server(data_dir, env)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_revocation_through_one_process_is_refused_by_another(
    two_servers: tuple[Server, Server],
) -> None:
    first, second = two_servers
    with httpx.Client(timeout=10) as http:
        token = http.post(
            f"{first.url}/v1/tenants/default/tokens", json={"name": "r"}, headers=ROOT
        ).json()
        check = {"token": token["secret"]}
        assert http.post(f"{second.url}/v1/verify", json=check).json()["valid"]
        http.post(f"{first.url}/v1/tenants/default/tokens/{token['id']}/disable", headers=ROOT)
        started = time.monotonic()
        while http.post(f"{second.url}/v1/verify", json=check).json()["valid"]:
            assert time.monotonic() - started < 1.0, "revocation did not propagate in 1 s"
            time.sleep(0.005)


def test_a_token_made_through_one_process_verifies_at_once_through_another(
    two_servers: tuple[Server, Server], backend: str
) -> None:
    """The known-secrets filter must never refuse a token another process just made."""
    first, second = two_servers
    with httpx.Client(timeout=10) as http:
        for i in range(30):
            # An unknown secret first: the second process answers it from its filter.
            unknown = {"token": secret_format.generate()}
            refused = http.post(f"{second.url}/v1/verify", json=unknown).json()
            assert refused["code"] == "NOT_FOUND"
            made = http.post(
                f"{first.url}/v1/tenants/default/tokens", json={"name": f"n{i}"}, headers=ROOT
            ).json()
            answer = http.post(f"{second.url}/v1/verify", json={"token": made["secret"]})
            assert answer.json()["code"] == "VALID", (i, answer.json())
        scraped = http.get(f"{second.url}/metrics", headers=ROOT).text
    filtered = re.search(r'tokenward_cache_lookups_total\{result="filtered"\} (\S+)', scraped)
    assert filtered is not None
    if backend == "sqlite":
        assert float(filtered.group(1)) >= 25  # refused without a store read
    else:
        assert float(filtered.group(1)) == 0  # no cheap version: always read


def test_a_worker_freezes_its_startup_objects(tmp_path: Path) -> None:
    """Full collections must not walk the modules and the app (about 60 ms each time)."""
    code = (
        "import gc\n"
        "from tokenward.app import serve_app\n"
        "serve_app()\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()), *gc.get_threshold())\n"
    )
    env = {**os.environ, "TOKENWARD_DATA_DIR": str(tmp_path / "data")}
    env.pop("TOKENWARD_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    frozen, tracked, *thresholds = map(int, out.split())
    assert frozen > 50_000  # the app's objects
    assert tracked < frozen / 10  # what a collection still has to walk
    # Full collections rarer than Python's default (10), which walked the cache every few
    # thousand misses; still automatic, so cyclic garbage is freed.
    assert tuple(thresholds) == GC_THRESHOLDS and GC_THRESHOLDS[2] > 10


def _valid_verifications(metrics_text: str) -> float:
    found = re.search(
        r'^tokenward_verifications_total\{outcome="VALID"\} (\S+)$', metrics_text, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_metrics_of_several_workers_add_up(tmp_path: Path) -> None:
    """Whichever worker answers a scrape, it reports every worker's verifications."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TOKENWARD_ADMIN_TOKEN": ADMIN, "TMPDIR": str(scratch)}
    server = Server(tmp_path / "data", env, workers=2)
    try:
        (shared,) = scratch.glob("tokenward-metrics-*")  # made by serve for its workers
        secret = httpx.post(
            f"{server.url}/v1/tenants/default/tokens", json={"name": "m"}, headers=ROOT
        ).json()["secret"]
        made, deadline = 0, time.monotonic() + 30
        while time.monotonic() < deadline:
            for _ in range(20):  # a new connection each: the kernel spreads them over workers
                answer = httpx.post(f"{server.url}/v1/verify", json={"token": secret})
                assert answer.json()["valid"]
                made += 1
            time.sleep(1.2)  # each worker publishes its totals every second
            files = [orjson.loads(p.read_bytes()) for p in shared.glob("*.json")]
            answered = [f["verifications"]["outcomes"]["VALID"] for f in files]
            if len(answered) == 2 and all(answered):
                break
        assert len(answered) == 2 and all(answered), answered  # both workers verified some
        assert sum(answered) == made
        for _ in range(8):  # new connections: scrapes that reach either worker
            scrape = httpx.get(f"{server.url}/metrics", headers=ROOT).text
            assert _valid_verifications(scrape) == made
    finally:
        server.stop()
    assert not shared.exists()  # removed when the server stopped
