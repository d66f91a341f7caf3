"""With ``TOKENWARD_VERIFY_REQUIRES_AUTH``, an exchange, like a verification, needs a
management credential besides its subject token (through the ASGI app, both backends)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue
from tokenward.app import create_app
from tokenward.settings import Settings

FORM = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
}


def test_an_exchange_needs_the_credential_verification_needs(settings: Settings) -> None:
    locked = settings.model_copy(update={"verify_requires_auth": True})
    with TestClient(create_app(locked)) as client:
        subject = issue(client, name="edge", audience=["billing"])["secret"]
        alone = client.post("/oauth2/token", data={**FORM, "subject_token": subject})
        assert alone.status_code == 401
        assert alone.json()["error"] == "invalid_client"
        assert alone.headers["www-authenticate"].startswith("Bearer")
        with_credential = client.post(
            "/oauth2/token", data={**FORM, "subject_token": subject}, headers=ROOT_HEADERS
        )
        assert with_credential.status_code == 200, with_credential.text
        assert with_credential.json()["token_type"] == "Bearer"
