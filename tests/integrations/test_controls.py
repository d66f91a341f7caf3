"""The example apps (FastAPI and DRF) with tokens that carry controls, protected by a real
``tokenward serve``: the client's address passed as ``client_ip`` (a spoofed
``X-Forwarded-For`` from an untrusted peer ignored, a trusted proxy's honoured, IPv4-mapped
IPv6 peers), and the refusals of the controls as 403 and 429 with ``Retry-After``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tests.e2e.server import Server
from tests.integrations.support import Issue, bearer
from tokenward.client import Verification, VerifyCode
from tokenward.integrations import (
    AsyncVerifier,
    Denied,
    Identity,
    Requirement,
    TrustedProxies,
)
from tokenward.integrations import fastapi as integration
from tokenward.integrations._verifier import judge

OFFICE = "10.0.0.0/24"
INSIDE = "10.0.0.5"
OUTSIDE = "198.51.100.9"
PROXIES = ("192.0.2.0/24", "2001:db8::/32")
PROXY = "192.0.2.1"


# -- the address rule itself ---------------------------------------------------------------


def test_the_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    proxies = TrustedProxies(PROXIES)
    # An untrusted peer's header is the client's to forge: ignored.
    assert proxies.client_address(OUTSIDE, [INSIDE]) == OUTSIDE
    # A trusted proxy: the right-most hop that is not a trusted proxy; what the client
    # put in front of it is ignored.
    assert proxies.client_address(PROXY, [f"{INSIDE}, {OUTSIDE}"]) == OUTSIDE
    assert proxies.client_address(PROXY, [f"{INSIDE}, {OUTSIDE}, 192.0.2.7"]) == OUTSIDE
    assert proxies.client_address(PROXY, [INSIDE, "192.0.2.7"]) == INSIDE  # two headers
    assert proxies.client_address("2001:db8::1", [INSIDE]) == INSIDE
    # Every hop trusted: the left-most. No header: the proxy itself.
    assert proxies.client_address(PROXY, ["192.0.2.9, 192.0.2.8"]) == "192.0.2.9"
    assert proxies.client_address(PROXY, []) == PROXY
    # An unreadable hop stops the walk at the last trusted one.
    assert proxies.client_address(PROXY, [f"{INSIDE}, not-an-address"]) == PROXY
    # IPv4-mapped IPv6, as peer and as hop, is its IPv4 address.
    assert proxies.client_address("::ffff:192.0.2.1", [f"::ffff:{INSIDE}"]) == INSIDE
    assert TrustedProxies(["::ffff:192.0.2.0/120"]).client_address(PROXY, [INSIDE]) == INSIDE
    # A peer that is no address (Starlette's test client says "testclient") gives none.
    assert proxies.client_address("testclient", [INSIDE]) is None
    assert TrustedProxies(()).client_address(PROXY, [INSIDE]) == PROXY


def test_trusted_proxies_come_from_the_environment_and_bad_ones_fail_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKENWARD_TRUSTED_PROXIES", "192.0.2.0/24, 2001:db8::/32")
    assert TrustedProxies().client_address(PROXY, [INSIDE]) == INSIDE
    assert TrustedProxies("192.0.2.0/24,2001:db8::/32").networks == TrustedProxies().networks
    with pytest.raises(ValueError):
        TrustedProxies(["192.0.2.0/24", "proxy.example"])


def test_retry_after_is_the_wait_rounded_up_to_whole_seconds() -> None:
    for wait_ms, seconds in ((1, 1), (1000, 1), (1001, 2), (59_999, 60), (0, 1), (None, 1)):
        refusal = Verification(False, VerifyCode.RATE_LIMITED, None, None, wait_ms)
        with pytest.raises(Denied) as denied:
            judge(refusal, Requirement(), None)
        assert (denied.value.status, denied.value.retry_after) == (429, seconds)
        assert denied.value.headers == {"Retry-After": str(seconds)}


# -- FastAPI -------------------------------------------------------------------------------


@pytest.fixture
def fastapi_app(server: Server) -> Iterator[Any]:
    import fastapi_app

    def build(peer: str, trusted: Iterable[str] = ()) -> TestClient:
        verifier = AsyncVerifier(server.url, trusted_proxies=list(trusted))
        return TestClient(fastapi_app.create_app(verifier), client=(peer, 40000))

    yield build


def fastapi_get(http: TestClient, secret: str, forwarded: str | None = None) -> Any:
    headers = bearer(secret)
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return http.get("/invoices", headers=headers)


def test_fastapi_an_allowlist_admits_the_peer_and_ignores_a_spoofed_forwarded_for(
    fastapi_app: Any, issue: Issue
) -> None:
    secret = issue(ip_allowlist=[OFFICE]).secret
    with fastapi_app(INSIDE) as http:
        assert fastapi_get(http, secret).status_code == 200
    with fastapi_app(f"::ffff:{INSIDE}") as http:
        assert fastapi_get(http, secret).status_code == 200
    with fastapi_app(OUTSIDE) as http:
        refused = fastapi_get(http, secret, forwarded=INSIDE)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "The token may not be used from this address"}
        assert "WWW-Authenticate" not in refused.headers
    # The same spoof through a trusted proxy, whose own hop says where the client is.
    with fastapi_app(PROXY, PROXIES) as http:
        assert fastapi_get(http, secret, forwarded=f"{INSIDE}, {OUTSIDE}").status_code == 403
        assert fastapi_get(http, secret, forwarded=f"{OUTSIDE}, {INSIDE}").status_code == 200
        assert fastapi_get(http, secret).status_code == 403  # the proxy itself is outside


def test_fastapi_a_trusted_ipv4_mapped_proxy_is_honoured(fastapi_app: Any, issue: Issue) -> None:
    secret = issue(ip_allowlist=[OFFICE]).secret
    with fastapi_app(f"::ffff:{PROXY}", PROXIES) as http:
        assert fastapi_get(http, secret, forwarded=INSIDE).status_code == 200
        assert fastapi_get(http, secret, forwarded=OUTSIDE).status_code == 403


def test_fastapi_a_rate_limit_is_429_with_retry_after_and_every_request_counts(
    fastapi_app: Any, issue: Issue
) -> None:
    # Positive answers are cached for 5 s by default: a rate-limited token's are not, or the
    # limit would be spent only by the app's first request.
    secret = issue(rate_limits=[{"name": "minute", "limit": 2, "window_seconds": 60}]).secret
    with fastapi_app(INSIDE) as http:
        assert [fastapi_get(http, secret).status_code for _ in range(2)] == [200, 200]
        refused = fastapi_get(http, secret)
        assert refused.status_code == 429
        assert refused.json() == {"detail": "The token is rate limited"}
        # Counted in tenths of the window: a retry may wait up to 1.1 windows.
        assert 1 <= int(refused.headers["Retry-After"]) <= 66
        assert "WWW-Authenticate" not in refused.headers


def test_fastapi_no_credits_left_is_429_without_retry_after(fastapi_app: Any, issue: Issue) -> None:
    secret = issue(credits={"remaining": 2, "refill": None}).secret
    with fastapi_app(INSIDE) as http:
        assert [fastapi_get(http, secret).status_code for _ in range(2)] == [200, 200]
        refused = fastapi_get(http, secret)
        assert refused.status_code == 429
        assert refused.json() == {"detail": "The token has no credits left"}
        assert "Retry-After" not in refused.headers


def test_fastapi_an_apps_own_checker_is_called_with_the_address_only_if_it_takes_one() -> None:
    identity = Identity(
        1,
        "default",
        "n",
        "global",
        None,
        "u",
        "o",
        "viewer",
        frozenset({"invoices:read"}),
        ("billing",),
        None,
        {},
    )
    seen: list[Any] = []

    class Old:
        """An app's checker from before addresses were passed: two arguments."""

        async def check(self, authorization: str | None, requirement: Requirement) -> Identity:
            seen.append("old")
            return identity

    class New(Old):
        proxies = TrustedProxies(PROXIES)

        async def check(  # type: ignore[override]
            self, authorization: str | None, requirement: Requirement, client_ip: str | None = None
        ) -> Identity:
            seen.append(client_ip)
            return identity

    for checker in (Old(), New()):
        app = FastAPI()
        guard = integration.require_token(audience="billing", verifier=checker)

        @app.get("/invoices")
        async def invoices(who: Identity = Depends(guard)) -> dict[str, int]:
            return {"token_id": who.token_id}

        with TestClient(app, client=(PROXY, 40000)) as http:
            answer = http.get("/invoices", headers={**bearer("x"), "X-Forwarded-For": INSIDE})
            assert answer.status_code == 200, answer.text
    assert seen == ["old", INSIDE]


