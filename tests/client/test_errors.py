"""Error answers of a real server become typed exceptions with the API's code and request id."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.client.support import ROOT
from tests.e2e.server import Server
from tokenward.client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    TokenwardError,
    Unauthorized,
    ValidationFailed,
)


def test_each_status_maps_to_its_exception(server: Server, tenant_name: str) -> None:
    with Client(server.url, ROOT) as tw:
        tw.create_tenant(tenant_name)
        cases: list[tuple[type[TokenwardError], int, str, object]] = [
            (Conflict, 409, "TENANT_EXISTS", lambda: tw.create_tenant(tenant_name)),
            (Conflict, 409, "DEFAULT_TENANT", lambda: tw.delete_tenant("default")),
            (NotFound, 404, "NOT_FOUND", lambda: tw.get_token(tenant_name, 999_999)),
            (
                BadRequest,
                400,
                "INVALID_ARGUMENT",
                lambda: tw.create_token(tenant_name, name="x", type="user"),
            ),
            (
                ValidationFailed,
                422,
                "VALIDATION_FAILED",
                lambda: tw.create_token(tenant_name, name="x", role="superuser"),
            ),
            (
                PayloadTooLarge,
                413,
                "PAYLOAD_TOO_LARGE",
                lambda: tw.create_token(tenant_name, name="x", metadata={"a": "b" * 70_000}),
            ),
        ]
        for kind, status, code, action in cases:
            with pytest.raises(kind) as raised:
                action()  # type: ignore[operator]
            error = raised.value
            assert (error.status, error.code) == (status, code), error
            assert error.message and re.fullmatch(r"[0-9a-f]{32}", error.request_id or "")
            assert code in str(error) and str(status) in str(error)

        viewer = tw.create_token(tenant_name, name="viewer", audience=["tokenward"])
    with Client(server.url, viewer.secret) as weak:
        with pytest.raises(Forbidden) as forbidden:
            weak.create_token(tenant_name, name="escalate", role="admin")
        assert forbidden.value.status == 403
        assert forbidden.value.code in {"FORBIDDEN", "ROLE_ESCALATION"}


def test_a_bad_credential_is_unauthorized(server: Server) -> None:
    with (
        Client(server.url, "tw_not-a-real-credential") as tw,
        pytest.raises(Unauthorized) as raised,
    ):
        tw.list_tenants()
    assert raised.value.code == "UNAUTHENTICATED" and raised.value.status == 401


def test_the_request_id_is_the_one_the_client_sent(server: Server) -> None:
    sent: list[str] = []

    def record(request: httpx.Request) -> None:
        sent.append(request.headers["X-Request-ID"])

    http = httpx.Client(base_url=server.url, event_hooks={"request": [record]})
    # No credential at all.
    with http, Client(http=http) as tw, pytest.raises(Unauthorized) as raised:
        tw.get_tenant("default")
    assert len(sent) == 1 and raised.value.request_id == sent[0]


def test_async_errors_are_the_same_classes(server: Server) -> None:
    async def scenario() -> TokenwardError:
        async with AsyncClient(server.url, ROOT) as tw:
            try:
                await tw.create_tenant("default")
            except TokenwardError as error:
                return error
        raise AssertionError("no error raised")

    error = asyncio.run(scenario())
    assert isinstance(error, Conflict) and error.code == "TENANT_EXISTS"
    assert error.request_id
