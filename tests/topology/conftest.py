"""The topology test starts three servers, HAProxy and a load for about two minutes:
``make test-long`` runs it, ``make test`` leaves it out of the run altogether (deselected,
not skipped), so a plain run reports no skip and takes no longer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TOKENWARD_TEST_LONG", "") == "1":
        return
    deselected = [item for item in items if item.path.is_relative_to(_HERE)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
