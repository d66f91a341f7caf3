"""``require_token(..., offline=True)``: exchanged JWTs checked in process against the keys a
real server publishes, and every kind of forgery or misuse refused by the integration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tests.exchange.conftest import ISSUER, ROOT, Running
from tokenward.client import Client
from tokenward.integrations import Identity
from tokenward.integrations.fastapi import require_token
from tokenward.integrations.offline import AsyncOfflineVerifier


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _app(server: Running, **verifier: Any) -> FastAPI:
    checker = AsyncOfflineVerifier(server.url, leeway=0, **verifier)
    app = FastAPI()

    @app.get("/invoices")
    async def invoices(
        who: Identity = Depends(
            require_token(audience="billing", scopes=["read"], offline=True, verifier=checker)
        ),
    ) -> dict[str, Any]:
        return {"token_id": who.token_id, "tenant": who.tenant, "scopes": sorted(who.scopes)}

    @app.get("/payroll")
    async def payroll(
        who: Identity = Depends(require_token(audience="payroll", offline=True, verifier=checker)),
    ) -> dict[str, Any]:
        return {}

    @app.get("/brokers/{broker}")
    async def broker(
        broker: str,
        who: Identity = Depends(
            require_token(
                resource=lambda r: r.path_params["broker"], offline=True, verifier=checker
            )
        ),
    ) -> dict[str, Any]:
        return {"broker": broker}

    return app


@pytest.fixture(scope="module")
def app(server: Running) -> Iterator[TestClient]:
    with TestClient(_app(server)) as client:
        yield client


def _get(app: TestClient, token: str, path: str = "/invoices") -> Any:
    return app.get(path, headers={"Authorization": f"Bearer {token}"})


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": "billing",
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": f"forged-{time.monotonic_ns()}",
        "client_id": "1",
        "scope": "read",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_an_exchanged_jwt_passes_with_no_call_per_request(server: Running, app: TestClient) -> None:
    subject = server.token(audience=["billing"], scopes=["read", "write"])
    with Client(server.url) as tw:
        exchanged = tw.exchange(subject["secret"], scopes=["read"])
    assert exchanged.scope == ("read",)
    answer = _get(app, exchanged.access_token)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"token_id": subject["id"], "tenant": "default", "scopes": ["read"]}
    # The server is not asked again per request: the same JWT passes while its verifications
    # count stays put.
    before = server.http.get("/metrics", headers=ROOT).text.count("tokenward_verifications")
    for _ in range(20):
        assert _get(app, exchanged.access_token).status_code == 200
    assert server.http.get("/metrics", headers=ROOT).text.count("tokenward_verifications") == (
        before
    )


def test_the_client_raises_the_oauth_code(server: Running) -> None:
    from tokenward.client import BadRequest

    subject = server.token(audience=["billing"], scopes=["read"])["secret"]
    with Client(server.url) as tw, pytest.raises(BadRequest) as refused:
        tw.exchange(subject, scopes=["admin"])
    assert refused.value.code == "invalid_scope"


def test_scopes_and_resources_are_checked(server: Running, app: TestClient) -> None:
    # Each endpoint checks its own audience, also for a JWT whose signature passed before.
    billing = server.exchange_any()
    assert _get(app, billing).status_code == 200
    assert _get(app, billing, "/payroll").status_code == 401

    narrow = server.exchange(server.token(audience=["billing"], scopes=["write"])["secret"])
    answer = _get(app, narrow.json()["access_token"])
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]

    restricted = server.token(audience=["billing"], restricted=True, resources=["eu-1"])
    jwt_of_restricted = server.exchange(restricted["secret"]).json()["access_token"]
    assert _get(app, jwt_of_restricted, "/brokers/eu-1").status_code == 200
    assert _get(app, jwt_of_restricted, "/brokers/us-2").status_code == 403


def test_forgeries_and_misuse_are_refused(server: Running, app: TestClient) -> None:
    good = server.exchange_any()
    assert _get(app, good).status_code == 200
    header, payload, signature = good.split(".")
    kid = jwt.get_unverified_header(good)["kid"]

    def refused(token: str, why: str) -> None:
        answer = _get(app, token)
        assert answer.status_code == 401, (why, answer.text)
        assert 'error="invalid_token"' in answer.headers["www-authenticate"], why

    # A payload changed after signing.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "read write admin"
    refused(f"{header}.{_b64(json.dumps(claims).encode())}.{signature}", "tampered payload")

    # Signed by a key the server never published.
    stranger = ed25519.Ed25519PrivateKey.generate()
    refused(
        jwt.encode(
            _claims(), stranger, algorithm="EdDSA", headers={"kid": "nope", "typ": "at+jwt"}
        ),
        "unknown kid",
    )
    # ... or by that key under a kid the server did publish.
    refused(
        jwt.encode(_claims(), stranger, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"}),
        "wrong key for the kid",
    )

    # alg none: no signature at all.
    unsigned = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "at+jwt"}).encode())
    refused(f"{unsigned}.{_b64(json.dumps(_claims()).encode())}.", "alg none")

    # HS256 with the published public key as the HMAC secret (algorithm confusion).
    published = server.http.get("/.well-known/jwks.json").json()["keys"]
    public = next(key for key in published if key["kid"] == kid)
    for secret in (
        json.dumps(public).encode(),
        base64.urlsafe_b64decode(public["x"] + "=="),
        public["x"].encode(),
    ):
        head = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "at+jwt"}).encode())
        body = _b64(json.dumps(_claims()).encode())
        mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        refused(f"{head}.{body}.{_b64(mac)}", "HS256 with the public key")

    # Signed with the server's real key, but the claims are wrong.
    now = int(time.time())
    refused(server.mint(_claims(exp=now - 5, iat=now - 305, nbf=now - 305)), "expired")
    refused(server.mint(_claims(nbf=now + 120)), "not yet valid")
    refused(server.mint(_claims(aud="payroll")), "wrong audience")
    refused(server.mint(_claims(iss="https://evil.example")), "wrong issuer")
    refused(server.mint(_claims(jti=None)), "no jti")
    # A JWT but not an access token (RFC 9068 typ).
    key = server.signing_key(kid)
    plain = jwt.encode(_claims(), key.private, algorithm="EdDSA", headers={"kid": kid})
    refused(plain, "typ JWT")
    # The control: the same forger's hand with good claims passes, so the refusals above
    # are for what each case changed.
    assert _get(app, server.mint(_claims())).status_code == 200


def test_a_jwt_expires_in_the_integration(server: Running, app: TestClient) -> None:
    subject = server.token(audience=["billing"], scopes=["read"], ttl_seconds=2)["secret"]
    exchanged = server.exchange(subject).json()
    assert exchanged["expires_in"] <= 2
    assert _get(app, exchanged["access_token"]).status_code == 200
    time.sleep(exchanged["expires_in"] + 1.1)
    answer = _get(app, exchanged["access_token"])
    assert answer.status_code == 401
    assert "expired" in answer.headers["www-authenticate"]


def test_the_revocation_list_cuts_the_bound_below_the_jwt_lifetime(server: Running) -> None:
    subject = server.token(audience=["billing"], scopes=["read"])
    with TestClient(_app(server, revocation_poll_seconds=0.2)) as polling:
        exchanged = server.exchange(subject["secret"]).json()["access_token"]
        jti = jwt.decode(exchanged, options={"verify_signature": False})["jti"]
        assert _get(polling, exchanged).status_code == 200

        listed = server.http.get("/oauth2/revoked").json()
        assert jti not in {entry["jti"] for entry in listed["revoked"]}
        server.http.delete(f"/v1/tenants/default/tokens/{subject['id']}", headers=ROOT)
        listed = server.http.get("/oauth2/revoked", params={"since": listed["as_of"]}).json()
        entry = next(entry for entry in listed["revoked"] if entry["jti"] == jti)
        assert entry["exp"] == jwt.decode(exchanged, options={"verify_signature": False})["exp"]
        later = server.http.get("/oauth2/revoked", params={"since": listed["as_of"] + 3600})
        assert later.json()["revoked"] == []

        time.sleep(0.3)  # one poll period of the integration
        answer = _get(polling, exchanged)
        assert answer.status_code == 401
        assert "revoked" in answer.headers["www-authenticate"]

    bad = server.http.get("/oauth2/revoked", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
