"""The Django REST framework example project, driven in-process with DRF's ``APIClient``,
protected by a real ``tokenward serve``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.server import Server
from tests.helpers import free_port
from tests.integrations.support import EXAMPLES, Issue, challenge_params, wait_until_expired
from tokenward.client import Client

assert EXAMPLES.is_dir()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_app.settings")

import django  # noqa: E402

django.setup()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.test import override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


def configured(url: str, **extra: Any) -> Any:
    return override_settings(TOKENWARD={"URL": url, "AUDIENCE": "billing", **extra})


@pytest.fixture
def api(server: Server) -> Iterator[APIClient]:
    with configured(server.url):
        yield APIClient()


def get(api: APIClient, path: str, secret: str | None = None, method: str = "get") -> Any:
    headers = {} if secret is None else {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    return getattr(api, method)(path, **headers)


def test_a_valid_token_reaches_the_view_with_its_identity(api: APIClient, issue: Issue) -> None:
    token = issue(type="team", principal="team-9", user="carol", role="admin")
    answer = get(api, "/whoami", token.secret)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "tenant": "default",
        "principal": "team-9",
        "user": "carol",
        "role": "admin",
        "scopes": ["invoices:read"],
        "token_id": token.id,
    }
    assert get(api, "/invoices", token.secret).status_code == 200


def test_a_missing_token_is_401_without_an_error_code(api: APIClient) -> None:
    assert get(api, "/invoices").headers["WWW-Authenticate"] == "Bearer"
    assert get(api, "/invoices").status_code == 401
    basic = api.get("/invoices", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert basic.status_code == 401 and basic.headers["WWW-Authenticate"] == "Bearer"


def test_a_malformed_header_is_400_invalid_request(api: APIClient) -> None:
    answer = api.get("/invoices", HTTP_AUTHORIZATION="Bearer two parts")
    assert answer.status_code == 400
    assert challenge_params(answer.headers["WWW-Authenticate"])["error"] == "invalid_request"


def test_a_malformed_token_is_401_invalid_token(api: APIClient, issue: Issue) -> None:
    secret = issue().secret
    typo = secret[:-1] + ("x" if secret[-1] != "x" else "y")  # a wrong checksum, always
    for secret in ("not-a-token", typo):
        answer = get(api, "/invoices", secret)
        assert answer.status_code == 401
        assert challenge_params(answer.headers["WWW-Authenticate"]) == {
            "error": "invalid_token",
            "error_description": "The token is malformed",
        }


def test_an_expired_token_is_401(api: APIClient, issue: Issue) -> None:
    token = issue(ttl_seconds=1)
    wait_until_expired(token)
    answer = get(api, "/invoices", token.secret)
    assert answer.status_code == 401
    assert "expired" in challenge_params(answer.headers["WWW-Authenticate"])["error_description"]


def test_a_disabled_token_is_401(api: APIClient, issue: Issue, root: Client) -> None:
    token = issue(active=False)
    answer = get(api, "/invoices", token.secret)
    assert answer.status_code == 401
    assert "disabled" in challenge_params(answer.headers["WWW-Authenticate"])["error_description"]
    root.enable_token("default", token.id)
    assert get(api, "/invoices", token.secret).status_code == 200


def test_a_token_for_another_audience_is_401(api: APIClient, issue: Issue) -> None:
    answer = get(api, "/whoami", issue(audience=["crm"]).secret)
    assert answer.status_code == 401
    params = challenge_params(answer.headers["WWW-Authenticate"])
    assert params["error"] == "invalid_token"
    assert params["error_description"] == "The token is not for this service"


def test_a_missing_scope_is_403_insufficient_scope(api: APIClient, issue: Issue) -> None:
    reader = issue(scopes=["invoices:read"])
    answer = get(api, "/invoices", reader.secret, method="post")
    assert answer.status_code == 403
    params = challenge_params(answer.headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_scope" and params["scope"] == "invoices:write"
    writer = issue(scopes=["invoices:write"], user="dave")
    assert get(api, "/invoices", writer.secret).status_code == 403  # GET needs read
    created = get(api, "/invoices", writer.secret, method="post")
    assert created.status_code == 201 and created.json()["created_by"] == "dave"


def test_a_restricted_token_passes_only_for_its_resources(api: APIClient, issue: Issue) -> None:
    token = issue(restricted=True, resources=["b1"])
    assert get(api, "/brokers/b1", token.secret).status_code == 200
    denied = get(api, "/brokers/b2", token.secret)
    assert denied.status_code == 403
    assert challenge_params(denied.headers["WWW-Authenticate"])["error"] == "insufficient_scope"


def test_revocation_takes_effect_within_the_cache_bound(
    server: Server, issue: Issue, root: Client
) -> None:
    ttl = 0.5
    with configured(server.url, CACHE_TTL=ttl):
        api = APIClient()
        token = issue()
        assert get(api, "/invoices", token.secret).status_code == 200
        cached_at = time.monotonic()
        root.disable_token("default", token.id)
        answer = get(api, "/invoices", token.secret)
        if time.monotonic() - cached_at < ttl * 0.8:
            assert answer.status_code == 200  # the cached positive answer, within the bound
        while get(api, "/invoices", token.secret).status_code == 200:
            assert time.monotonic() - cached_at <= ttl + 0.25, "passed beyond the cache bound"
            time.sleep(0.02)
        assert time.monotonic() - cached_at >= ttl * 0.8
        refused = get(api, "/invoices", token.secret)
        assert refused.status_code == 401
        assert "disabled" in refused.headers["WWW-Authenticate"]


def test_an_unreachable_tokenward_is_503_not_401(issue: Issue) -> None:
    token = issue()
    with configured(f"http://127.0.0.1:{free_port()}"):
        answer = get(APIClient(), "/invoices", token.secret)
    assert answer.status_code == 503 and "WWW-Authenticate" not in answer.headers


def test_without_a_url_the_integration_names_the_setting(
    issue: Issue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOKENWARD_URL", raising=False)
    missing = pytest.raises(ImproperlyConfigured, match=r'TOKENWARD\["URL"\].*TOKENWARD_URL')
    with override_settings(TOKENWARD={"AUDIENCE": "billing"}), missing:
        get(APIClient(), "/invoices", issue().secret)
