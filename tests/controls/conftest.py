"""The controls' tests that need Redis fail at once, naming what is missing, when there is none:
never a skip, and never a long connection error from deep inside a server process.

A test needs the shared Redis (127.0.0.1:6379, which .ci/run starts where none runs) when its
name says ``redis`` or it takes the ``redis_counters`` fixture; the one that kills its own Redis
needs the ``redis-server`` program too.
"""

from __future__ import annotations

import shutil

import pytest
import redis

SHARED = "redis://127.0.0.1:6379/0"
HOW = (
    "start one with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 "
    '--save "" --appendonly no (.ci/run does; Debian package redis-server)'
)

_answers: dict[str, str | None] = {}


def _shared_redis_missing() -> str | None:
    """Why the shared Redis cannot be used, or None; asked once per test session."""
    if SHARED not in _answers:
        client = redis.Redis.from_url(SHARED, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
            _answers[SHARED] = None
        except redis.RedisError as error:
            _answers[SHARED] = f"no Redis answers at {SHARED} ({error}); {HOW}"
        finally:
            client.close()
    return _answers[SHARED]


def needs_redis(item: pytest.Item) -> bool:
    return "redis" in item.name or "redis_counters" in getattr(item, "fixturenames", ())


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not needs_redis(item):
        return
    if shutil.which("redis-server") is None:
        pytest.fail(f"redis-server is not installed; {HOW}", pytrace=False)
    missing = _shared_redis_missing()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
