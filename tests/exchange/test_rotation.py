"""Key rotation on a real server: ``tokenward keys rotate-signing`` while exchanges and
offline checks go on; and two servers on one PostgreSQL signing with the same keys."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tests.exchange.conftest import JWKS_CACHE_SECONDS, Running, start
from tests.helpers import empty_postgres
from tokenward.integrations import Identity
from tokenward.integrations.fastapi import require_token
from tokenward.integrations.offline import AsyncOfflineVerifier


def _protected(url: str, **verifier: Any) -> FastAPI:
    verifier.setdefault("refresh_seconds", 1)
    checker = AsyncOfflineVerifier(url, revocation_poll_seconds=None, **verifier)
    app = FastAPI()

    @app.get("/")
    async def index(
        who: Identity = Depends(require_token(audience="billing", offline=True, verifier=checker)),
    ) -> dict[str, Any]:
        return {"jti": (who.claims or {}).get("jti")}

    return app


def _kids(url: str) -> list[str]:
    return [key["kid"] for key in httpx.get(f"{url}/.well-known/jwks.json").json()["keys"]]


def test_jwts_signed_before_a_rotation_keep_verifying(server: Running) -> None:
    subject = server.token(audience=["billing"])["secret"]
    before = server.exchange(subject).json()["access_token"]
    old_kid = jwt.get_unverified_header(before)["kid"]

    # Another app that would not refresh for an hour: only an unknown kid makes it refetch.
    lazy_app = _protected(server.url, refresh_seconds=3600, min_refetch_seconds=0)
    with TestClient(_protected(server.url)) as app, TestClient(lazy_app) as lazy:
        assert app.get("/", headers={"Authorization": f"Bearer {before}"}).status_code == 200
        assert lazy.get("/", headers={"Authorization": f"Bearer {before}"}).status_code == 200
        failures: list[str] = []
        seen: set[str] = set()
        stop = threading.Event()

        def load() -> None:
            # Exchanges and offline checks throughout the rotation: none may fail.
            while not stop.is_set():
                answer = server.exchange(subject)
                if answer.status_code != 200:
                    failures.append(f"exchange: {answer.text}")
                    continue
                token = answer.json()["access_token"]
                seen.add(jwt.get_unverified_header(token)["kid"])
                checked = app.get("/", headers={"Authorization": f"Bearer {token}"})
                if checked.status_code != 200:
                    failures.append(f"check: {checked.status_code} {checked.headers}")

        worker = threading.Thread(target=load)
        worker.start()
        try:
            rotated = server.tokenward("keys", "rotate-signing", "--json")
            assert rotated.returncode == 0, rotated.stderr
            made = json.loads(rotated.stdout)
            new_kid = made["kid"]
            # Published at once (within the servers' refresh), signing only after the notice.
            deadline = time.monotonic() + 10
            while new_kid not in _kids(server.url) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert new_kid in _kids(server.url) and old_kid in _kids(server.url)
            while new_kid not in seen and time.monotonic() < deadline + JWKS_CACHE_SECONDS:
                time.sleep(0.1)
        finally:
            stop.set()
            worker.join()
        assert not failures, failures[:5]
        assert new_kid in seen, "the new key never signed"

        listed = server.tokenward("keys", "list-signing", "--json")
        keys = {key["kid"]: key for key in json.loads(listed.stdout)["items"]}
        notice = datetime.fromisoformat(keys[new_kid]["activates_at"]) - datetime.fromisoformat(
            keys[new_kid]["created_at"]
        )
        assert notice.total_seconds() == JWKS_CACHE_SECONDS

        # The JWT of the old key still verifies, in the integration and over the JWKS.
        assert app.get("/", headers={"Authorization": f"Bearer {before}"}).status_code == 200
        after = server.exchange(subject).json()["access_token"]
        assert jwt.get_unverified_header(after)["kid"] == new_kid
        assert app.get("/", headers={"Authorization": f"Bearer {after}"}).status_code == 200
        assert lazy.get("/", headers={"Authorization": f"Bearer {after}"}).status_code == 200


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Running, Running]]:
    empty_postgres(postgres_url)  # shared with other tests, whose keys sealed what they left
    first = start(tmp_path / "a", TOKENWARD_DATABASE_URL=postgres_url)
    try:
        second = start(tmp_path / "b", TOKENWARD_DATABASE_URL=postgres_url)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_two_servers_on_one_postgresql_sign_with_the_same_keys(
    two_servers: tuple[Running, Running],
) -> None:
    a, b = two_servers
    # The session's PostgreSQL database may hold keys of earlier tests (sealed under their
    # keys: published, not signing); whatever it holds, both servers publish the same.
    assert _kids(a.url) == _kids(b.url)
    subject = a.token(audience=["billing"])["secret"]
    from_a = a.exchange(subject).json()["access_token"]
    from_b = b.exchange(subject).json()["access_token"]
    kid = jwt.get_unverified_header(from_a)["kid"]
    assert jwt.get_unverified_header(from_b)["kid"] == kid
    assert kid in _kids(a.url)
    # An integration that knows only server B accepts what server A signed.
    with TestClient(_protected(b.url)) as app:
        for token in (from_a, from_b):
            assert app.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
