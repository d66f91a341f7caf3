"""The client's public surface is exactly what ``__all__`` lists (httpx's habit)."""

from __future__ import annotations

import types

import tokenward.client


def test_all_lists_exactly_the_public_members() -> None:
    public = {
        name
        for name, value in vars(tokenward.client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    public -= {"annotations"}
    assert set(tokenward.client.__all__) == public
    assert len(tokenward.client.__all__) == len(set(tokenward.client.__all__))


def test_public_members_live_in_private_modules() -> None:
    for name in tokenward.client.__all__:
        module = getattr(getattr(tokenward.client, name), "__module__", "tokenward.client._")
        assert module.startswith("tokenward.client._"), (name, module)


def test_the_client_imports_nothing_of_the_server() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tokenward.client; "
        "bad = [m for m in sys.modules if m.startswith(('tokenward.api', 'tokenward.service', "
        "'tokenward.store', 'tokenward.domain', 'fastapi', 'sqlalchemy'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
