"""Query's ``/_/token`` face (seed 001) through the ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.helpers import ROOT_HEADERS, bearer, issue, manager, tenant

PATH = "/_/token"
DAY_MS = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def create(client: TestClient, headers: dict[str, str] = ROOT_HEADERS, **body: Any) -> Response:
    return client.post(PATH, json=body, headers=headers)


def created_secret(client: TestClient, **body: Any) -> str:
    response = create(client, **body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert len(data) == 1
    secret: str = data[0]["token"]
    return secret


def listed(client: TestClient, headers: dict[str, str] = ROOT_HEADERS) -> dict[str, Any]:
    response = client.get(PATH, headers=headers)
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()["data"]}


def put(client: TestClient, headers: dict[str, str] = ROOT_HEADERS, **body: Any) -> Response:
    return client.put(PATH, json=body, headers=headers)


def delete(client: TestClient, body: Any, headers: dict[str, str] = ROOT_HEADERS) -> Response:
    return client.request("DELETE", PATH, json=body, headers=headers)


def value(client: TestClient, name: str, headers: dict[str, str] = ROOT_HEADERS) -> Response:
    return client.get(f"{PATH}/value", params={"name": name}, headers=headers)


def verify(client: TestClient, secret: str) -> dict[str, Any]:
    response = client.post("/v1/verify", json={"token": secret})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def native(client: TestClient, name: str, tenant: str = "default") -> list[dict[str, Any]]:
    response = client.get(
        f"/v1/tenants/{tenant}/tokens", params={"name": name}, headers=ROOT_HEADERS
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return [item for item in items if item["name"] == name]


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def assert_text(response: Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text
    return response.text


# --- POST -------------------------------------------------------------------------------


def test_create_defaults_and_list_fields(client: TestClient) -> None:
    before = now_ms()
    response = create(client, name="ci")
    after = now_ms()
    assert response.status_code == 201
    assert response.headers["x-request-id"]
    secret = response.json()["data"][0]["token"]
    assert secret.startswith("tw_")

    item = listed(client)["ci"]
    assert set(item) == {
        "id",
        "name",
        "expiration_date",
        "active",
        "write",
        "created_at",
        "updated_at",
    }
    assert item["active"] == 1
    assert item["write"] == 1
    assert item["expiration_date"] is None  # absent: never expires
    assert before - 1 <= item["created_at"] <= after + 1  # milliseconds, not seconds
    assert item["updated_at"] == item["created_at"]
    assert secret not in str(listed(client))


def test_create_reads_milliseconds_and_seconds(client: TestClient) -> None:
    in_ms = now_ms() + 30 * DAY_MS
    created_secret(client, name="ms", expiration_date=in_ms)
    in_s = now_ms() // 1000 + 30 * 86_400
    created_secret(client, name="s", expiration_date=in_s)
    tokens = listed(client)
    assert tokens["ms"]["expiration_date"] == in_ms
    assert tokens["s"]["expiration_date"] == in_s * 1000
    assert native(client, "s")[0]["expires_at"] is not None
    assert iso_ms(native(client, "s")[0]["expires_at"]) == in_s * 1000


def test_create_read_only_and_inactive(client: TestClient) -> None:
    reader = created_secret(client, name="reader", write=False)
    off = created_secret(client, name="off", active=False)
    tokens = listed(client)
    assert tokens["reader"]["write"] == 0
    assert tokens["reader"]["active"] == 1
    assert tokens["off"] == {**tokens["off"], "active": 0, "write": 1}
    assert native(client, "reader")[0]["role"] == "viewer"
    assert native(client, "off")[0]["role"] == "editor"
    assert verify(client, reader)["valid"] is True
    assert verify(client, off) == {**verify(client, off), "valid": False, "code": "DISABLED"}


@pytest.mark.parametrize("expiration", [1_600_000_000_000, 1_600_000_000, 0, -5])
def test_create_with_past_expiration_is_400(client: TestClient, expiration: int) -> None:
    text = assert_text(create(client, name="old", expiration_date=expiration), 400)
    assert "expiration_date" in text
    assert "old" not in listed(client)


def test_create_duplicate_name_is_409(client: TestClient) -> None:
    first = created_secret(client, name="dup")
    assert_text(create(client, name="dup"), 409)
    assert assert_text(create(client, name="dup", write=False), 409) == (
        "a token with this name already exists"
    )
    assert value(client, "dup").json() == {"data": [{"token": first}]}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"name": 5},
        {"name": "x", "active": "true"},
        {"name": "x", "write": 1},
        {"name": "x", "expiration_date": "1632960000000"},
        {"name": "x", "expiration_date": 1.5e12},
        {"name": ""},
        ["name"],
    ],
)
def test_create_bad_body_is_400_plain_text(client: TestClient, body: Any) -> None:
    assert_text(create(client, **body) if isinstance(body, dict) else _post_json(client, body), 400)
    assert listed(client) == {}


def _post_json(client: TestClient, body: Any) -> Response:
    return client.post(PATH, json=body, headers=ROOT_HEADERS)


def test_bad_json_and_empty_body_are_400(client: TestClient) -> None:
    headers = {**ROOT_HEADERS, "Content-Type": "application/json"}
    bad = client.post(PATH, content=b'{"name": ', headers=headers)
    assert assert_text(bad, 400) == "the request body is not valid JSON"
    assert assert_text(client.post(PATH, headers=ROOT_HEADERS), 400)
    assert assert_text(client.put(PATH, content=b"nope", headers=headers), 400)
    assert assert_text(client.request("DELETE", PATH, headers=ROOT_HEADERS), 400)


def test_unknown_fields_are_ignored_like_the_product(client: TestClient) -> None:
    created_secret(client, name="extra", colour="blue")
    assert "extra" in listed(client)


def test_error_body_does_not_echo_input(client: TestClient) -> None:
    secretish = "tw_ThisLooksLikeASecretValue0123456789"
    created_secret(client, name=secretish)
    assert secretish not in assert_text(create(client, name=secretish), 409)
    too_long = "n" * 300
    assert too_long not in assert_text(create(client, name=too_long), 400)


def test_oversized_body_is_413_plain_text(client: TestClient) -> None:
    big = {"name": "big", "padding": "x" * 70_000}
    assert_text(client.post(PATH, json=big, headers=ROOT_HEADERS), 413)


# --- the core behind the face --------------------------------------------------------------


def test_created_token_verifies_and_matches_the_native_record(client: TestClient) -> None:
    expires = now_ms() + DAY_MS
    secret = created_secret(client, name="svc", expiration_date=expires, write=False)
    answer = verify(client, secret)
    assert answer["valid"] is True
    assert answer["code"] == "VALID"

    [record] = native(client, "svc")
    item = listed(client)["svc"]
    assert record["id"] == item["id"]
    assert record["tenant"] == "default"
    assert record["role"] == "viewer"
    assert record["active"] is True
    assert item["active"] == 1
    assert record["recoverable"] is True  # sealed for `/value`, never plaintext
    assert record["audience"] == []
    assert iso_ms(record["expires_at"]) == item["expiration_date"] == expires
    assert iso_ms(record["created_at"]) == item["created_at"]
    assert iso_ms(record["updated_at"]) == item["updated_at"]
    assert answer["token"]["id"] == item["id"]


def test_list_includes_tokens_made_elsewhere_without_secrets(client: TestClient) -> None:
    made = issue(client, name="native-made", role="admin", recoverable=True)
    item = listed(client)["native-made"]
    assert item["write"] == 1  # an admin token writes
    assert made["secret"] not in client.get(PATH, headers=ROOT_HEADERS).text
    assert value(client, "native-made").json() == {"data": [{"token": made["secret"]}]}


# --- PUT -----------------------------------------------------------------------------------


def test_put_rotates_the_secret(client: TestClient) -> None:
    old = created_secret(client, name="rot")
    response = put(client, name="rot")
    assert response.status_code == 200
    new = response.json()["data"][0]["token"]
    assert new != old
    assert verify(client, old) == {**verify(client, old), "valid": False, "code": "NOT_FOUND"}
    assert verify(client, new)["valid"] is True
    assert value(client, "rot").json() == {"data": [{"token": new}]}


def test_put_keeps_omitted_fields_and_changes_given_ones(client: TestClient) -> None:
    expires = now_ms() + 10 * DAY_MS
    created_secret(client, name="u", expiration_date=expires, write=False, active=False)
    before = listed(client)["u"]

    assert put(client, name="u").status_code == 200
    kept = listed(client)["u"]
    assert {k: kept[k] for k in ("expiration_date", "active", "write")} == {
        "expiration_date": expires,
        "active": 0,
        "write": 0,
    }
    assert kept["created_at"] == before["created_at"]

    later_s = (now_ms() + 20 * DAY_MS) // 1000
    assert (
        put(client, name="u", write=True, active=True, expiration_date=later_s).status_code == 200
    )
    changed = listed(client)["u"]
    assert changed["write"] == 1
    assert changed["active"] == 1
    assert changed["expiration_date"] == later_s * 1000
    assert changed["updated_at"] >= before["updated_at"]
    assert native(client, "u")[0]["role"] == "editor"

    new = put(client, name="u", active=False).json()["data"][0]["token"]
    assert listed(client)["u"]["active"] == 0
    assert verify(client, new)["code"] == "DISABLED"


def test_put_write_true_keeps_an_admin_admin(client: TestClient) -> None:
    issue(client, name="boss", role="admin")
    assert put(client, name="boss", write=True).status_code == 200
    assert native(client, "boss")[0]["role"] == "admin"
    assert put(client, name="boss", write=False).status_code == 200
    assert native(client, "boss")[0]["role"] == "viewer"


def test_put_unknown_name_is_404_plain_text(client: TestClient) -> None:
    assert assert_text(put(client, name="ghost", active=True), 404) == "404 Not Found"


def test_put_past_expiration_is_400_and_changes_nothing(client: TestClient) -> None:
    secret = created_secret(client, name="p")
    text = assert_text(put(client, name="p", expiration_date=1_600_000_000_000, active=False), 400)
    assert "expiration_date" in text
    assert listed(client)["p"]["active"] == 1
    assert verify(client, secret)["valid"] is True


def test_put_bad_body_is_400(client: TestClient) -> None:
    created_secret(client, name="b")
    assert_text(put(client, active=False), 400)
    assert_text(put(client, name="b", active="no"), 400)
    assert listed(client)["b"]["active"] == 1


# --- DELETE --------------------------------------------------------------------------------


def test_delete_by_name_and_unknown_name_are_200(client: TestClient) -> None:
    secret = created_secret(client, name="gone")
    created_secret(client, name="stays")
    response = delete(client, {"name": "gone"})
    assert response.status_code == 200
    assert response.content == b""
    assert set(listed(client)) == {"stays"}
    assert verify(client, secret)["code"] == "NOT_FOUND"
    assert delete(client, {"name": "gone"}).status_code == 200
    assert delete(client, {"name": "never-was"}).status_code == 200
    assert_text(delete(client, {}), 400)
    assert_text(delete(client, {"name": 3}), 400)


# --- GET /value ----------------------------------------------------------------------------


def test_value(client: TestClient) -> None:
    secret = created_secret(client, name="v")
    response = value(client, "v")
    assert response.status_code == 200
    assert response.json() == {"data": [{"token": secret}]}
    assert value(client, "unknown").json() == {"data": []}
    assert value(client, "unknown").status_code == 200
    assert_text(client.get(f"{PATH}/value", headers=ROOT_HEADERS), 400)


def test_value_of_a_token_not_kept_recoverable_is_409(client: TestClient) -> None:
    issue(client, name="sealed-not")
    assert assert_text(value(client, "sealed-not"), 409) == (
        "this token's secret was not kept; it cannot be shown again"
    )


# --- names that the core does not hold unique ----------------------------------------------


def test_two_tokens_of_one_name_are_409_not_a_guess(client: TestClient) -> None:
    issue(client, name="twin", recoverable=True)
    issue(client, name="twin", recoverable=True)
    assert_text(value(client, "twin"), 409)
    assert_text(put(client, name="twin"), 409)
    assert_text(delete(client, {"name": "twin"}), 409)
    assert_text(create(client, name="twin"), 409)
    assert len(native(client, "twin")) == 2


# --- who may call --------------------------------------------------------------------------


def _every_call(client: TestClient, headers: dict[str, str]) -> list[Response]:
    return [
        create(client, headers, name="x"),
        client.get(PATH, headers=headers),
        put(client, headers, name="x"),
        delete(client, {"name": "x"}, headers),
        value(client, "x", headers),
    ]


def test_without_a_valid_credential_every_call_is_401_empty(client: TestClient) -> None:
    for headers in ({}, bearer("wrong"), {"Authorization": "Basic abc"}):
        for response in _every_call(client, headers):
            assert response.status_code == 401
            assert response.content == b""
    # The credential is checked before the body is read.
    response = client.post(PATH, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_a_token_without_the_management_audience_is_401(client: TestClient) -> None:
    secret = created_secret(client, name="plain")
    assert client.get(PATH, headers=bearer(secret)).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_non_admin_management_tokens_are_401_empty(client: TestClient, role: str) -> None:
    """As the product answers a user that is not an admin (its validate_is_no_admin.hurl)."""
    created_secret(client, name="x")
    caller = bearer(manager(client, role=role)["secret"])
    for response in _every_call(client, caller):
        assert response.status_code == 401
        assert response.content == b""
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert "x" in listed(client)
    assert listed(client)["x"]["write"] == 1


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token", "Basic"])
def test_the_credential_is_the_second_word_whatever_the_scheme(
    client: TestClient, scheme: str
) -> None:
    """The product's get_token: ``split(' ').nth(1)`` of ``Authorization``."""
    from tests.helpers import ROOT_TOKEN

    response = client.get(PATH, headers={"Authorization": f"{scheme} {ROOT_TOKEN}"})
    assert response.status_code == 200, response.text
    for header in (ROOT_TOKEN, f"Bearer  {ROOT_TOKEN}", "Bearer "):
        assert client.get(PATH, headers={"Authorization": header}).status_code == 401