# -- Django REST framework -----------------------------------------------------------------

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_app.settings")

import django  # noqa: E402

django.setup()

from django.test import override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


def drf_get(
    server: Server, secret: str, peer: str, forwarded: str | None = None, **settings: Any
) -> Any:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}", "REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    config = {"URL": server.url, "AUDIENCE": "billing", **settings}
    with override_settings(TOKENWARD=config):
        return APIClient().get("/invoices", **extra)


def test_drf_an_allowlist_admits_the_peer_and_ignores_a_spoofed_forwarded_for(
    server: Server, issue: Issue
) -> None:
    secret = issue(ip_allowlist=[OFFICE]).secret
    assert drf_get(server, secret, INSIDE).status_code == 200
    assert drf_get(server, secret, f"::ffff:{INSIDE}").status_code == 200
    refused = drf_get(server, secret, OUTSIDE, forwarded=INSIDE)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "The token may not be used from this address"}
    assert "WWW-Authenticate" not in refused.headers
    trusted = {"TRUSTED_PROXIES": list(PROXIES)}
    assert drf_get(server, secret, PROXY, f"{INSIDE}, {OUTSIDE}", **trusted).status_code == 403
    one_string = {"TRUSTED_PROXIES": ",".join(PROXIES)}
    assert drf_get(server, secret, PROXY, INSIDE, **one_string).status_code == 200
    assert drf_get(server, secret, PROXY, f"{OUTSIDE}, {INSIDE}", **trusted).status_code == 200
    assert drf_get(server, secret, f"::ffff:{PROXY}", INSIDE, **trusted).status_code == 200


def test_drf_a_rate_limit_is_429_with_retry_after(server: Server, issue: Issue) -> None:
    secret = issue(rate_limits=[{"name": "minute", "limit": 2, "window_seconds": 60}]).secret
    assert [drf_get(server, secret, INSIDE).status_code for _ in range(2)] == [200, 200]
    refused = drf_get(server, secret, INSIDE)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 66


def test_drf_a_request_spends_one_credit_though_the_view_requires_scopes(
    server: Server, issue: Issue, root: Any
) -> None:
    """The authentication checks the view's scopes itself, so the permission class does not
    ask (and spend) again."""
    token = issue(credits={"remaining": 3, "refill": None})
    assert [drf_get(server, token.secret, INSIDE).status_code for _ in range(3)] == [200] * 3
    refused = drf_get(server, token.secret, INSIDE)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "The token has no credits left"}
    assert "Retry-After" not in refused.headers
