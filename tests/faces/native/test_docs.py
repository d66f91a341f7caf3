"""``/docs`` and ``/redoc`` work without internet access: every file they load is the app's."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, issue
from tokenward.api.docs import ASSET_CACHE_CONTROL

API_MD = Path(__file__).resolve().parents[3] / "docs" / "api.md"


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


def test_times_are_written_as_docs_api_md_shows(client: TestClient) -> None:
    shown = re.search(r"\(`(\d{4}-\d\d-\d\dT[\d:.]+Z)`\)", API_MD.read_text())
    assert shown is not None, "docs/api.md shows no time"
    shape = re.sub(r"\d", lambda _: r"\d", re.escape(shown.group(1)))
    made = issue(client, "default", ttl_seconds=60)
    listed = client.get("/v1/audit", headers=ROOT_HEADERS).json()["items"][0]["at"]
    verified = client.post("/v1/verify", json={"token": made["secret"]}).json()["token"]
    for written in (made["created_at"], made["expires_at"], listed, verified["created_at"]):
        assert re.fullmatch(shape, written), (written, shown.group(1))
        assert written.endswith("000Z")  # kept to the millisecond
