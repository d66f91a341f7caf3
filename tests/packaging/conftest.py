"""The server half of the packaging test installs the server extra into a fresh environment
(about a minute): ``make test-long`` runs it, ``make test`` leaves it out of the run altogether
(deselected, not skipped), so a plain run reports no skip."""

from __future__ import annotations

import os

import pytest

_LONG_ONLY = ("test_the_server_install_serves_and_verifies",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TOKENWARD_TEST_LONG", "") == "1":
        return
    deselected = [item for item in items if item.originalname in _LONG_ONLY]  # type: ignore[attr-defined]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
