"""The ``Host`` header is never reflected (issue 13): a redirect's and Devo's ``Location``
is a path, or is built on ``TOKENWARD_PUBLIC_URL`` when that is set."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS
from tokenward.app import create_app
from tokenward.settings import Settings

FORGED = {**ROOT_HEADERS, "Host": "evil.example"}

#: Trailing-slash redirects that the framework makes, on several faces.
REDIRECTS = {
    "/v1/tenants/": "/v1/tenants",
    "/v1/tenants/default/tokens/?limit=5": "/v1/tenants/default/tokens?limit=5",
    "/api/projects/default/tokens/": "/api/projects/default/tokens",
}


def _devo_location(client: TestClient) -> str:
    made = client.post("/v2/accounts/default/tokens", json={"audience": "a"}, headers=FORGED)
    assert made.status_code == 201, made.text
    location: str = made.headers["location"]
    assert location.endswith(f"/v2/accounts/default/tokens/{made.json()['id']}")
    return location


def test_locations_are_paths_by_default(client: TestClient) -> None:
    for path, target in REDIRECTS.items():
        answer = client.get(path, headers=FORGED, follow_redirects=False)
        assert answer.is_redirect, (path, answer.status_code)
        assert answer.headers["location"] == target
    assert _devo_location(client).startswith("/v2/")


def test_locations_are_built_on_the_public_url(settings: Settings) -> None:
    public = settings.model_copy(update={"public_url": "https://tokens.example.com/tw"})
    with TestClient(create_app(public)) as client:
        for path, target in REDIRECTS.items():
            answer = client.get(path, headers=FORGED, follow_redirects=False)
            assert answer.headers["location"] == f"https://tokens.example.com/tw{target}"
        assert _devo_location(client).startswith("https://tokens.example.com/tw/v2/")


def test_a_location_never_names_another_host(client: TestClient) -> None:
    answer = client.get("//evil.example/v1/tenants/", headers=FORGED, follow_redirects=False)
    assert "evil" not in answer.headers.get("location", ""), answer.headers


@pytest.mark.parametrize(
    "value", ["tokens.example.com", "ftp://x", "https://", "https://x/?a=b", "https://x/a b"]
)
def test_a_bad_public_url_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="TOKENWARD_PUBLIC_URL"):
        Settings(public_url=value)