def test_tenants_do_not_see_each_other(client: TestClient) -> None:
    tenant(client, "acme")
    acme = bearer(manager(client, "acme", role="admin", name="acme admin")["secret"])
    other = bearer(manager(client, "default", role="admin", name="default admin")["secret"])
    created_secret(client, name="rootmade")  # root acts in `default`

    response = create(client, acme, name="acme-only")
    assert response.status_code == 201
    acme_secret = response.json()["data"][0]["token"]
    assert len(native(client, "acme-only", tenant="acme")) == 1
    assert native(client, "acme-only") == []

    assert set(listed(client, acme)) == {"acme-only"}
    assert "acme-only" not in listed(client, other)
    assert "acme-only" not in listed(client)
    assert value(client, "acme-only", other).json() == {"data": []}
    assert value(client, "rootmade", acme).json() == {"data": []}
    assert_text(put(client, other, name="acme-only"), 404)
    assert delete(client, {"name": "acme-only"}, other).status_code == 200
    assert value(client, "acme-only", acme).json() == {"data": [{"token": acme_secret}]}
    # The same name may exist once in each tenant.
    assert create(client, acme, name="rootmade").status_code == 201


# --- the rest of the surface ---------------------------------------------------------------


def test_other_methods_are_the_products_404(client: TestClient) -> None:
    """The product routes by method and path; anything else is its not-found."""
    for response in (
        client.patch(PATH, json={"name": "x"}, headers=ROOT_HEADERS),
        client.post(f"{PATH}/value", headers=ROOT_HEADERS),
        client.delete(f"{PATH}/value"),
    ):
        assert assert_text(response, 404) == "404 Not Found"


