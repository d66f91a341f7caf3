"""Django REST framework with ``TOKENWARD["OFFLINE"]``: the example project checks exchanged
JWTs in process, against the keys of a real server."""

from __future__ import annotations

import os
import time

import jwt

from tests.exchange.conftest import ISSUER, Running
from tests.integrations.support import EXAMPLES  # puts the example projects on sys.path

assert EXAMPLES.is_dir()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_app.settings")

import django  # noqa: E402

django.setup()

from django.test import override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


def test_drf_checks_exchanged_jwts_offline(server: Running) -> None:
    subject = server.token(audience=["billing"], scopes=["invoices:read"])
    token = server.exchange(subject["secret"]).json()["access_token"]
    config = {"URL": server.url, "AUDIENCE": "billing", "OFFLINE": True, "LEEWAY": 0}
    with override_settings(TOKENWARD=config):
        api = APIClient()
        who = api.get("/whoami", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert who.status_code == 200, who.content
        assert who.json()["token_id"] == subject["id"]
        assert api.get("/invoices", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
        write = api.post("/invoices", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert write.status_code == 403  # the JWT has invoices:read only

        # Offline, only JWTs pass: the secret itself is no JWT.
        assert (
            api.get("/invoices", HTTP_AUTHORIZATION=f"Bearer {subject['secret']}").status_code
            == 401
        )
        now = int(time.time())
        claims = jwt.decode(token, options={"verify_signature": False})
        for wrong in ({"aud": "payroll"}, {"iss": "https://evil.example"}, {"exp": now - 1}):
            forged = server.mint({**claims, "jti": f"drf-{now}-{len(wrong)}", **wrong})
            answer = api.get("/invoices", HTTP_AUTHORIZATION=f"Bearer {forged}")
            assert answer.status_code == 401, wrong
            assert "invalid_token" in answer.headers["WWW-Authenticate"]
        assert claims["iss"] == ISSUER
