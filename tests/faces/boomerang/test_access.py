"""Credentials, roles, tenants and the error body on every endpoint of the Boomerang face."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.faces.boomerang.support import (
    CREATE,
    QUERY,
    assert_empty,
    assert_error,
    create,
    created,
    query,
)
from tests.helpers import ROOT_HEADERS, bearer, issue, manager, tenant

GOOD_BODY = {"type": "global", "name": "x", "permissions": ["workflow/read"]}


def call(client: TestClient, endpoint: str, headers: dict[str, str]) -> httpx.Response:
    if endpoint == "create":
        return client.post(CREATE, json=GOOD_BODY, headers=headers)
    if endpoint == "delete":
        return client.delete(f"{CREATE}/1", headers=headers)
    return client.get(QUERY, headers=headers)


@pytest.mark.parametrize("endpoint", ["create", "delete", "query"])
def test_authentication_is_required_everywhere(client: TestClient, endpoint: str) -> None:
    created(client)  # id 1 exists, so a 401 is not a 400 for a missing token
    not_manager = issue(client, role="admin")["secret"]  # no `tokenward` audience
    for headers in [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        bearer("garbage"),
        bearer("bfg_" + "A" * 34),
        bearer(not_manager),
        bearer(ROOT_HEADERS["Authorization"][7:] + "x"),
    ]:
        answer = call(client, endpoint, headers)
        assert_error(answer, 401, 401, "UNAUTHORIZED")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert query(client)["totalElements"] == 2  # nothing was made or deleted


def test_credential_is_checked_before_the_body(client: TestClient) -> None:
    answer = client.post(CREATE, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(answer, 401, 401, "UNAUTHORIZED")
    answer = client.post(CREATE, json={"type": "session"})
    assert_error(answer, 401, 401, "UNAUTHORIZED")


def test_a_viewer_reads_but_neither_creates_nor_deletes(client: TestClient) -> None:
    viewer = bearer(manager(client, role="viewer")["secret"])
    target = created(client, name="target")
    body = assert_error(create(client, viewer, **GOOD_BODY), 403, 403, "PERMISSION_DENIED")
    assert "editor" in body["message"]
    assert_error(
        client.delete(f"{CREATE}/{target['id']}", headers=viewer), 403, 403, "PERMISSION_DENIED"
    )
    assert [t["name"] for t in query(client, viewer)["content"]] == ["viewer manager", "target"]


def test_an_editor_creates_within_its_own_rights(client: TestClient) -> None:
    editor = bearer(
        manager(client, role="editor", scopes=["workflow/read", "team/write"])["secret"]
    )
    made = created(client, editor, role="editor", permissions=["workflow/read"])
    stored = client.get(f"/v1/tenants/default/tokens/{made['id']}", headers=ROOT_HEADERS).json()
    assert stored["role"] == "editor" and stored["scopes"] == ["workflow/read"]
    for body, word in (
        ({**GOOD_BODY, "role": "admin"}, "role"),
        ({**GOOD_BODY, "permissions": ["workflow/delete"]}, "permissions"),
    ):
        answer = create(client, editor, **body)
        message = assert_error(answer, 403, 403, "PERMISSION_DENIED")["message"]
        assert word in message
    assert_empty(client.delete(f"{CREATE}/{made['id']}", headers=editor), 200)
    admin_token = created(client, role="admin")
    answer = client.delete(f"{CREATE}/{admin_token['id']}", headers=editor)
    assert_error(answer, 403, 403, "PERMISSION_DENIED")


def test_an_editor_makes_user_tokens_only_for_itself(client: TestClient) -> None:
    """Attacker review: an editor made a ``user`` token naming any principal, i.e. a
    credential that is that user at Boomerang. Below admin, a user token's principal is the
    caller's own identity (docs/permissions.md); the UI's own flow still works."""
    eddie = bearer(manager(client, role="editor", user="eddie", scopes=["workflow/read"])["secret"])
    as_root = bearer(manager(client, role="editor", scopes=["workflow/read"])["secret"])
    for headers, principal in ((eddie, "bob"), (eddie, "root"), (as_root, "root")):
        answer = create(client, headers, type="user", name="as-another", principal=principal)
        body = assert_error(answer, 403, 403, "PERMISSION_DENIED")
        assert "principal" in body["message"] and principal not in body["message"]
    # flow.web CreateToken for the signed-in user: its own id as principal, no permissions.
    own = {"type": "user", "name": "mine", "principal": "eddie", "description": ""}
    assert create(client, eddie, **own, expirationDate=None).status_code == 200
    admin = bearer(manager(client, role="admin", user="ada")["secret"])
    assert created(client, admin, type="user", name="for-bob", principal="bob")
    users = query(client, types="user")["content"]
    assert sorted((t["name"], t["principal"]) for t in users) == [
        ("for-bob", "bob"),
        ("mine", "eddie"),
    ]


def test_permissions_are_granted_only_over_the_callers_own_principal(client: TestClient) -> None:
    """Attacker review: permissions were compared as strings, whoever they were for. A
    team's editor holds ``workflow/read`` over its team's workflows; handing it out on another
    team's, a workflow's, or a global token (every principal's) is no editor's to do."""
    team = bearer(
        manager(
            client,
            role="editor",
            user="eddie",
            type="team",
            principal="t1",
            scopes=["workflow/read"],
        )["secret"]
    )
    for permissions in (["workflow/read"], ["workflow/t1/read"]):
        made = create(client, team, type="team", name="t1", principal="t1", permissions=permissions)
        assert made.status_code == 200, made.text
    for kind, principal, permissions in (
        ("team", "t2", ["workflow/read"]),
        ("workflow", "w1", ["workflow/read"]),
        ("global", None, ["workflow/read"]),
        ("global", None, ["workflow/t1/read"]),
        ("user", "eddie", []),
    ):
        body = {"type": kind, "name": "x", "principal": principal, "permissions": permissions}
        assert_error(create(client, team, **body), 403, 403, "PERMISSION_DENIED")
    # A global editor stands for every principal: a team token reaches no further than it.
    everyone = bearer(manager(client, role="editor", scopes=["workflow/read"])["secret"])
    made = create(
        client, everyone, type="team", name="t2", principal="t2", permissions=["workflow/read"]
    )
    assert made.status_code == 200, made.text
    # The team editor itself, its two tokens and the global editor's: nothing refused was made.
    teams = query(client, types="team")["content"]
    assert sorted(t["principal"] for t in teams) == ["t1", "t1", "t1", "t2"]


def test_expiry_escalation_is_forbidden(client: TestClient) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    editor = bearer(
        manager(client, role="editor", scopes=["workflow/read"], expires_at=soon.isoformat())[
            "secret"
        ]
    )
    # Naming no expiry is not asking to outlive the caller: the token ends with it (issue 16).
    unnamed = create(client, editor, **GOOD_BODY)
    assert unnamed.status_code == 200, unnamed.text
    ends = datetime.fromisoformat(unnamed.json()["expirationDate"])
    assert abs(ends - soon) < timedelta(milliseconds=1)
    later = (soon + timedelta(hours=1)).isoformat()
    answer = create(client, editor, **{**GOOD_BODY, "expirationDate": later})
    assert_error(answer, 403, 403, "PERMISSION_DENIED")
    earlier = (soon - timedelta(minutes=1)).isoformat()
    assert create(client, editor, **{**GOOD_BODY, "expirationDate": earlier}).status_code == 200


def test_tokens_live_in_the_callers_tenant(client: TestClient) -> None:
    tenant(client, "acme")
    acme = bearer(manager(client, "acme", role="admin")["secret"])
    made = created(client, acme, name="acme token")
    assert made["token"].startswith("bfg_")
    in_acme = client.get(f"/v1/tenants/acme/tokens/{made['id']}", headers=ROOT_HEADERS)
    assert in_acme.status_code == 200 and in_acme.json()["name"] == "acme token"
    in_default = client.get(f"/v1/tenants/default/tokens/{made['id']}", headers=ROOT_HEADERS)
    assert in_default.status_code == 404

    mine = created(client, name="default token")
    assert [t["name"] for t in query(client, acme)["content"]] == ["admin manager", "acme token"]
    assert [t["name"] for t in query(client)["content"]] == ["default token"]

    # Another tenant's id is answered as an unknown one, and nothing is deleted.
    assert_empty(client.delete(f"{CREATE}/{mine['id']}", headers=acme), 400)
    assert_empty(client.delete(f"{CREATE}/{made['id']}", headers=ROOT_HEADERS), 400)
    assert query(client)["totalElements"] == 1
    assert_empty(client.delete(f"{CREATE}/{made['id']}", headers=acme), 200)


def test_body_too_large(client: TestClient) -> None:
    body = {**GOOD_BODY, "description": "x" * (70 * 1024)}
    assert_error(create(client, **body), 413, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", CREATE, "POST"),
        ("PUT", CREATE, "POST"),
        ("PATCH", CREATE, "POST"),
        ("DELETE", CREATE, "POST"),
        ("GET", f"{CREATE}/5", "DELETE"),
        ("PUT", f"{CREATE}/5", "DELETE"),
        ("POST", f"{CREATE}/5", "DELETE"),
        ("POST", QUERY, "GET"),
    ],
)
def test_other_methods(client: TestClient, method: str, path: str, allow: str) -> None:
    answer = client.request(method, path, headers=ROOT_HEADERS)
    assert_error(answer, 405, 405, "METHOD_NOT_ALLOWED")
    assert answer.headers["Allow"] == allow
