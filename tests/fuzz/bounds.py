"""How hard the fuzz and reliability suites push: bounded for ``make test``, more for
``make test-long`` (which sets ``TOKENWARD_TEST_LONG=1``)."""

from __future__ import annotations

import os

LONG = os.environ.get("TOKENWARD_TEST_LONG", "") == "1"


def scaled(short: int, long: int) -> int:
    return long if LONG else short
