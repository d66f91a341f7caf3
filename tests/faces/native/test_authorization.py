"""Who may do what, through the native API: audience, tenant, role, no escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, bearer, issue, manager, tenant

BASE = "/v1/tenants/default/tokens"


def test_missing_and_bad_credentials(client: TestClient) -> None:
    for headers in [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        bearer("garbage"),
        bearer("tw_" + "A" * 34),
        bearer(ROOT_HEADERS["Authorization"][7:] + "x"),
    ]:
        answer = client.get(BASE, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"]["code"] == "UNAUTHENTICATED"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_without_tokenward_audience_cannot_manage(client: TestClient) -> None:
    plain = issue(client, role="admin", audience=["billing"])
    assert client.get(BASE, headers=bearer(plain["secret"])).status_code == 401


def test_disabled_expired_deleted_and_rotated_out_managers_are_refused(
    client: TestClient,
) -> None:
    disabled = manager(client, role="admin")
    client.post(f"{BASE}/{disabled['id']}/disable", headers=ROOT_HEADERS)
    deleted = manager(client, role="admin")
    client.delete(f"{BASE}/{deleted['id']}", headers=ROOT_HEADERS)
    rotated = manager(client, role="admin")
    client.post(f"{BASE}/{rotated['id']}/rotate", headers=ROOT_HEADERS)
    for token in (disabled, deleted, rotated):
        assert client.get(BASE, headers=bearer(token["secret"])).status_code == 401


def test_viewer_reads_but_does_not_change(client: TestClient) -> None:
    viewer = bearer(manager(client)["secret"])
    target = issue(client)
    assert client.get(BASE, headers=viewer).status_code == 200
    assert client.get(f"{BASE}/{target['id']}", headers=viewer).status_code == 200
    assert client.post(BASE, json={"name": "x"}, headers=viewer).status_code == 403
    for action in ("disable", "enable", "rotate"):
        assert client.post(f"{BASE}/{target['id']}/{action}", headers=viewer).status_code == 403
    assert (
        client.patch(f"{BASE}/{target['id']}", json={"name": "y"}, headers=viewer).status_code
        == 403
    )
    assert client.delete(f"{BASE}/{target['id']}", headers=viewer).status_code == 403
    assert client.get(f"{BASE}/{target['id']}/secret", headers=viewer).status_code == 403
    assert client.get("/v1/audit", headers=viewer).status_code == 403


def test_editor_cannot_escalate(client: TestClient) -> None:
    editor = bearer(manager(client, role="editor", scopes=["read"])["secret"])
    ok = client.post(BASE, json={"name": "e", "role": "editor", "scopes": ["read"]}, headers=editor)
    assert ok.status_code == 201
    admin_token = client.post(BASE, json={"name": "a", "role": "admin"}, headers=editor)
    assert admin_token.status_code == 403
    assert admin_token.json()["error"]["code"] == "ROLE_ESCALATION"
    scope = client.post(BASE, json={"name": "s", "scopes": ["write"]}, headers=editor)
    assert scope.status_code == 403
    assert scope.json()["error"]["code"] == "SCOPE_ESCALATION"

    mine = ok.json()
    raise_role = client.patch(f"{BASE}/{mine['id']}", json={"role": "admin"}, headers=editor)
    assert raise_role.status_code == 403
    add_scope = client.patch(
        f"{BASE}/{mine['id']}", json={"scopes": ["read", "write"]}, headers=editor
    )
    assert add_scope.status_code == 403
    drop_scope = client.patch(f"{BASE}/{mine['id']}", json={"scopes": []}, headers=editor)
    assert drop_scope.status_code == 200

    admins = issue(client, role="admin")
    for action in ("disable", "rotate"):
        answer = client.post(f"{BASE}/{admins['id']}/{action}", headers=editor)
        assert answer.status_code == 403
    assert client.delete(f"{BASE}/{admins['id']}", headers=editor).status_code == 403


def test_editor_cannot_rotate_a_token_with_scopes_it_lacks(client: TestClient) -> None:
    editor = bearer(manager(client, role="editor")["secret"])
    rich = issue(client, role="viewer", scopes=["billing:write"])
    answer = client.post(f"{BASE}/{rich['id']}/rotate", headers=editor)
    assert answer.status_code == 403


def test_expiring_admin_cannot_mint_longer_lived_tokens(client: TestClient) -> None:
    mine = manager(client, role="admin", ttl_seconds=3600)
    admin = bearer(mine["secret"])
    permanent = client.post(BASE, json={"name": "p", "expires_at": None}, headers=admin)
    assert permanent.status_code == 403
    assert permanent.json()["error"]["code"] == "EXPIRY_ESCALATION"
    # Naming no expiry is not asking for a permanent token: it ends with its creator.
    unnamed = client.post(BASE, json={"name": "p"}, headers=admin)
    assert unnamed.status_code == 201
    assert unnamed.json()["expires_at"] == mine["expires_at"]
    longer = client.post(BASE, json={"name": "p", "ttl_seconds": 7200}, headers=admin)
    assert longer.status_code == 403
    shorter = client.post(BASE, json={"name": "p", "ttl_seconds": 60}, headers=admin)
    assert shorter.status_code == 201
    extend = client.patch(
        f"{BASE}/{shorter.json()['id']}", json={"expires_at": None}, headers=admin
    )
    assert extend.status_code == 403


def test_tenant_admin_is_bound_to_its_tenant(client: TestClient) -> None:
    tenant(client, "acme")
    other = issue(client, "default", recoverable=True)
    admin = bearer(manager(client, "acme", role="admin")["secret"])
    for method, path in [
        ("get", BASE),
        ("post", BASE),
        ("get", f"{BASE}/{other['id']}"),
        ("post", f"{BASE}/{other['id']}/disable"),
        ("get", f"{BASE}/{other['id']}/secret"),
        ("delete", f"{BASE}/{other['id']}"),
        ("get", f"/v1/tenants/acme/tokens/{other['id']}"),
        ("get", f"/v1/tenants/acme/tokens/{other['id']}/secret"),
    ]:
        kwargs = {"json": {"name": "x"}} if method == "post" and path == BASE else {}
        answer = client.request(method, path, headers=admin, **kwargs)
        assert answer.status_code == 404, (method, path)
    assert client.get(f"{BASE}/{other['id']}", headers=ROOT_HEADERS).json()["active"] is True


def test_an_admin_or_root_names_another_owner_an_editor_does_not(client: TestClient) -> None:
    by_root = issue(client, owner="dave")
    assert by_root["owner"] == "dave" and by_root["user"] == "dave"
    admin = bearer(manager(client, role="admin", user="erin")["secret"])
    # A tenant admin issues on behalf of others of its tenant (Devo's seed payload does).
    for_dave = client.post(BASE, json={"name": "x", "owner": "dave"}, headers=admin)
    assert for_dave.status_code == 201
    assert for_dave.json()["owner"] == "dave" and for_dave.json()["user"] == "dave"
    own = client.post(BASE, json={"name": "x"}, headers=admin).json()
    assert own["owner"] == "erin"
    editor = bearer(manager(client, role="editor", user="fred")["secret"])
    answer = client.post(BASE, json={"name": "x", "owner": "dave"}, headers=editor)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "OWNER_NOT_ALLOWED"
    assert "dave" not in answer.text


def test_reveal_by_owner_editor_not_by_other_editor(client: TestClient) -> None:
    alice = bearer(manager(client, role="editor", user="alice")["secret"])
    bob = bearer(manager(client, role="editor", user="bob")["secret"])
    mine = client.post(BASE, json={"name": "m", "recoverable": True}, headers=alice).json()
    assert mine["owner"] == "alice"
    shown = client.get(f"{BASE}/{mine['id']}/secret", headers=alice)
    assert shown.status_code == 200 and shown.json()["secret"] == mine["secret"]
    refused = client.get(f"{BASE}/{mine['id']}/secret", headers=bob)
    assert refused.status_code == 403
    assert mine["secret"] not in refused.text
    admin = bearer(manager(client, role="admin")["secret"])
    assert client.get(f"{BASE}/{mine['id']}/secret", headers=admin).status_code == 200


def test_root_token_from_an_expired_manager(client: TestClient) -> None:
    expired_at = datetime.now(UTC) + timedelta(seconds=1)
    short = manager(client, role="admin", expires_at=expired_at.isoformat())
    import time

    time.sleep(1.05)
    assert client.get(BASE, headers=bearer(short["secret"])).status_code == 401


def test_editor_cannot_issue_a_token_acting_for_someone_else(client: TestClient) -> None:
    alice = bearer(manager(client, role="editor", user="alice")["secret"])
    secret_of_bob = issue(client, user="bob", owner="bob", recoverable=True)
    forged = client.post(
        BASE,
        json={"name": "f", "user": "bob", "role": "editor", "audience": ["tokenward"]},
        headers=alice,
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "USER_NOT_ALLOWED"
    as_herself = client.post(BASE, json={"name": "ok", "user": "alice"}, headers=alice)
    assert as_herself.status_code == 201
    admin = bearer(manager(client, role="admin")["secret"])
    for_bob = client.post(BASE, json={"name": "b", "user": "bob"}, headers=admin)
    assert for_bob.status_code == 201
    assert client.get(f"{BASE}/{secret_of_bob['id']}/secret", headers=alice).status_code == 403


def test_editor_cannot_reveal_a_token_above_itself(client: TestClient) -> None:
    """The review's escalation: an expiring editor acting for alice revealed alice's admin."""
    above = issue(
        client, role="admin", user="alice", owner="alice", recoverable=True, audience=["tokenward"]
    )
    editor = bearer(manager(client, role="editor", user="alice", ttl_seconds=600)["secret"])
    refused = client.get(f"{BASE}/{above['id']}/secret", headers=editor)
    assert refused.status_code == 403 and above["secret"] not in refused.text


def test_editor_cannot_take_over_another_identity_by_rotating(client: TestClient) -> None:
    bob = bearer(manager(client, role="editor", user="bob")["secret"])
    carol = manager(client, role="editor", user="carol")
    answer = client.post(f"{BASE}/{carol['id']}/rotate", headers=bob)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "USER_NOT_ALLOWED"
    assert client.get(BASE, headers=bearer(carol["secret"])).status_code == 200


def test_enabling_or_raising_a_token_counts_as_minting_it(client: TestClient) -> None:
    rich = issue(client, scopes=["billing:admin"])
    client.post(f"{BASE}/{rich['id']}/disable", headers=ROOT_HEADERS)
    editor = bearer(manager(client, role="editor")["secret"])
    assert client.post(f"{BASE}/{rich['id']}/enable", headers=editor).status_code == 403
    assert client.post("/v1/verify", json={"token": rich["secret"]}).json()["code"] == "DISABLED"
    client.post(f"{BASE}/{rich['id']}/enable", headers=ROOT_HEADERS)
    raised = client.patch(f"{BASE}/{rich['id']}", json={"role": "editor"}, headers=editor)
    assert raised.status_code == 403


def test_restricted_admin_refused_on_update_too(client: TestClient) -> None:
    admin_token = issue(client, role="admin")
    answer = client.patch(
        f"{BASE}/{admin_token['id']}", json={"restricted": True}, headers=ROOT_HEADERS
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "RESTRICTED_ADMIN"


def test_far_future_expiry_is_a_400_not_a_500(client: TestClient) -> None:
    for expiry in ["9999-12-31T23:00:00-05:00", "2999-01-01T00:00:00Z"]:
        answer = client.post(BASE, json={"name": "x", "expires_at": expiry}, headers=ROOT_HEADERS)
        assert answer.status_code == 400, answer.text
