"""The outermost layer of every request: its id, one log line, and the HTTP metrics."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward import metrics
from tokenward.api.middleware import REQUEST_ID_HEADER, request_id_of

log = logging.getLogger("tokenward.requests")

#: Verification is every protected request of every service: its line is written at debug
#: level, where it costs nothing unless asked for (metrics count it at every level).
_DEBUG_ROUTES = frozenset({"/v1/verify"})


class RequestObservation:
    """Gives each request an id (the caller's ``X-Request-ID`` when sane), which every answer
    carries; after the answer, counts it by route template and status and logs one line.
    ``POST /v1/verify`` does the same for itself, outside this layer (``VerifyFastPath``).

    A ``Location`` the framework builds (a trailing-slash redirect, Devo's created token) is
    absolute, from the request's ``Host`` header, which the client chooses: its origin is
    replaced by ``public_url`` (``TOKENWARD_PUBLIC_URL``), or dropped when that is not set.

    Routes are labelled by template (``/v1/tenants/{tenant}``), never by raw path, so that
    metrics keep a bounded set of labels; unknown paths count as ``unmatched``.
    """

    def __init__(self, app: ASGIApp, *, public_url: str | None = None) -> None:
        self.app = app
        self.origin = (public_url or "").rstrip("/").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, _location(value, self.origin) if name == b"location" else value)
                    for name, value in message.get("headers", [])
                ]
                message["headers"] = [*headers, header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            record_request(scope, _route_of(scope), status, started, request_id)


def record_request(scope: Scope, route: str, status: int, started: float, request_id: str) -> None:
    """Counts an answered request and logs its line; for routes answered outside this layer
    (``api/native/fast_verify.py``) too."""
    metrics.HTTP_REQUESTS.count(route, scope["method"], status)
    level = logging.DEBUG if route in _DEBUG_ROUTES else logging.INFO
    if log.isEnabledFor(level):
        _log_request(scope, route, status, started, level, request_id)


def _log_request(
    scope: Scope, route: str, status: int, started: float, level: int, request_id: str
) -> None:
    state = scope.get("state", {})
    log.log(
        level,
        "%s %s %s",
        scope["method"],
        route,
        status,
        extra={
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "request_id": request_id,
            "tenant": state.get("tenant"),
            "actor": state.get("actor"),
        },
    )


def _location(value: bytes, origin: bytes) -> bytes:
    """``value``'s path and query after ``origin``: never the host a client named."""
    scheme = value.find(b"://")
    if scheme == -1 or value.startswith(b"/"):  # already a path ("://" in its query)
        path = value
    else:
        start = value.find(b"/", scheme + 3)
        path = value[start:] if start != -1 else b"/"
    # One leading slash: "//host/..." would be a reference to another host.
    return origin + b"/" + path.lstrip(b"/")


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"
