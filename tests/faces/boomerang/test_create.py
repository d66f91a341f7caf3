"""POST /api/v2/token: TokenCreateRequest, its refusals, and the token it makes in the core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.faces.boomerang.support import (
    DATE,
    PREFIXES,
    assert_error,
    create,
    created,
)
from tests.helpers import ROOT_HEADERS
from tokenward.domain import secrets


def native(client: TestClient, token_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/tenants/default/tokens/{token_id}", headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def verify(client: TestClient, secret: str, **checks: Any) -> dict[str, Any]:
    answer = client.post("/v1/verify", json={"token": secret, **checks})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize(
    ("kind", "principal", "permissions"),
    [
        ("global", None, ["**/**"]),
        ("team", "team-1", ["workflow/read", "workflow/write"]),
        ("workflow", "wf-9", ["workflow/action", "workflowrun/delete"]),
        ("user", "user-7", None),
    ],
)
def test_each_type_is_created_verified_and_seen_natively(
    client: TestClient, kind: str, principal: str | None, permissions: list[str] | None
) -> None:
    body: dict[str, Any] = {"type": kind, "name": f"{kind} token", "description": "for CI"}
    if principal is not None:
        body["principal"] = principal
    if permissions is not None:
        body["permissions"] = permissions
    answer = create(client, **body)
    assert answer.status_code == 200, answer.text
    made = answer.json()
    assert set(made) == {"id", "type", "token", "expirationDate"}
    assert isinstance(made["id"], str) and made["id"].isdigit()
    assert made["type"] == kind
    assert made["expirationDate"] is None
    secret = made["token"]
    assert secret.startswith(PREFIXES[kind]) and secrets.is_well_formed(secret)

    verdict = verify(client, secret)
    assert verdict["valid"] is True and verdict["code"] == "VALID"
    assert verdict["token"]["id"] == int(made["id"])
    if permissions:
        assert verify(client, secret, scopes=permissions[:1])["valid"] is True
    assert verify(client, secret, scopes=["team/delete"])["code"] == "INSUFFICIENT_SCOPE"

    stored = native(client, made["id"])
    assert stored["name"] == f"{kind} token"
    assert stored["description"] == "for CI"
    assert stored["type"] == kind
    assert stored["principal"] == principal
    assert stored["scopes"] == (permissions or [])
    assert stored["role"] == "viewer"
    assert stored["tenant"] == "default"
    assert stored["owner"] == "root"
    assert stored["expires_at"] is None
    assert stored["active"] is True
    assert stored["secret_hint"].startswith(PREFIXES[kind])


def test_role_maps_to_the_token_role(client: TestClient) -> None:
    for role in ("viewer", "editor", "admin"):
        made = created(client, name=role, role=role)
        assert native(client, made["id"])["role"] == role


def test_the_products_role_names(client: TestClient) -> None:
    """flow.service.workflow RoleEnum: owner, editor, reader."""
    for role, native_role in (("reader", "viewer"), ("editor", "editor"), ("owner", "admin")):
        made = created(client, name=role, role=role)
        assert native(client, made["id"])["role"] == native_role


def test_a_date_is_its_start_in_utc(client: TestClient) -> None:
    """Jackson reads ``2031-01-01`` into a Date at midnight UTC; the UIs' date pickers mean
    "expiring at the start of the entered day"."""
    made = created(client, expirationDate="2031-01-01")
    assert made["expirationDate"] == "2031-01-01T00:00:00.000+00:00"


# The 2024 UI (boomerang-io/flow.client.web, release-4.0.0, CreateToken/Form/index.tsx) sends
# `**/${principal}/Read` etc.; its global token page passes principal "**".
@pytest.mark.parametrize(
    ("kind", "principal", "sent", "stored"),
    [
        ("team", "t1", ["**/t1/Read", "**/t1/Write"], ["**/read", "**/write"]),
        ("workflow", "w1", ["**/w1/Action", "**/w1/Delete"], ["**/action", "**/delete"]),
        ("global", "**", ["**/**/Read"], ["**/read"]),
        # The captured 2024 answer (flow.client.web src/ApiServer/fixtures/tokens.js) spells
        # the actions in capitals.
        ("team", "64b8d5a5040e205ee3383ab1", ["**/64b8d5a5040e205ee3383ab1/READ"], ["**/read"]),
        # A global token for one principal stays bound to it: never wider than asked.
        ("global", None, ["workflow/t7/Read", "**/read"], ["workflow/t7/read", "**/read"]),
        # The current UI's form, unchanged.
        ("team", "t1", ["**/read", "**/write"], ["**/read", "**/write"]),
    ],
)
def test_both_generations_of_permissions(
    client: TestClient, kind: str, principal: str | None, sent: list[str], stored: list[str]
) -> None:
    made = created(client, type=kind, principal=principal, permissions=sent)
    assert native(client, made["id"])["scopes"] == stored


def test_a_2024_permission_for_another_principal_is_refused(client: TestClient) -> None:
    """The 2024 service refuses a team or workflow permission for another principal (1012)."""
    for kind in ("team", "workflow"):
        answer = create(client, type=kind, name="x", principal="t1", permissions=["**/t2/Read"])
        assert_error(answer, 400, 1012, "TOKEN_INVALID_PERMISSION")


@pytest.mark.parametrize(
    "sent",
    [
        "2099-08-02T10:15:30.250+00:00",
        "2099-08-02T10:15:30.250Z",
        "2099-08-02T12:15:30.250+02:00",
        "2099-08-02T05:15:30.250-0500",
        "2099-08-02T10:15:30.250123Z",
    ],
)
def test_expiration_date_forms(client: TestClient, sent: str) -> None:
    made = created(client, expirationDate=sent)
    assert made["expirationDate"] == "2099-08-02T10:15:30.250+00:00"
    stored = native(client, made["id"])
    assert datetime.fromisoformat(stored["expires_at"]) == datetime(
        2099, 8, 2, 10, 15, 30, 250000, tzinfo=UTC
    )


def test_expiration_date_as_epoch_milliseconds(client: TestClient) -> None:
    moment = datetime(2099, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    millis = int(moment.timestamp() * 1000)
    made = created(client, expirationDate=millis)
    assert made["expirationDate"] == "2099-01-02T03:04:05.678+00:00"


def test_soon_expiring_token_verifies_until_then(client: TestClient) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    made = created(client, expirationDate=soon.isoformat())
    assert DATE.fullmatch(made["expirationDate"])
    assert verify(client, made["token"])["valid"] is True


@pytest.mark.parametrize(
    "sent",
    [
        "2099-08-02T10:15:30",
        "2099-02-30",
        "2099-8-2",
        "next week",
        "",
        True,
        1.5,
        {"at": 1},
        -(10**16),
    ],
)
def test_bad_expiration_dates(client: TestClient, sent: object) -> None:
    body = assert_error(
        create(client, type="global", name="x", permissions=["**/**"], expirationDate=sent),
        400,
        1010,
        "TOKEN_INVALID_REQ",
    )
    assert "expirationDate" in body["message"]


def test_past_expiration_is_refused(client: TestClient) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = assert_error(
        create(client, type="global", name="x", permissions=["**/**"], expirationDate=past),
        400,
        1010,
        "TOKEN_INVALID_REQ",
    )
    assert body["message"] == "expirationDate must be in the future"


def test_session_tokens_are_refused_first(client: TestClient) -> None:
    full = {"type": "session", "name": "s", "principal": "u", "permissions": ["**/**"]}
    assert_error(create(client, **full), 400, 1011, "TOKEN_INVALID_SESSION_REQ")
    # Checked before anything else, as the product does.
    assert_error(create(client, type="session"), 400, 1011, "TOKEN_INVALID_SESSION_REQ")
    assert_error(
        create(client, type="session", permissions=["nope"]), 400, 1011, "TOKEN_INVALID_SESSION_REQ"
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "no type", "permissions": ["**/**"]},
        {"type": "galaxy", "name": "x", "permissions": ["**/**"]},
        {"type": "GLOBAL", "name": "x", "permissions": ["**/**"]},
        {"type": "global", "permissions": ["**/**"]},
        {"type": "global", "name": "", "permissions": ["**/**"]},
        {"type": "global", "name": "   ", "permissions": ["**/**"]},
        {"type": "global", "name": 7, "permissions": ["**/**"]},
        {"type": "global", "name": "x" * 201, "permissions": ["**/**"]},
        {"type": "global", "name": "x"},
        {"type": "global", "name": "x", "permissions": []},
        {"type": "global", "name": "x", "permissions": None},
        {"type": "global", "name": "x", "permissions": "workflow/read"},
        {"type": "global", "name": "x", "permissions": [3]},
        {"type": "team", "name": "x", "permissions": ["**/**"]},
        {"type": "team", "name": "x", "principal": " ", "permissions": ["**/**"]},
        {"type": "workflow", "name": "x", "principal": None, "permissions": ["**/**"]},
        {"type": "user", "name": "x"},
        {"type": "workflow", "name": "x", "principal": "w"},
        {"type": "global", "name": "x", "permissions": ["**/**"], "role": "root"},
        {"type": "global", "name": "x", "permissions": ["**/**"], "role": "superuser"},
        {"type": "global", "name": "x", "permissions": ["**/**"], "description": 5},
    ],
)
def test_bad_requests(client: TestClient, body: dict[str, Any]) -> None:
    assert_error(create(client, **body), 400, 1010, "TOKEN_INVALID_REQ")


@pytest.mark.parametrize(
    "permission",
    [
        "workflow",
        "workflow/",
        "/read",
        "workflow/execute",
        "team/t1/execute",
        "a/b/c/read",
        "team/t_1/read",
        "work_flow/read",
        "workflow/read ",
        "*/read",
        "",
    ],
)
def test_bad_permissions(client: TestClient, permission: str) -> None:
    for kind, principal in (("global", None), ("team", "t1"), ("user", "u1")):
        answer = create(
            client,
            type=kind,
            name="x",
            principal=principal,
            permissions=["workflow/read", permission],
        )
        assert_error(answer, 400, 1012, "TOKEN_INVALID_PERMISSION")


def test_permission_forms_that_pass(client: TestClient) -> None:
    allowed = ["**/**", "workflow/**", "**/read", "task-run/write", "Team2/action", "x/delete"]
    made = created(client, permissions=allowed)
    assert native(client, made["id"])["scopes"] == allowed


def test_global_token_drops_a_principal(client: TestClient) -> None:
    made = created(client, type="global", principal="someone")
    assert native(client, made["id"])["principal"] is None


def test_unknown_fields_are_ignored(client: TestClient) -> None:
    made = created(client, teams=["a"], token="bfg_chosen", id="99")
    assert made["id"] != "99" and made["token"] != "bfg_chosen"


def test_bad_json_and_shapes(client: TestClient) -> None:
    for raw in (b"{", b"[]", b'"text"', b"null", b""):
        answer = client.post(
            "/api/v2/token",
            content=raw,
            headers={**ROOT_HEADERS, "Content-Type": "application/json"},
        )
        assert_error(answer, 400, 1010, "TOKEN_INVALID_REQ")


def test_messages_never_echo_the_input(client: TestClient) -> None:
    leaked = secrets.generate("bfg")
    for body in (
        {"type": "global", "name": leaked * 10, "permissions": ["**/**"]},
        {"type": "global", "name": "x", "permissions": [leaked]},
        {"type": leaked, "name": "x", "permissions": ["**/**"]},
        {"type": "global", "name": "x", "permissions": ["**/**"], "expirationDate": leaked},
        {"type": "global", "name": "x", "permissions": ["**/**"], "role": leaked},
    ):
        answer = create(client, **body)
        assert answer.status_code == 400
        assert leaked not in answer.text


def test_secret_is_never_shown_again(client: TestClient) -> None:
    made = created(client)
    listed = client.get("/api/v2/token/query", headers=ROOT_HEADERS)
    assert made["token"] not in listed.text
    assert all("token" not in t for t in listed.json()["content"])
