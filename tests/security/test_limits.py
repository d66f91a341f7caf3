"""Suite 6: limits (issue 5). Body size, field sizes, and failed authentications per address.

Each face is driven through the real app; a thin ASGI layer gives each request the client
address named in its ``x-test-peer`` header, as a server would from the socket, so that one
app (one limiter) sees several addresses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.helpers import ROOT_HEADERS, bearer, issue, manager
from tests.security.support import BODY_CALLS
from tokenward.app import create_app
from tokenward.domain import secrets as secret_format
from tokenward.service import auth
from tokenward.service.ratelimit import WINDOW_SECONDS, AuthFailureLimiter
from tokenward.settings import Settings

LIMIT = 5
BAD = bearer("not-a-credential")

#: One management request per face, with the face's body format for a refusal.
FACE_CALLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "native": ("GET", "/v1/tenants/default/tokens", {}),
    "oauth2": ("POST", "/oauth2/introspect", {"data": {"token": "x"}}),
    "boomerang": ("GET", "/api/v2/token/query", {}),
    "query": ("GET", "/_/token", {}),
    "devo": ("GET", "/v2/accounts/default/tokens", {}),
    "cedalo": ("GET", "/api/projects/default/tokens", {}),
    "metrics": ("GET", "/metrics", {}),
}


class Peers:
    """Sets ``scope["client"]`` from the ``x-test-peer`` header (the socket's address)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-test-peer":
                    scope["client"] = (value.decode(), 40000)
        await self.app(scope, receive, send)


def peer(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), "x-test-peer": address}


def limited_client(settings: Settings, **changes: Any) -> TestClient:
    return TestClient(Peers(create_app(settings.model_copy(update=changes))))


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    with limited_client(settings, auth_failure_limit=LIMIT) as client:
        yield client


def _face_format(face: str, answer: Any) -> bool:
    if face == "query":
        return bool(answer.headers["content-type"].startswith("text/plain"))
    body = answer.json()
    return bool(
        {
            "native": lambda: body["error"]["code"] == "RATE_LIMITED",
            "metrics": lambda: body["error"]["code"] == "RATE_LIMITED",
            "oauth2": lambda: body["error"] == "temporarily_unavailable",
            "boomerang": lambda: body["reason"] == "TOO_MANY_REQUESTS" and body["code"] == 429,
            "devo": lambda: body["error"]["code"] == 429,
            "cedalo": lambda: body["code"] == "TOO_MANY_REQUESTS" and body["status"] == 429,
        }[face]()
    )


# --- request bodies ---------------------------------------------------------------------


def test_bodies_over_the_default_limit_are_413_on_every_face(client: TestClient) -> None:
    assert Settings().max_body_bytes == 64 * 1024
    limit = 64 * 1024
    big = b'{"name": "' + b"x" * limit + b'"}'
    for face, (method, path) in BODY_CALLS.items():
        answer = client.request(
            method,
            path,
            content=big,
            headers={**ROOT_HEADERS, "content-type": "application/json"},
        )
        assert answer.status_code == 413, (face, answer.status_code, answer.text[:200])
    # One byte under the limit is read (and then refused for what it says, not its size).
    fits = b'{"name": "' + b"x" * (limit - 20) + b'"}'
    answer = client.post(
        "/v1/tenants/default/tokens",
        content=fits,
        headers={**ROOT_HEADERS, "content-type": "application/json"},
    )
    assert len(fits) <= limit and answer.status_code in (400, 422), answer.text[:200]


def test_a_configured_body_limit_holds(settings: Settings) -> None:
    with limited_client(settings, max_body_bytes=1024) as client:
        body = {"name": "n", "description": "d" * 1100}
        answer = client.post("/v1/tenants/default/tokens", json=body, headers=ROOT_HEADERS)
        assert answer.status_code == 413
        small = client.post("/v1/tenants/default/tokens", json={"name": "n"}, headers=ROOT_HEADERS)
        assert small.status_code == 201


# --- names, lists, metadata -------------------------------------------------------------