# --- tokenward's own management tokens are outside this face ------------------------------


def test_management_tokens_are_out_of_reach(client: TestClient) -> None:
    """An admin's ``PUT {"name": <a management token's name>, "write": false}`` once rotated
    and demoted that token, locking its holder out. The product's API never touches admin
    credentials: here they are not listed, not changed, not deleted, not revealed."""
    admin = bearer(manager(client, role="admin", name="admin")["secret"])
    other = manager(client, role="admin", name="ops", recoverable=True)
    created_secret(client, name="plain")

    assert set(listed(client, admin)) == {"plain"}
    assert set(listed(client)) == {"plain"}
    assert_text(put(client, admin, name="ops", write=False), 404)
    assert_text(put(client, admin, name="admin", active=False), 404)
    assert delete(client, {"name": "ops"}, admin).status_code == 200
    assert value(client, "ops", admin).json() == {"data": []}

    assert verify(client, other["secret"])["valid"] is True
    [record] = native(client, "ops")
    assert record["role"] == "admin"
    assert record["active"] is True
    assert client.get(PATH, headers=admin).status_code == 200


def test_a_name_shared_with_a_management_token_is_not_ambiguous(client: TestClient) -> None:
    manager(client, role="admin", name="shared")
    issue(client, name="shared", recoverable=True)
    assert put(client, name="shared", write=False).status_code == 200
    assert listed(client)["shared"]["write"] == 0
    assert [t["role"] for t in native(client, "shared")] == ["admin", "viewer"]


