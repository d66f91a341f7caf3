"""RFC 8693 token exchange against a real ``tokenward serve``: the JWT it issues checked by
an independent JOSE library (joserfc; the server signs with PyJWT) against the JWKS fetched
over HTTP, narrowing and its refusals, the metadata document, and metrics."""

from __future__ import annotations

import time

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from tests.exchange.conftest import ISSUER, JWKS_CACHE_SECONDS, ROOT, Running

ACCESS = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"

# joserfc warns that RFC 9864 deprecates the name "EdDSA" for "Ed25519"; PyJWT, and most
# verifiers today, know only "EdDSA" (see docs/offline.md).
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


def test_the_jwt_verifies_with_another_library_against_the_published_keys(
    server: Running,
) -> None:
    subject = server.token(
        audience=["billing", "shipping"],
        scopes=["read", "write"],
        principal="alice",
        type="user",
    )
    answer = server.exchange(subject["secret"], requested_token_type=JWT_TYPE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["issued_token_type"] == JWT_TYPE
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "read write"

    fetched = httpx.get(f"{server.url}/.well-known/jwks.json")
    assert fetched.headers["cache-control"] == f"public, max-age={JWKS_CACHE_SECONDS}"
    document = fetched.json()
    for key in document["keys"]:
        assert "d" not in key  # public parts only
        assert key["alg"] == "EdDSA" and key["kty"] == "OKP" and key["crv"] == "Ed25519"

    token = jose_jwt.decode(
        body["access_token"], KeySet.import_key_set(document), algorithms=["EdDSA"]
    )
    assert token.header["typ"] == "at+jwt"
    assert token.header["kid"] in {key["kid"] for key in document["keys"]}
    claims = token.claims
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "alice"
    assert claims["aud"] == ["billing", "shipping"]
    assert claims["client_id"] == str(subject["id"])
    assert claims["scope"] == "read write"
    assert claims["tenant"] == "default"
    assert claims["role"] == "viewer"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 30
    assert len(claims["jti"]) >= 16
    assert "resources" not in claims  # not restricted
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": "billing"}
    ).validate(claims)

    # The secret never appears in the token.
    assert subject["secret"] not in body["access_token"]


def test_metadata_names_the_endpoints_and_algorithms(server: Running) -> None:
    answer = httpx.get(f"{server.url}/.well-known/oauth-authorization-server")
    assert answer.status_code == 200
    metadata = answer.json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth2/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    assert set(metadata["access_token_signing_alg_values_supported"]) == {"EdDSA", "ES256"}


def test_narrowing_works_and_widening_is_refused(server: Running) -> None:
    subject = server.token(audience=["billing", "shipping"], scopes=["read", "write"])["secret"]
    narrowed = server.exchange(subject, audience="shipping", scope="read")
    assert narrowed.status_code == 200, narrowed.text
    claims = jose_jwt.decode(
        narrowed.json()["access_token"],
        KeySet.import_key_set(httpx.get(f"{server.url}/.well-known/jwks.json").json()),
        algorithms=["EdDSA"],
    ).claims
    assert claims["aud"] == "shipping"
    assert claims["scope"] == "read"
    assert narrowed.json()["scope"] == "read"

    wider_scope = server.exchange(subject, scope="read admin")
    assert wider_scope.status_code == 400
    assert wider_scope.json()["error"] == "invalid_scope"
    other_audience = server.exchange(subject, audience="payroll")
    assert other_audience.status_code == 400
    assert other_audience.json()["error"] == "invalid_target"


def test_refusals_carry_rfc_6749_codes(server: Running) -> None:
    subject = server.token(audience=["billing"])
    no_audience = server.token()["secret"]
    assert server.exchange(no_audience).json()["error"] == "invalid_target"
    assert server.exchange("tw_garbage").json()["error"] == "invalid_grant"

    form = {
        "grant_type": "client_credentials",
        "subject_token": subject["secret"],
        "subject_token_type": ACCESS,
    }
    wrong_grant = server.http.post("/oauth2/token", data=form)
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    missing = server.http.post(
        "/oauth2/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"}
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong_type = server.exchange(subject["secret"], subject_token_type=JWT_TYPE)
    assert wrong_type.json()["error"] == "invalid_request"
    not_a_form = server.http.post("/oauth2/token", json={"grant_type": "x"})
    assert not_a_form.status_code == 400 and not_a_form.json()["error"] == "invalid_request"

    # A disabled subject gets no new JWT, at once.
    assert server.exchange(subject["secret"]).status_code == 200
    disabled = server.http.post(f"/v1/tenants/default/tokens/{subject['id']}/disable", headers=ROOT)
    assert disabled.status_code == 200
    refused = server.exchange(subject["secret"])
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "the subject token is not valid (DISABLED)",
    }
    assert subject["secret"] not in refused.text


def test_the_jwt_never_outlives_its_subject(server: Running) -> None:
    subject = server.token(audience=["billing"], ttl_seconds=60)["secret"]
    answer = server.exchange(subject).json()
    assert 0 < answer["expires_in"] <= 60


def test_exchanges_are_counted(server: Running) -> None:
    server.exchange(server.token(audience=["billing"])["secret"])
    server.exchange("tw_garbage")
    metrics = server.http.get("/metrics", headers=ROOT).text
    issued = [
        line
        for line in metrics.splitlines()
        if line.startswith('tokenward_token_exchanges_total{outcome="issued"}')
    ]
    assert issued and float(issued[0].split()[-1]) >= 1
    assert 'tokenward_token_exchanges_total{outcome="invalid_grant"}' in metrics


def test_parameters_outside_the_profile_are_refused(server: Running) -> None:
    subject = server.token(audience=["billing", "shipping"])["secret"]
    cases = {
        "invalid_target": [
            {"audience": ["billing", "shipping"]},
            {"resource": "https://billing.example"},
        ],
        "invalid_request": [
            {"actor_token": subject},
            {"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        ],
    }
    for error, forms in cases.items():
        for form in forms:
            answer = server.http.post(
                "/oauth2/token",
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "subject_token": subject,
                    "subject_token_type": ACCESS,
                    **form,
                },
            )
            assert answer.status_code == 400, form
            assert answer.json()["error"] == error, form
            assert subject not in answer.text
    too_late = server.http.get("/oauth2/revoked", params={"since": 10**15})
    assert too_late.status_code == 400 and too_late.json()["error"] == "invalid_request"