TOO_BIG: dict[str, dict[str, Any]] = {
    "name of 201": {"name": "n" * 201},
    "empty name": {"name": ""},
    "description of 2001": {"name": "n", "description": "d" * 2001},
    "101 scopes": {"name": "n", "scopes": [f"s{i}" for i in range(101)]},
    "scope of 201": {"name": "n", "scopes": ["s" * 201]},
    "101 audiences": {"name": "n", "audience": [f"a{i}" for i in range(101)]},
    "resource of 201": {"name": "n", "resources": ["r" * 201]},
    "metadata over 8 KiB": {"name": "n", "metadata": {"k": "v" * 8200}},
    "metadata integer past 64 bits": {"name": "n", "metadata": {"k": [{"n": 2**64}]}},
    "principal of 201": {"name": "n", "type": "user", "principal": "p" * 201},
    "user of 201": {"name": "n", "user": "u" * 201},
}
AT_LIMIT: dict[str, Any] = {
    "name": "n" * 200,
    "description": "d" * 2000,
    "scopes": [f"{i:0>200}" for i in range(100)],
    "metadata": {"k": "v" * 8000},
}


def test_native_field_limits(client: TestClient) -> None:
    base = "/v1/tenants/default/tokens"
    for label, body in TOO_BIG.items():
        answer = client.post(base, json=body, headers=ROOT_HEADERS)
        assert answer.status_code in (400, 422), (label, answer.status_code)
        assert "v" * 100 not in answer.text and "n" * 100 not in answer.text  # not echoed
    made = issue(client, **AT_LIMIT)
    for label, body in TOO_BIG.items():
        change = {k: v for k, v in body.items() if k not in ("type", "principal", "user")}
        if label == "name of 201" or len(change) > 1 or label == "empty name":
            answer = client.patch(f"{base}/{made['id']}", json=change, headers=ROOT_HEADERS)
            assert answer.status_code in (400, 422), (label, answer.status_code)
    assert client.post(
        "/v1/tenants", json={"name": "t" * 129}, headers=ROOT_HEADERS
    ).status_code in (
        400,
        422,
    )


def test_compatible_faces_field_limits(client: TestClient) -> None:
    long = "n" * 201
    cases = [
        (
            "boomerang",
            "POST",
            "/api/v2/token",
            {"type": "global", "name": long, "permissions": ["a/read"]},
        ),
        (
            "boomerang",
            "POST",
            "/api/v2/token",
            {"type": "global", "name": "n", "permissions": [f"r{i}/read" for i in range(101)]},
        ),
        ("query", "POST", "/_/token", {"name": long}),
        ("devo", "POST", "/v2/accounts/default/tokens", {"name": long, "audience": "a"}),
        (
            "devo",
            "POST",
            "/v2/accounts/default/tokens",
            {"audience": " ".join(f"a{i}" for i in range(101))},
        ),
        ("cedalo", "POST", "/api/projects/default/tokens", {"name": long}),
        (
            "cedalo",
            "POST",
            "/api/projects/default/tokens",
            {"name": "n", "brokers": [f"b{i}" for i in range(101)]},
        ),
    ]
    for face, method, path, body in cases:
        answer = client.request(method, path, json=body, headers=ROOT_HEADERS)
        assert answer.status_code in (400, 422), (face, body, answer.status_code, answer.text[:200])
        assert long not in answer.text


# --- failed authentications per client address ------------------------------------------


def test_default_limit_and_switch() -> None:
    assert Settings().auth_failure_limit == 30
    assert Settings(auth_failure_limit=0).auth_failure_limit == 0
    with pytest.raises(ValueError):
        Settings(auth_failure_limit=-1)


def test_an_address_over_the_limit_is_refused_on_every_face(limited: TestClient) -> None:
    attacker = "203.0.113.9"
    for _ in range(LIMIT):
        answer = limited.get("/v1/tenants", headers=peer(attacker, BAD))
        assert answer.status_code == 401
    refusals = {}
    for face, (method, path, extra) in FACE_CALLS.items():
        # Refused whatever it presents, the root credential too, until its minute has passed.
        for headers in (BAD, ROOT_HEADERS, {}):
            answer = limited.request(method, path, headers=peer(attacker, headers), **extra)
            assert answer.status_code == 429, (face, answer.status_code, answer.text)
            assert 1 <= int(answer.headers["Retry-After"]) <= WINDOW_SECONDS
            assert _face_format(face, answer), (face, answer.text)
        refusals[face] = answer.status_code
    print(f"\nafter {LIMIT} failures, every face answers: {refusals}")


