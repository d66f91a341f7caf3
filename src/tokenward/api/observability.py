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

    Routes are labelled by template (``/v1/tenants/{tenant}``), never by raw path, so that
    metrics keep a bounded set of labels; unknown paths count as ``unmatched``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                message["headers"] = [*message.get("headers", []), header]
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


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"
