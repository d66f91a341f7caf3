"""Shared by the console's in-process tests (those that run the ASGI app, no browser)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def sign_in(client: TestClient, credential: str) -> None:
    """Signs the client in through the form, as a browser does: its CSRF token, then the post."""
    form = client.get("/console/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    signed = client.post(
        "/console/sign-in",
        data={"csrf": csrf[1], "credential": credential},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