def test_other_addresses_are_never_slowed(limited: TestClient) -> None:
    attacker, neighbour = "203.0.113.9", "198.51.100.7"
    for _ in range(LIMIT * 3):
        limited.get("/v1/tenants", headers=peer(attacker, BAD))
        answer = limited.get("/v1/tenants", headers=peer(neighbour, ROOT_HEADERS))
        assert answer.status_code == 200
    # A neighbour's own failures are its own, counted apart from the attacker's.
    for _ in range(LIMIT - 1):
        assert limited.get("/v1/tenants", headers=peer(neighbour, BAD)).status_code == 401
    for face, (method, path, extra) in FACE_CALLS.items():
        answer = limited.request(method, path, headers=peer(neighbour, ROOT_HEADERS), **extra)
        assert answer.status_code == 200, (face, answer.status_code)
    assert limited.get("/v1/tenants", headers=peer(attacker, ROOT_HEADERS)).status_code == 429


def test_valid_calls_do_not_count_and_failures_only_add_up_to_the_limit(
    limited: TestClient,
) -> None:
    address = "192.0.2.1"
    for _ in range(LIMIT * 4):  # valid traffic is never counted
        assert limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS)).status_code == 200
    for _ in range(LIMIT - 1):
        assert limited.get("/v1/tenants", headers=peer(address, BAD)).status_code == 401
    assert limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS)).status_code == 200
    assert limited.get("/v1/tenants", headers=peer(address, BAD)).status_code == 401
    assert limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS)).status_code == 429


def test_verification_is_not_limited_by_address(limited: TestClient) -> None:
    relay = "10.0.0.5"
    secret = issue(limited, audience=["billing"])["secret"]
    unknown = secret_format.generate()
    for i in range(LIMIT * 4):  # a relay forwards many clients' bad tokens
        bad = limited.post(
            "/v1/verify", json={"token": unknown if i % 2 else "junk"}, headers=peer(relay)
        )
        assert bad.status_code == 200 and bad.json()["valid"] is False
    assert limited.get("/v1/tenants", headers=peer(relay, ROOT_HEADERS)).status_code == 200
    # Even while the relay's address is over the limit for management, it verifies.
    for _ in range(LIMIT):
        limited.get("/v1/tenants", headers=peer(relay, BAD))
    assert limited.get("/v1/tenants", headers=peer(relay, ROOT_HEADERS)).status_code == 429
    good = limited.post("/v1/verify", json={"token": secret}, headers=peer(relay))
    assert good.status_code == 200 and good.json()["valid"] is True


def test_verification_credentials_count_towards_the_limit(settings: Settings) -> None:
    """With ``TOKENWARD_VERIFY_REQUIRES_AUTH`` a bad credential on /v1/verify is a failed
    authentication like any other: otherwise verification would let an address guess
    management credentials without limit. The secrets being verified never count. (The
    fast path is /v1/verify's only handler: it authenticates as the management calls do.)"""
    app = create_app(
        settings.model_copy(update={"auth_failure_limit": LIMIT, "verify_requires_auth": True})
    )
    with TestClient(Peers(app)) as client:
        relay = "10.0.0.6"
        for _ in range(LIMIT * 2):  # bad secrets under a good credential: never counted
            answer = client.post(
                "/v1/verify", json={"token": "x"}, headers=peer(relay, ROOT_HEADERS)
            )
            assert answer.status_code == 200 and answer.json()["valid"] is False
        for _ in range(LIMIT):
            answer = client.post("/v1/verify", json={"token": "x"}, headers=peer(relay, BAD))
            assert answer.status_code == 401
        for headers in (BAD, ROOT_HEADERS):
            answer = client.post("/v1/verify", json={"token": "x"}, headers=peer(relay, headers))
            assert answer.status_code == 429, answer.text
            assert answer.json()["error"]["code"] == "RATE_LIMITED"
            assert 1 <= int(answer.headers["retry-after"]) <= WINDOW_SECONDS
        assert client.get("/v1/tenants", headers=peer(relay, ROOT_HEADERS)).status_code == 429
        # Another address is not slowed.
        answer = client.post(
            "/v1/verify", json={"token": "x"}, headers=peer("10.0.0.7", ROOT_HEADERS)
        )
        assert answer.status_code == 200


