"""One HTTP attempt to deliver an event: signed, to a checked address, no redirect followed,
bounded in time as a whole."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from tokenward.lifecycle.addresses import RefusedAddress, resolve

USER_AGENT = "tokenward-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def client(*, connect_timeout: float, total_timeout: float) -> httpx.AsyncClient:
    """No environment proxies (they would bypass the address check) and no redirects (a
    redirect to a private address is the classic way around one)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
    )


async def send(
    http: httpx.AsyncClient,
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    allow_private: bool,
    total_timeout: float,
) -> Outcome:
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(total_timeout):
            target = await resolve(url, allow_private=allow_private)
            extensions = {"sni_hostname": target.server_name} if target.server_name else {}
            request = http.build_request(
                "POST",
                target.url,
                content=body.encode("utf-8"),
                headers={
                    **headers,
                    "host": target.host_header,
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                },
                extensions=extensions,
            )
            # The answer's body is not read: a hostile receiver could stream one forever.
            response = await http.send(request, stream=True)
            await response.aclose()
    except RefusedAddress as exc:
        return Outcome(None, took(), f"refused: {exc}")
    except TimeoutError:
        return Outcome(None, took(), f"timed out after {total_timeout:g} s")
    except httpx.TimeoutException as exc:
        return Outcome(None, took(), f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Outcome(None, took(), f"{type(exc).__name__}: {str(exc)[:200]}")
    status = response.status_code
    if 300 <= status < 400:
        return Outcome(status, took(), "redirect not followed")
    return Outcome(status, took(), None if 200 <= status < 300 else f"HTTP {status}")
