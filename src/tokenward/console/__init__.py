"""The web console at ``/console``: server-rendered pages over the service layer.

``create_console(config)`` builds the ASGI app that ``tokenward.app`` mounts. It reads two
things from the lifespan state: ``core`` (as every face does) and ``console_sessions``
(``STATE_KEY``), a ``SessionStore`` (``console/sessions.py``) that the composition root
builds on the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward.console import routes
from tokenward.console.assets import LONG_CACHE, Assets
from tokenward.console.rendering import Renderer
from tokenward.console.sessions import Lifetimes, SessionStore
from tokenward.domain.errors import TokenwardError, Unauthenticated

__all__ = ["PREFIX", "STATE_KEY", "ConsoleConfig", "SessionStore", "create_console"]

#: The lifespan state's key for the console's ``SessionStore``.
STATE_KEY = "console_sessions"
PREFIX = "/console"

#: No script but the console's own files, no inline script or style, no eval, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    idle_seconds: int = 30 * 60
    max_age_seconds: int = 12 * 3600
    #: Cookies are ``Secure`` even on a plain-HTTP request (TLS ended at a proxy).
    https_only: bool = False


def create_console(config: ConsoleConfig) -> ASGIApp:
    assets = Assets()
    renderer = Renderer(assets, prefix=PREFIX)
    lifetimes = Lifetimes(
        idle=timedelta(seconds=config.idle_seconds),
        max_age=timedelta(seconds=config.max_age_seconds),
    )
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(routes.build_router(renderer, lifetimes, https_only=config.https_only))

    @app.get("/static/{name}")
    async def static(name: str) -> Response:
        found = assets.find(name)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            found.body, media_type=found.media_type, headers={"Cache-Control": LONG_CACHE}
        )

    @app.exception_handler(routes.SignInNeeded)
    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        if routes.SESSION_COOKIE in request.cookies:
            response.delete_cookie(routes.SESSION_COOKIE, path=routes.COOKIE_PATH)
        return response

    @app.exception_handler(routes.CsrfRefused)
    async def csrf_refused(request: Request, exc: Exception) -> Response:
        return error_page(
            renderer,
            403,
            "This form was not sent from this console page (its security token is missing or "
            "wrong). Reload the page and try again.",
        )

    @app.exception_handler(routes.FormTooLarge)
    async def too_large(request: Request, exc: Exception) -> Response:
        return error_page(renderer, 413, "The form is too large for this server.")

    @app.exception_handler(TokenwardError)
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TokenwardError)
        if isinstance(exc, Unauthenticated):
            return await sign_in_needed(request, exc)
        return error_page(renderer, routes.status_of(exc), exc.message)

    return SecurityHeaders(app)


def error_page(renderer: Renderer, status: int, message: str) -> HTMLResponse:
    return HTMLResponse(
        renderer.render("error.html", status=status, message=message), status_code=status
    )


class SecurityHeaders:
    """The same headers on every console response; pages are never cached (they show
    tokens, and some a secret), the hashed static files for a year."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _label_route(scope)
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                ]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True, slots=True)
class _MountedRoute:
    path: str


def _label_route(scope: Scope) -> None:
    """The request log and the HTTP metrics (api/observability.py) name a request by its
    route's template, which inside this mounted app lacks the mount's prefix: put it back, so
    that ``/console/t/{tenant}/tokens`` is not read as an API route."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and not path.startswith(PREFIX):
        scope["route"] = _MountedRoute(PREFIX + path)
