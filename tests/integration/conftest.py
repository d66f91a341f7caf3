"""A second process on the same database: its own engine, connections and caches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tokenward.app import build_core, open_engine
from tokenward.service.core import Core
from tokenward.settings import Settings


@pytest.fixture
def other(settings: Settings) -> Iterator[Core]:
    """Another process's core, started as a server starts it (change tracking, filter)."""
    engine = open_engine(settings)
    second = build_core(settings, engine)
    try:
        second.start_change_tracking()
        yield second
    finally:
        second.lookup.close()
        engine.dispose()
