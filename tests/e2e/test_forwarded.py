"""Forwarded headers against a real ``tokenward serve`` on 127.0.0.1 (issue 13): believed
only from the proxies named in ``TOKENWARD_TRUSTED_PROXIES``. uvicorn's own default believes
any loopback peer, which let a client on the host forge the audit log's address and escape
the failed-authentication limit by naming a new address for each try."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server
from tests.helpers import ROOT_HEADERS, ROOT_TOKEN, bearer

LIMIT = 3
BAD = bearer("not-a-credential")

Start = Callable[..., httpx.Client]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Start]:
    servers: list[Server] = []
    clients: list[httpx.Client] = []

    def start(**env: str) -> httpx.Client:
        base = {"TOKENWARD_ADMIN_TOKEN": ROOT_TOKEN, "TOKENWARD_AUTH_FAILURE_LIMIT": str(LIMIT)}
        server = Server(tmp_path / f"data{len(servers)}", {**base, **env})
        servers.append(server)
        clients.append(httpx.Client(base_url=server.url, timeout=10))
        return clients[-1]

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.stop()


def _audited_client(http: httpx.Client, forwarded: str) -> str | None:
    made = http.post(
        "/v1/tenants",
        json={"name": "t" + forwarded.replace(".", "-")},
        headers={**ROOT_HEADERS, "X-Forwarded-For": forwarded},
    )
    assert made.status_code == 201, made.text
    records = http.get("/v1/audit", params={"action": "tenant.create"}, headers=ROOT_HEADERS)
    client: str | None = records.json()["items"][0]["client"]
    return client


def _failures_from_many_addresses(http: httpx.Client) -> list[int]:
    """Bad credentials, each naming a new address, then root's own credential."""
    statuses = []
    for i in range(LIMIT * 2):
        forged = {**BAD, "X-Forwarded-For": f"203.0.113.{i + 1}"}
        statuses.append(http.get("/v1/tenants", headers=forged).status_code)
    forged = {**ROOT_HEADERS, "X-Forwarded-For": "203.0.113.200"}
    statuses.append(http.get("/v1/tenants", headers=forged).status_code)
    return statuses


def test_forwarded_headers_are_not_believed_by_default(serve: Start) -> None:
    http = serve()
    assert _audited_client(http, "198.51.100.7") == "127.0.0.1"
    statuses = _failures_from_many_addresses(http)
    # All from 127.0.0.1: the limit holds, a valid credential from that address too.
    assert statuses == [401] * LIMIT + [429] * (LIMIT + 1)


def test_forwarded_headers_of_a_trusted_proxy_are_believed(serve: Start) -> None:
    http = serve(TOKENWARD_TRUSTED_PROXIES="10.9.0.0/16, 127.0.0.1")
    assert _audited_client(http, "198.51.100.7") == "198.51.100.7"
    # Each forwarded address is counted apart, as behind a real proxy it should be.
    assert _failures_from_many_addresses(http) == [401] * (LIMIT * 2) + [200]


def test_a_bad_trusted_proxies_value_stops_the_server(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="TOKENWARD_TRUSTED_PROXIES"):
        Server(tmp_path / "data", {"TOKENWARD_TRUSTED_PROXIES": "proxy.internal"})
