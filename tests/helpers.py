"""Small helpers for tests that drive the native API."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

#: The ``tokenward`` command of the interpreter running the tests.
TOKENWARD = Path(sys.executable).parent / "tokenward"
ROOT_TOKEN = "test-root-credential-0123456789abcdefghij"
ROOT_HEADERS = {"Authorization": f"Bearer {ROOT_TOKEN}"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def issue(
    client: TestClient,
    tenant: str = "default",
    *,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Issues a token through the native API and returns the 201 body (with ``secret``)."""
    fields.setdefault("name", "test token")
    response = client.post(
        f"/v1/tenants/{tenant}/tokens", json=fields, headers=headers or ROOT_HEADERS
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def manager(client: TestClient, tenant: str = "default", **fields: Any) -> dict[str, Any]:
    """A management token (audience ``tokenward``) of ``tenant``, issued by root."""
    fields.setdefault("audience", ["tokenward"])
    fields.setdefault("name", f"{fields.get('role', 'viewer')} manager")
    return issue(client, tenant, **fields)


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now, for a real server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
