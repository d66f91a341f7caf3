"""One real ``tokenward serve`` process (SQLite, a known root credential) for the client tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.client.support import ROOT
from tests.e2e.server import Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = Server(tmp_path_factory.mktemp("client") / "data", {"TOKENWARD_ADMIN_TOKEN": ROOT})
    yield started
    started.stop()


@pytest.fixture
def tenant_name() -> str:
    """A fresh tenant name: the tests share one server."""
    return f"t-{uuid.uuid4().hex[:10]}"
