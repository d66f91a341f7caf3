"""The console through the ASGI app: ``/`` leads to it, and its files are named by their
content and cached for a year."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient

from tokenward.app import create_app
from tokenward.console.assets import STATIC_DIR
from tokenward.settings import Settings


def test_the_root_redirects_to_the_console(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        answer = client.get("/", follow_redirects=False)
    assert answer.status_code in (302, 303, 307, 308)
    assert answer.headers["location"].rstrip("/").endswith("/console")


def test_assets_carry_a_hash_of_their_content_and_a_long_cache(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        page = client.get("/console/sign-in").text
        urls = re.findall(r'(?:href|src)="(/console/static/[^"]+)"', page)
        assert {url.rsplit("/", 1)[1].split(".")[0] for url in urls} == {"console"}
        assert len(urls) == 2  # the style sheet and the script
        for url in urls:
            stem, digest, suffix = url.rsplit("/", 1)[1].split(".")
            answer = client.get(url)
            assert answer.status_code == 200
            assert answer.content == (STATIC_DIR / f"{stem}.{suffix}").read_bytes()
            assert digest == hashlib.sha256(answer.content).hexdigest()[: len(digest)]
            cache = answer.headers["cache-control"]
            assert "immutable" in cache and "max-age=31536000" in cache
        assert client.get("/console/static/console.000000000000.js").status_code == 404
        assert client.get("/console/static/console.js").status_code == 404
