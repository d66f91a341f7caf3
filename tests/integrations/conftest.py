"""A real ``tokenward serve`` process for the integration tests, and the example apps' path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.server import Server
from tests.integrations.support import EXAMPLES, Issue
from tokenward.client import Client, TokenWithSecret

ROOT = "integration-tests-root-credential-0123456789"

# The examples are run from their directory (examples/README.md); the tests import them alike.
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


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
