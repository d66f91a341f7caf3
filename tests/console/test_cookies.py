"""The console's cookies through the ASGI app: their attributes, over HTTP and HTTPS."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tokenward.app import create_app
from tokenward.settings import Settings


def sign_in_cookie(settings: Settings, base_url: str) -> str:
    with TestClient(create_app(settings), base_url=base_url) as client:
        answer = client.get("/console/sign-in")
    assert answer.status_code == 200
    return answer.headers["set-cookie"]


def test_cookies_are_http_only_strict_and_scoped_to_the_console(settings: Settings) -> None:
    cookie = sign_in_cookie(settings, "http://testserver")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # a plain-HTTP browser would never send it back


def test_cookies_are_secure_over_https(settings: Settings) -> None:
    assert "Secure" in sign_in_cookie(settings, "https://testserver")


def test_cookies_are_secure_behind_a_tls_proxy(settings: Settings) -> None:
    public = settings.model_copy(update={"public_url": "https://tokens.example.com"})
    assert "Secure" in sign_in_cookie(public, "http://testserver")