def test_zero_turns_the_limit_off(settings: Settings) -> None:
    with limited_client(settings, auth_failure_limit=0) as client:
        for _ in range(100):
            assert client.get("/v1/tenants", headers=peer("192.0.2.2", BAD)).status_code == 401
        assert client.get("/v1/tenants", headers=peer("192.0.2.2", ROOT_HEADERS)).status_code == 200


def test_the_window_slides(limited: TestClient) -> None:
    """The app's own limiter, on a clock the test moves: refused until the oldest failure is
    a minute old, with Retry-After counting down to it."""
    now = [1000.0]
    core = limited.app_state["core"]
    core.auth_failures = AuthFailureLimiter(LIMIT, clock=lambda: now[0])
    address = "192.0.2.3"
    for _ in range(LIMIT):
        limited.get("/v1/tenants", headers=peer(address, BAD))
        now[0] += 1.0
    # Failures at 1000..1004; now 1005: the oldest frees a slot at 1060.
    answer = limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS))
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "55"
    now[0] = 1059.5
    answer = limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS))
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    now[0] = 1060.0
    assert limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS)).status_code == 200
    # One slot is free: one more failure and the address is over the limit again.
    assert limited.get("/v1/tenants", headers=peer(address, BAD)).status_code == 401
    assert limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS)).status_code == 429
    now[0] = 1200.0
    assert limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS)).status_code == 200


def test_management_tokens_count_like_any_credential(limited: TestClient) -> None:
    """An expired or disabled management token is a failed authentication like garbage."""
    token = manager(limited, role="admin")
    limited.post(f"/v1/tenants/default/tokens/{token['id']}/disable", headers=ROOT_HEADERS)
    address = "192.0.2.4"
    for _ in range(LIMIT):
        answer = limited.get("/v1/tenants", headers=peer(address, bearer(token["secret"])))
        assert answer.status_code == 401
    assert limited.get("/v1/tenants", headers=peer(address, ROOT_HEADERS)).status_code == 429


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_admin_token_is_checked_without_reading_the_store(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Management requests with the operator's admin token authenticate on the event loop:
    no store read, no thread. A token credential is still read, fresh, from the store."""
    core = client.app_state["core"]
    made = issue(client, "default", name="m", role="admin", audience=["tokenward"])
    assert auth.reads_store(core, made["secret"])
    assert not auth.reads_store(core, ROOT_HEADERS["Authorization"].removeprefix("Bearer "))
    assert not auth.reads_store(core, "garbage") and not auth.reads_store(core, None)

    def no_reads(secret_hash: str) -> None:
        raise AssertionError("the admin token reached the store")

    monkeypatch.setattr(client.app_state["engine"], "find", no_reads)
    assert client.get("/v1/tenants/default", headers=ROOT_HEADERS).status_code == 200
    assert client.get("/v1/tenants/default", headers=bearer("garbage")).status_code == 401


def test_metadata_integers_at_the_64_bit_bounds_verify_exactly(client: TestClient) -> None:
    """Verification reads metadata with orjson, which turns larger integers into floats."""
    metadata = {"max": 2**64 - 1, "min": -(2**63), "nested": [{"n": 2**63}]}
    made = issue(client, name="bounds", metadata=metadata)
    verified = client.post("/v1/verify", json={"token": made["secret"]}).json()
    assert verified["valid"] and verified["token"]["metadata"] == metadata
    assert isinstance(verified["token"]["metadata"]["max"], int)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_metadata_numbers_must_be_finite(client: TestClient, number: str) -> None:
    """Python's JSON reader takes NaN and Infinity, which JSON (and PostgreSQL's json type)
    does not: refused as bad input, not stored on one backend and a 500 on the other."""
    base = "/v1/tenants/default/tokens"
    headers = {**ROOT_HEADERS, "Content-Type": "application/json"}
    body = '{"name": "n", "metadata": {"x": [' + number + "]}}"
    answer = client.post(base, content=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert "finite" in answer.json()["error"]["message"]
    made = issue(client, name="finite")
    change = '{"metadata": {"x": ' + number + "}}"
    answer = client.patch(f"{base}/{made['id']}", content=change, headers=headers)
    assert answer.status_code == 400, answer.text
