"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served with their scripts from the package,
and the last touches to the OpenAPI document they show.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a network without internet
access they stay blank. The files are vendored in ``docs_assets/`` by
``scripts/refresh-docs-assets.sh`` (npm at refresh time, never at run time) and answered here.
Their URLs carry the packages' versions, so they can be cached for a year: a refresh changes
the URLs, and no browser keeps an old script under a new page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

ASSETS = Path(__file__).with_name("docs_assets")
ASSETS_PREFIX = "/docs/assets"
#: The URLs never change content (they name the versions), so a year and ``immutable``.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"

_SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
_REDOC_FILES = ("redoc.standalone.js",)


def _asset_urls() -> dict[str, Path]:
    """URL path -> file, for exactly the files the pages load: nothing else is answered."""
    versions = json.loads((ASSETS / "versions.json").read_text())
    urls = {}
    for package, names in (("swagger-ui-dist", _SWAGGER_FILES), ("redoc", _REDOC_FILES)):
        for name in names:
            urls[f"{ASSETS_PREFIX}/{package}@{versions[package]}/{name}"] = ASSETS / name
    return urls


#: The faces whose every error body is their own: FastAPI's default 422 body
#: (``HTTPValidationError``), which it declares on any operation with parameters, is never sent.
_OWN_ERROR_BODIES = ("/v1/", "/oauth2/")


def install(
    app: FastAPI,
    *,
    open_operations: Iterable[tuple[str, str]] = (),
    docs_url: str = "/docs",
    redoc_url: str = "/redoc",
) -> None:
    """Adds the two pages, Swagger UI's OAuth2 redirect page and the assets to ``app``, which
    must be built with ``docs_url=None, redoc_url=None``.

    ``open_operations`` (``("post", "/v1/verify")``...) take a credential when one is sent but
    need none with this configuration: the document lists no security requirement for them.
    """
    app.openapi = _refined(app.openapi, frozenset(open_operations))  # type: ignore[method-assign]
    urls = _asset_urls()

    def url_of(name: str) -> str:
        return next(url for url, path in urls.items() if path.name == name)

    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = f"{docs_url}/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=url_of("swagger-ui-bundle.js"),
            swagger_css_url=url_of("swagger-ui.css"),
            swagger_favicon_url=url_of("favicon-32x32.png"),
            oauth2_redirect_url=redirect_url,
            # Swagger UI would otherwise send the document to an online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=url_of("redoc.standalone.js"),
            redoc_favicon_url=url_of("favicon-32x32.png"),
            with_google_fonts=False,
        )

    async def asset(request: Request) -> Response:
        path = urls.get(request.url.path)
        if path is None:
            raise HTTPException(404, "no such documentation asset")
        return FileResponse(path, headers={"Cache-Control": ASSET_CACHE_CONTROL})

    # Not part of the API, so not in its OpenAPI document.
    for path, endpoint in (
        (docs_url, swagger_ui),
        (redirect_url, oauth2_redirect),
        (redoc_url, redoc),
        (ASSETS_PREFIX + "/{package}/{name}", asset),
    ):
        app.add_route(path, endpoint, methods=["GET"], include_in_schema=False)


def _refined(
    generate: Callable[[], dict[str, Any]], open_operations: frozenset[tuple[str, str]]
) -> Callable[[], dict[str, Any]]:
    """FastAPI's document generator, followed by what it cannot know from the routes.

    The credential of an open operation is an optional dependency, which FastAPI declares as a
    requirement; whether it is needed depends on settings, known only when the app is built.
    """
    refined: dict[str, Any] | None = None

    def document() -> dict[str, Any]:
        nonlocal refined
        if refined is None:
            refined = generate()
            for path, operations in refined["paths"].items():
                for method, operation in operations.items():
                    if (method, path) in open_operations:
                        operation.pop("security", None)
                    if path.startswith(_OWN_ERROR_BODIES):
                        _drop_default_validation_error(operation)
        return refined

    return document


def _drop_default_validation_error(operation: dict[str, Any]) -> None:
    answer = operation.get("responses", {}).get("422", {})
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    if schema.get("$ref", "").endswith("/HTTPValidationError"):
        del operation["responses"]["422"]
