"""Every Devo endpoint, its defaults, status codes and fields, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from tests.faces.devo.support import (
    ACCOUNT,
    TOKEN_FIELDS,
    WITH_SECRET,
    account,
    create,
    get,
    listed,
    ok,
    parse_date,
    post,
    put,
    token_path,
    tokens_path,
)
from tests.helpers import ROOT_HEADERS
from tokenward.api.dialects.devo.schemas import devo_date
from tokenward.domain import secrets

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def test_create_with_defaults(client: TestClient) -> None:
    account(client)
    answer = post(client, audience="apiv2")
    created = ok(answer, 201)
    assert set(created) == WITH_SECRET
    assert created["name"] == "Unnamed"
    assert isinstance(created["id"], int)
    assert created["scope"] == "default"
    assert created["owner"] == created["user"] == "root"
    assert created["audience"] == "apiv2"
    assert created["token_type"] == "Bearer"
    assert created["active"] is True
    assert created["account"] == ACCOUNT
    assert created["expires_in_seconds"] == 86400
    created_at = parse_date(created["created"])
    assert parse_date(created["updated"]) == created_at
    assert parse_date(created["expiration"]) - created_at == timedelta(seconds=86400)
    assert secrets.is_well_formed(created["token"])
    assert answer.headers["location"] == token_path(created["id"])  # never the Host header
    # The Location header names the token that was made.
    assert get(client, created["id"])["token"] == created["token"]


def test_create_with_every_field(client: TestClient) -> None:
    account(client)
    created = create(
        client,
        name="reporting",
        owner="web-testing+auto-admin@devo.com",
        user="analyst@devo.com",
        audience="apiv2-admin aggregations apiv2",
        scopes="table://*.** level://admin",
        expiresInSeconds=3600,
    )
    assert created["name"] == "reporting"
    assert created["owner"] == "web-testing+auto-admin@devo.com"
    assert created["user"] == "analyst@devo.com"
    assert created["audience"] == "apiv2-admin aggregations apiv2"
    assert created["scope"] == "table://*.** level://admin"
    assert created["expires_in_seconds"] == 3600
    lifetime = parse_date(created["expiration"]) - parse_date(created["created"])
    assert lifetime == timedelta(hours=1)


def test_user_defaults_to_the_named_owner(client: TestClient) -> None:
    account(client)
    created = create(client, owner="carol@devo.com")
    assert created["owner"] == created["user"] == "carol@devo.com"


def test_audience_and_scopes_also_read_lists(client: TestClient) -> None:
    account(client)
    created = create(client, audience=["apiv2", "alerts http"], scopes=["a", "b"])
    assert created["audience"] == "apiv2 alerts http"
    assert created["scope"] == "a b"
    # Repeated and extra spaces are one separator; repeats are kept once.
    spaced = create(client, audience="  apiv2   apiv2 alerts ", scopes=" x  y ")
    assert spaced["audience"] == "apiv2 alerts" and spaced["scope"] == "x y"


def test_absent_null_or_blank_fields_take_the_defaults(client: TestClient) -> None:
    account(client)
    created = create(client, name=None, owner=None, user="", scopes=None, expiresInSeconds=None)
    assert created["name"] == "Unnamed" and created["scope"] == "default"
    assert created["owner"] == created["user"] == "root"
    assert created["expires_in_seconds"] == 86400
    blank = create(client, name="  ", owner=" ", scopes="")
    assert blank["name"] == "Unnamed" and blank["owner"] == "root"
    # An empty scopes string is present: a token with no scopes, not the default.
    assert blank["scope"] == ""
    assert create(client, scopes=[])["scope"] == ""


def test_names_repeat_and_unknown_fields_are_ignored(client: TestClient) -> None:
    account(client)
    first = create(client)
    second = create(client, id=99, token="tw_pasted", account="elsewhere", active=False)
    assert first["name"] == second["name"] == "Unnamed"
    assert second["id"] != 99 and second["token"] != "tw_pasted"
    assert second["account"] == ACCOUNT and second["active"] is True


def test_permanent_token(client: TestClient) -> None:
    account(client)
    created = create(client, expiresInSeconds=-1)
    assert created["expiration"] is None
    assert created["expires_in_seconds"] == -1
    fetched = get(client, created["id"])
    assert fetched["expiration"] is None and fetched["expires_in_seconds"] == -1


def test_list_has_no_secrets(client: TestClient) -> None:
    account(client)
    assert listed(client) == []
    a = create(client, name="a")
    b = create(client, name="b", expiresInSeconds=-1)
    found = listed(client)
    assert [t["id"] for t in found] == [a["id"], b["id"]]
    for token in found:
        assert set(token) == TOKEN_FIELDS
    listed_text = client.get(tokens_path(), headers=ROOT_HEADERS).text
    assert a["token"] not in listed_text and b["token"] not in listed_text
    assert found[0] == {k: v for k, v in a.items() if k != "token"}


def test_get_shows_the_secret_to_root(client: TestClient) -> None:
    account(client)
    created = create(client, name="one")
    fetched = get(client, created["id"])
    assert set(fetched) == WITH_SECRET
    assert fetched == created


def test_dates_have_milliseconds_and_an_offset_without_colon(client: TestClient) -> None:
    account(client)
    created = create(client)
    for field in ("created", "updated", "expiration"):
        parse_date(created[field])  # asserts the exact shape
    native = client.get(f"/v1/tenants/{ACCOUNT}/tokens/{created['id']}", headers=ROOT_HEADERS)
    native_created = datetime.fromisoformat(native.json()["created_at"])
    assert parse_date(created["created"]) == native_created
    moment = datetime(2024, 11, 26, 15, 38, 18, 123_456, tzinfo=timezone(timedelta(hours=1)))
    assert devo_date(moment) == "2024-11-26T14:38:18.123+0000"
    assert devo_date(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05.000+0000"
    assert devo_date(None) is None


def test_disable_and_enable_are_idempotent(client: TestClient) -> None:
    account(client)
    created = create(client)
    for _ in range(2):
        disabled = ok(put(client, created["id"], "disable"))
        assert set(disabled) == TOKEN_FIELDS and disabled["active"] is False
        assert disabled["id"] == created["id"]
    assert get(client, created["id"])["active"] is False
    for _ in range(2):
        enabled = ok(put(client, created["id"], "enable"))
        assert enabled["active"] is True
    fetched = get(client, created["id"])
    assert fetched["active"] is True
    assert parse_date(fetched["updated"]) >= parse_date(created["updated"])


def test_rename(client: TestClient) -> None:
    account(client)
    created = create(client, name="old")
    renamed = ok(put(client, created["id"], "rename", json={"value": "new name"}))
    assert set(renamed) == TOKEN_FIELDS and renamed["name"] == "new name"
    assert get(client, created["id"])["name"] == "new name"


def test_rename_to_nothing_answers_ok_and_keeps_the_name(client: TestClient) -> None:
    account(client)
    created = create(client, name="kept")
    for body in [{"value": ""}, {"value": None}, {"value": "   "}, {}]:
        answer = ok(put(client, created["id"], "rename", json=body))
        assert answer["name"] == "kept"
    assert get(client, created["id"])["name"] == "kept"


def test_delete(client: TestClient) -> None:
    account(client)
    kept = create(client, name="kept")
    gone = create(client, name="gone")
    answer = ok(client.delete(token_path(gone["id"]), headers=ROOT_HEADERS))
    # The body is the token as it was just before it was deleted, without its secret.
    assert answer == {k: v for k, v in gone.items() if k != "token"}
    assert [t["id"] for t in listed(client)] == [kept["id"]]
    assert client.get(token_path(gone["id"]), headers=ROOT_HEADERS).status_code == 404


def test_account_name_may_be_percent_encoded(client: TestClient) -> None:
    account(client)
    created = create(client)
    encoded = f"/v2/accounts/acme%40multitenant/tokens/{created['id']}"
    assert ok(client.get(encoded, headers=ROOT_HEADERS))["account"] == ACCOUNT


def test_a_caller_request_id_is_the_correlation_id(client: TestClient) -> None:
    account(client)
    answer = client.get(tokens_path(), headers={**ROOT_HEADERS, "X-Request-ID": "corr-42"})
    assert answer.headers["x-devo-cid"] == "corr-42"
