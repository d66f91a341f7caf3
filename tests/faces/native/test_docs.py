"""``/docs`` and ``/redoc`` work without internet access: every file they load is the app's."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from tokenward.api.docs import ASSET_CACHE_CONTROL


@pytest.fixture
def backend() -> str:
    """The pages read no database: one backend is enough."""
    return "sqlite"


class _References(HTMLParser):
    """Every URL a page makes the browser load: ``src``, ``href``, ReDoc's ``spec-url``."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    # Swagger UI is given the document's URL in its inline script.
    return parser.urls + re.findall(r"url: '([^']+)'", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_docs_page_loads_only_files_the_app_serves(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert "http" not in answer.text  # no CDN, no fonts, no online validator
    urls = references(answer.text)
    assert "/openapi.json" in urls
    assert any(url.endswith(".js") for url in urls)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        loaded = client.get(url)
        assert loaded.status_code == 200, url
        assert len(loaded.content) > 0
        if url != "/openapi.json":
            assert loaded.headers["cache-control"] == ASSET_CACHE_CONTROL


def test_the_assets_carry_their_versions_and_nothing_else_is_answered(
    client: TestClient,
) -> None:
    urls = references(client.get("/docs").text) + references(client.get("/redoc").text)
    assets = [url for url in urls if url.startswith("/docs/assets/")]
    assert {url.split("/")[3].split("@")[0] for url in assets} == {"swagger-ui-dist", "redoc"}
    assert all(re.search(r"@\d+\.\d+\.\d+/", url) for url in assets)
    for url in (
        "/docs/assets/swagger-ui-dist@0.0.0/swagger-ui-bundle.js",
        "/docs/assets/redoc@2/versions.json",
        "/docs/assets/x/..%2F..%2Fdocs.py",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert answer.json()["error"]["code"] == "NOT_FOUND"
