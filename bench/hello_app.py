"""The raw ASGI "hello" baseline, served by uvicorn like tokenward (same workers, no access log)."""

from __future__ import annotations

from typing import Any

_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"5")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain a request body, if any
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"hello"})
