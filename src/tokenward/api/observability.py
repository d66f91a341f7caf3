"""The outermost layer of every request: its id, one log line, and the HTTP metrics."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenward import metrics
from tokenward.api.middleware import REQUEST_ID_HEADER, request_id_of

log = logging.getLogger("tokenward.requests")

#: Routes answered outside the FastAPI router (api/native/fast_verify.py) are named here.
_OWN_ROUTES = frozenset({"/v1/verify"})

#: Verification is every protected request of every service: its line is written at debug
#: level, where it costs nothing unless asked for (metrics count it at every level).
_DEBUG_ROUTES = frozenset({"/v1/verify"})


class RequestObservation:
    """Gives each request an id (the caller's ``X-Request-ID`` when sane), which every answer
    carries; after the answer, counts it by route template and status and logs one line.

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
            route = _route_of(scope)
            _counter(route, scope["method"], status).inc()
            level = logging.DEBUG if route in _DEBUG_ROUTES else logging.INFO
            if log.isEnabledFor(level):
                _log_request(scope, route, status, started, level)


def _log_request(scope: Scope, route: str, status: int, started: float, level: int) -> None:
    state = scope["state"]
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
            "request_id": state["request_id"],
            "tenant": state.get("tenant"),
            "actor": state.get("actor"),
        },
    )


@functools.lru_cache(maxsize=4096)
def _counter(route: str, method: str, status: int) -> Any:
    """The labelled child, looked up once: ``labels()`` costs about 3 µs a call. Routes are
    templates and methods and statuses few, so the set of keys stays small."""
    return metrics.HTTP_REQUESTS.labels(route, method, str(status))


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return scope["path"] if scope["path"] in _OWN_ROUTES else "unmatched"
