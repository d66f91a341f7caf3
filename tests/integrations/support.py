"""What the integration tests share besides fixtures: the examples' path, the issuing
callable's type, and small helpers."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from tokenward.client import TokenWithSecret

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The example projects import as top-level packages (``drf_app``), wherever they are used.
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

Issue = Callable[..., TokenWithSecret]


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
