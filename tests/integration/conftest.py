"""A second process on the same database: its own engine, connections and caches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tokenward.app import build_verifier, open_engine
from tokenward.settings import Settings
from tokenward.verification import Engine


@pytest.fixture
def other(settings: Settings) -> Iterator[Engine]:
    """Another process's verification engine, started as a server starts it (change
    tracking, filter)."""
    database = open_engine(settings)
    second = build_verifier(settings, database)
    try:
        second.start()
        yield second
    finally:
        database.dispose()
        second.close()
