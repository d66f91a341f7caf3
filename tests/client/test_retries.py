"""Retries: idempotent calls on connection errors and 502/503/504, other calls only when the
request never left. Against a closed port, a real HTTP server that answers 503, and a real
``tokenward serve`` that starts while the client is already calling."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.client.support import ROOT
from tests.helpers import TOKENWARD, free_port
from tokenward.client import (
    AsyncClient,
    Client,
    ServerError,
    TransportError,
    Unavailable,
)


class Counting:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def hook(self, request: httpx.Request) -> None:
        self.requests.append((request.method, request.url.path))

    async def async_hook(self, request: httpx.Request) -> None:
        self.hook(request)


def counted_client(url: str, counting: Counting, retries: int = 2) -> Client:
    http = httpx.Client(base_url=url, timeout=2, event_hooks={"request": [counting.hook]})
    return Client(http=http, retries=retries, backoff=0.01)


def test_a_closed_port_is_retried_then_raises_transport_error() -> None:
    counting = Counting()
    tw = counted_client(f"http://127.0.0.1:{free_port()}", counting, retries=2)
    with pytest.raises(TransportError) as raised:
        tw.list_tenants()
    assert len(counting.requests) == 3
    assert raised.value.status is None and raised.value.code == "TRANSPORT_ERROR"
    assert raised.value.request_id
    # A create never reached the server (connection refused), so repeating it is safe too.
    with pytest.raises(TransportError):
        tw.create_token(name="x")
    assert len(counting.requests) == 6


def test_backoff_grows_between_attempts() -> None:
    tw = Client(f"http://127.0.0.1:{free_port()}", retries=3, backoff=0.05)
    started = time.monotonic()
    with pytest.raises(TransportError):
        tw.get_tenant("default")
    # Waits of 0.05, 0.1, 0.2 s, each jittered to at least half: at least 0.175 s in all.
    assert time.monotonic() - started >= 0.175
    assert tw.retry_policy.delay(0) <= 0.05 < tw.retry_policy.delay(3) <= 0.4


class _Unavailable(BaseHTTPRequestHandler):
    status = 503
    hits: list[str] = []

    def _answer(self) -> None:
        type(self).hits.append(f"{self.command} {self.path}")
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/v1/tenants/gateway"):
            body, kind = b"<html>bad gateway</html>", "text/html"
            self.send_response(502)
        else:
            error = {"code": "UNAVAILABLE", "message": "db down", "request_id": "r-1"}
            body, kind = json.dumps({"error": error}).encode(), "application/json"
            self.send_response(503)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def unavailable() -> Iterator[str]:
    _Unavailable.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_503_retries_idempotent_calls_only(unavailable: str) -> None:
    with Client(unavailable, ROOT, retries=2, backoff=0.01) as tw:
        with pytest.raises(Unavailable) as raised:
            tw.get_tenant("acme")
        assert (raised.value.code, raised.value.request_id) == ("UNAVAILABLE", "r-1")
        assert len(_Unavailable.hits) == 3
        with pytest.raises(Unavailable):
            tw.verify("tw_x")
        assert len(_Unavailable.hits) == 6
        # Sent and answered: a create or rotate may have taken effect, so never repeated.
        with pytest.raises(Unavailable):
            tw.create_token("acme", name="once")
        with pytest.raises(Unavailable):
            tw.rotate_token("acme", 1)
        with pytest.raises(Unavailable):
            tw.update_token("acme", 1, name="n")
        assert len(_Unavailable.hits) == 9
        # A non-JSON 502 from a proxy still becomes a typed error.
        with pytest.raises(ServerError) as gateway:
            tw.get_tenant("gateway")
        assert (gateway.value.status, gateway.value.code) == (502, "HTTP_502")
        assert len(_Unavailable.hits) == 12


def test_the_async_client_retries_alike(unavailable: str) -> None:
    counting = Counting()

    async def scenario() -> None:
        http = httpx.AsyncClient(
            base_url=unavailable, event_hooks={"request": [counting.async_hook]}
        )
        async with http, AsyncClient(http=http, retries=1, backoff=0.01) as tw:
            with pytest.raises(Unavailable):
                await tw.list_audit()
            with pytest.raises(Unavailable):
                await tw.create_tenant("x")

    asyncio.run(scenario())
    assert counting.requests == [("GET", "/v1/audit")] * 2 + [("POST", "/v1/tenants")]


def test_a_call_made_while_the_server_starts_succeeds(tmp_path: Path) -> None:
    port = free_port()
    counting = Counting()
    tw = counted_client(f"http://127.0.0.1:{port}", counting, retries=30)
    env = {**os.environ, "TOKENWARD_DATA_DIR": str(tmp_path), "TOKENWARD_ADMIN_TOKEN": ROOT}
    log = (tmp_path.parent / "late.log").open("wb")
    process = subprocess.Popen(
        [str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        verdict = tw.verify("tw_x")  # sent before the server listens
        assert verdict.code == "MALFORMED"
        assert len(counting.requests) > 1
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
