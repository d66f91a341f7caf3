"""A real ``tokenward serve`` process for the integration tests, and the example apps' path."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_serve import Server
from tokenward.client import Client, TokenWithSecret

ROOT = "integration-tests-root-credential-0123456789"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The examples are run from their directory (examples/README.md); the tests import them alike.
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

Issue = Callable[..., TokenWithSecret]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = Server(
        tmp_path_factory.mktemp("integrations") / "data", {"TOKENWARD_ADMIN_TOKEN": ROOT}
    )
    yield started
    started.stop()


@pytest.fixture(scope="session")
def root(server: Server) -> Iterator[Client]:
    with Client(server.url, ROOT) as client:
        yield client


@pytest.fixture
def issue(root: Client) -> Issue:
    """Issues a token in ``default``: audience ``billing`` and ``invoices:read`` unless said."""

    def issue(**fields: Any) -> TokenWithSecret:
        fields.setdefault("name", "integration")
        fields.setdefault("audience", ["billing"])
        fields.setdefault("scopes", ["invoices:read"])
        return root.create_token("default", **fields)

    return issue


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def wait_until_expired(token: TokenWithSecret) -> None:
    assert token.expires_at is not None
    left = token.expires_at.timestamp() - time.time()
    time.sleep(max(0.0, left) + 0.05)


def challenge_params(header: str) -> dict[str, str]:
    """The parameters of a ``Bearer k="v", ...`` challenge."""
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer", header
    params = {}
    for part in filter(None, (p.strip() for p in rest.split('",'))):
        name, _, value = part.partition("=")
        params[name] = value.strip('"')
    return params