def test_a_management_tokens_name_is_not_taken_here(client: TestClient) -> None:
    """Attacker review: a create of a management token's name answered 409, which told an
    admin of this face that a credential of that name exists although the face hides it."""
    admin = bearer(manager(client, role="admin", name="admin")["secret"])
    hidden = manager(client, role="editor", name="ops-deploy")["secret"]
    made = create(client, admin, name="ops-deploy")
    assert made.status_code == 201, made.text
    secret = made.json()["data"][0]["token"]
    # The name is this face's token's now: found, revealed and changed, the management token
    # untouched; a second create of it is a conflict again.
    assert value(client, "ops-deploy", admin).json() == {"data": [{"token": secret}]}
    assert put(client, admin, name="ops-deploy", write=False).status_code == 200
    assert_text(create(client, admin, name="ops-deploy"), 409)
    assert [(t["role"], t["audience"]) for t in native(client, "ops-deploy")] == [
        ("editor", ["tokenward"]),
        ("viewer", []),
    ]
    assert verify(client, hidden)["valid"] is True


def test_openapi_documents_the_bodies(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    post = paths[PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(post["properties"]) == {"name", "expiration_date", "active", "write"}
    assert "201" in paths[PATH]["post"]["responses"]


def test_an_expiring_admin_cannot_mint_past_itself(client: TestClient) -> None:
    mine = manager(client, role="admin", ttl_seconds=3600)
    admin = bearer(mine["secret"])
    # No expiration date is no request to outlive the caller: the token ends with it.
    assert create(client, admin, name="unnamed").status_code == 201
    assert native(client, "unnamed")[0]["expires_at"] == mine["expires_at"]
    later = now_ms() + 7_200_000
    assert_text(create(client, admin, name="later", expiration_date=later), 403)
    assert "later" not in listed(client)
    soon = now_ms() + 60_000
    assert create(client, admin, name="brief", expiration_date=soon).status_code == 201
    assert native(client, "brief")[0]["owner"] == "root"  # the manager acts for its issuer


# --- Query's CLI (gc-victor/query, crates/cli/src/commands/token.rs and utils.rs) -----------


def _cli(client: TestClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
    """utils.rs ``http_client``: ``<url>/_/<path>``, ``Authorization: Bearer <token>``, the
    body as a plain string (reqwest sends no Content-Type for it); a failure is the body's
    text or the status; an empty body is null; JSON when it parses, else the text."""
    import json

    response = client.request(
        method,
        f"/_/{path}",
        content=b"" if body is None else json.dumps(body).encode(),
        headers=ROOT_HEADERS,
    )
    assert "content-type" not in response.request.headers
    assert response.is_success, response.text or str(response.status_code)
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _table(rows: Any) -> list[list[str]]:
    """utils.rs ``json_to_table``: the first object's keys as the header, then every object's
    values in its own order; a row whose keys differ would be misaligned."""
    import json

    assert isinstance(rows, list) and rows
    keys = list(rows[0])
    table = [[key.upper() for key in keys]]
    for row in rows:
        assert list(row) == keys
        # serde_json's Value::to_string: JSON text ("cli" with its quotes, null, 1)
        table.append([json.dumps(value) for value in row.values()])
    return table


def test_the_query_cli_token_commands_work_unchanged(client: TestClient) -> None:
    later = now_ms() + DAY_MS
    # TokenCommands::Create: every prompt answered; the expiration prompt may be skipped.
    _cli(
        client,
        "POST",
        "token",
        {"name": "cli", "expiration_date": later, "active": True, "write": True},
    )
    _cli(
        client,
        "POST",
        "token",
        {"name": "cli-ro", "expiration_date": None, "active": True, "write": False},
    )
    # TokenCommands::List
    listing = _cli(client, "GET", "token", None)
    table = _table(listing["data"])
    assert table[0] == [
        "ID",
        "NAME",
        "EXPIRATION_DATE",
        "ACTIVE",
        "WRITE",
        "CREATED_AT",
        "UPDATED_AT",
    ]
    assert [row[1:5] for row in table[1:]] == [
        ['"cli"', str(later), "1", "1"],
        ['"cli-ro"', "null", "1", "0"],
    ]
    # TokenCommands::Value: `v["data"][0]["token"]` must be a string.
    shown = _cli(client, "GET", "token/value?name=cli", None)
    assert isinstance(shown["data"][0]["token"], str)
    # TokenCommands::Update: every field again.
    _cli(
        client,
        "PUT",
        "token",
        {"name": "cli", "expiration_date": later, "active": False, "write": False},
    )
    assert listed(client)["cli"]["active"] == 0
    # TokenCommands::Delete
    _cli(client, "DELETE", "token", {"name": "cli"})
    assert "cli" not in listed(client)
