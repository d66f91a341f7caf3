"""A real ``tokenward serve`` process for the token exchange tests, and the means to mint
JWTs with its own signing key (read from its store and unsealed with its key), so that the
integration's claim checks are tested against tokens whose signature is good."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import create_engine

from tests.e2e.server import Server
from tests.helpers import TOKENWARD
from tokenward.keys import load_key_material
from tokenward.service.sealing import Sealer
from tokenward.signing import keys as signing_keys
from tokenward.store.signing import SqlSigningKeyRepository

ADMIN = "exchange-tests-root-credential-0123456789"
ROOT = {"Authorization": f"Bearer {ADMIN}"}
SECRET_KEY = "exchange-tests-key-encryption-key-0123456789abcdef"
ISSUER = "https://tokens.example.test"
#: Short, so that a rotation's new key signs within the test.
JWKS_CACHE_SECONDS = 2


class Running:
    def __init__(self, server: Server, data_dir: Path, env: dict[str, str]) -> None:
        self.server = server
        self.url = server.url
        self.data_dir = data_dir
        self.env = env
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def token(self, **fields: Any) -> dict[str, Any]:
        created = self.http.post(
            "/v1/tenants/default/tokens", json={"name": "exchange", **fields}, headers=ROOT
        )
        assert created.status_code == 201, created.text
        return dict(created.json())

    def exchange(self, subject: str, **form: str) -> httpx.Response:
        return self.http.post(
            "/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": subject,
                "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
                **form,
            },
        )

    def tokenward(self, *args: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [str(TOKENWARD), *args],
            env={**os.environ, "TOKENWARD_DATA_DIR": str(self.data_dir), **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def signing_key(self, kid: str) -> signing_keys.SigningKey:
        """The server's own private key, as the store holds it (sealed)."""
        url = self.env.get("TOKENWARD_DATABASE_URL") or f"sqlite:///{self.data_dir}/tokenward.db"
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                stored = {key.kid: key for key in SqlSigningKeyRepository(conn).list()}
        finally:
            engine.dispose()
        sealer = Sealer(load_key_material(SECRET_KEY, self.data_dir, create=False))
        return signing_keys.unseal(stored[kid], sealer)

    def mint(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """A JWT signed with the server's key that ``kid`` names (default: the signing one)."""
        kid = kid or jwt.get_unverified_header(self.exchange_any())["kid"]
        key = self.signing_key(kid)
        return jwt.encode(
            claims, key.private, algorithm=key.alg, headers={"kid": kid, "typ": "at+jwt"}
        )

    def exchange_any(self) -> str:
        subject = self.token(audience=["billing"], scopes=["read"])["secret"]
        answer = self.exchange(subject)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


def start(data_dir: Path, **extra: str) -> Running:
    env = {
        "TOKENWARD_ADMIN_TOKEN": ADMIN,
        "TOKENWARD_SECRET_KEY": SECRET_KEY,
        "TOKENWARD_ISSUER": ISSUER,
        "TOKENWARD_JWKS_CACHE_SECONDS": str(JWKS_CACHE_SECONDS),
        **extra,
    }
    return Running(Server(data_dir, env), data_dir, env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start(tmp_path_factory.mktemp("exchange") / "data")
    yield running
    running.stop()
