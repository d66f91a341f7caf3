"""Cedalo's project tokens through the ASGI app: create, list, delete, and what they mean to
verification and to the native API."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.faces.cedalo.support import (
    TOKEN_FIELDS,
    create,
    listed,
    post,
    project,
    tokens_path,
)
from tests.helpers import ROOT_HEADERS, issue
from tokenward.app import create_app
from tokenward.settings import Settings

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def millis(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


NOON_2100 = millis("2100-01-01T12:00:00+00:00")


def verify(client: TestClient, secret: str, **asked: Any) -> dict[str, Any]:
    answer = client.post("/v1/verify", json={"token": secret, **asked})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_create_answers_every_field_and_the_secret(client: TestClient) -> None:
    project(client, "plant")
    before = int(time.time() * 1000)
    token = create(
        client,
        "plant",
        name="line 1",
        role="editor",
        brokers=["broker-a", "broker-b"],
        type="restricted",
        valid_date="2100-01-01T12:00:00Z",
    )
    after = int(time.time() * 1000)
    assert set(token) == TOKEN_FIELDS | {"token"}
    assert isinstance(token["id"], str) and token["id"].isdigit()
    assert token["project_id"] == "plant"
    assert token["role_id"] == "editor"
    assert token["issuer"] == "root"
    assert token["name"] == "line 1"
    assert token["hash"] == hashlib.sha256(token["token"].encode()).hexdigest()
    assert before - 1 <= token["issue_date"] <= after + 1
    assert token["valid_date"] == NOON_2100
    assert token["last_used_date"] is None
    assert token["brokers"] == ["broker-a", "broker-b"]
    assert token["type"] == "restricted"
    assert token["token"].startswith("tw_")


def test_defaults(client: TestClient) -> None:
    project(client, "plant")
    token = create(client, "plant", name="only a name")
    assert token["role_id"] == "viewer"
    assert token["brokers"] == []
    assert token["type"] == "unrestricted"
    assert token["valid_date"] is None
    permanent = create(client, "plant", name="null date", valid_date=None)
    assert permanent["valid_date"] is None


VALID_DATES: list[tuple[Any, int]] = [
    ("2100-01-01T12:00:00Z", NOON_2100),
    ("2100-01-01T12:00:00+00:00", NOON_2100),
    ("2100-01-01T14:00:00+02:00", NOON_2100),
    ("2100-01-01T07:00:00-05:00", NOON_2100),
    ("2100-01-01T12:00:00.123456Z", NOON_2100 + 123),
    ("2100-01-01", millis("2100-01-01T23:59:59.999+00:00")),
    (NOON_2100, NOON_2100),
    (str(NOON_2100), NOON_2100),
    (NOON_2100 + 0.9, NOON_2100),
]


def test_valid_date_formats(client: TestClient) -> None:
    project(client, "plant")
    for n, (valid_date, expected) in enumerate(VALID_DATES):
        token = create(client, "plant", name=f"t{n}", valid_date=valid_date)
        assert token["valid_date"] == expected, valid_date
        native = client.get(f"/v1/tenants/plant/tokens/{token['id']}", headers=ROOT_HEADERS)
        assert millis(native.json()["expires_at"]) == expected, valid_date


def test_a_date_is_valid_through_that_day_utc(client: TestClient) -> None:
    project(client, "plant")
    today = datetime.now(UTC).date().isoformat()
    token = create(client, "plant", valid_date=today)
    assert token["valid_date"] == millis(f"{today}T23:59:59.999+00:00")
    assert verify(client, token["token"])["code"] == "VALID"


def test_list_shows_every_token_of_the_project_without_secrets(client: TestClient) -> None:
    project(client, "plant")
    project(client, "other")
    first = create(client, "plant", name="first", brokers=["b1"], type="restricted")
    second = create(client, "plant", name="second", role="admin", valid_date="2100-01-01")
    native = issue(client, "plant", name="native", resources=["b9"], restricted=True)
    create(client, "other", name="elsewhere")

    answer = listed(client, "plant")
    assert [t["name"] for t in answer] == ["first", "second", "native"]
    assert all(set(t) == TOKEN_FIELDS for t in answer)
    assert answer[0] == {k: v for k, v in first.items() if k != "token"}
    assert answer[1] == {k: v for k, v in second.items() if k != "token"}
    assert answer[2]["id"] == str(native["id"])
    assert answer[2]["brokers"] == ["b9"] and answer[2]["type"] == "restricted"
    assert answer[2]["hash"] == hashlib.sha256(native["secret"].encode()).hexdigest()
    text = client.get(tokens_path("plant"), headers=ROOT_HEADERS).text
    assert first["token"] not in text and second["token"] not in text

    project(client, "empty")
    assert listed(client, "empty") == []


def test_delete_answers_a_boolean(client: TestClient) -> None:
    project(client, "plant")
    project(client, "other")
    token = create(client, "plant", name="doomed")
    foreign = create(client, "other", name="foreign")
    path = tokens_path("plant")

    deleted = client.delete(f"{path}/{token['id']}", headers=ROOT_HEADERS)
    assert deleted.status_code == 200
    assert deleted.json() is True
    assert listed(client, "plant") == []
    assert verify(client, token["token"])["code"] == "NOT_FOUND"

    ids = [token["id"], "999", "abc", "1.5", "-1", "99999999999999999999", foreign["id"]]
    # The largest id the store holds (limits.MAX_TOKEN_ID) is looked up; one more is not.
    ids += ["0", str(2**63 - 1), str(2**63)]
    for token_id in ids:
        answer = client.delete(f"{path}/{token_id}", headers=ROOT_HEADERS)
        assert answer.status_code == 200, token_id
        assert answer.json() is False, token_id
    # Another project's token, named by its id in this project, is untouched.
    assert [t["id"] for t in listed(client, "other")] == [foreign["id"]]
    assert verify(client, foreign["token"])["code"] == "VALID"


def test_a_deleted_name_can_be_used_again(client: TestClient) -> None:
    project(client, "plant")
    token = create(client, "plant", name="reused")
    assert client.delete(f"{tokens_path('plant')}/{token['id']}", headers=ROOT_HEADERS).json()
    again = create(client, "plant", name="reused")
    assert again["token"] != token["token"]
    assert [t["name"] for t in listed(client, "plant")] == ["reused"]


def test_names_are_unique_per_project_only(client: TestClient) -> None:
    project(client, "plant")
    project(client, "other")
    create(client, "plant", name="shared")
    assert post(client, "plant", name="shared").status_code == 409
    assert create(client, "other", name="shared")["project_id"] == "other"
    issue(client, "plant", name="made natively")
    assert post(client, "plant", name="made natively").status_code == 409


def test_created_token_verifies(client: TestClient) -> None:
    project(client, "plant")
    plain = create(client, "plant", name="plain", brokers=["b1"])
    assert verify(client, plain["token"])["code"] == "VALID"
    # Unrestricted: the broker list does not limit it.
    assert verify(client, plain["token"], resource="b2")["code"] == "VALID"

    restricted = create(client, "plant", name="fenced", brokers=["b1", "b2"], type="restricted")
    verdict = verify(client, restricted["token"], resource="b1")
    assert verdict["valid"] is True and verdict["code"] == "VALID"
    assert verdict["token"]["id"] == int(restricted["id"])
    assert verify(client, restricted["token"], resource="b2")["code"] == "VALID"
    denied = verify(client, restricted["token"], resource="b3")
    assert denied["valid"] is False and denied["code"] == "RESOURCE_DENIED"


def test_native_api_sees_the_same_token(client: TestClient) -> None:
    project(client, "plant")
    token = create(
        client,
        "plant",
        name="mirrored",
        role="editor",
        brokers=["b1", "b2"],
        type="restricted",
        valid_date="2100-01-01T12:00:00Z",
    )
    native = client.get(f"/v1/tenants/plant/tokens/{token['id']}", headers=ROOT_HEADERS)
    assert native.status_code == 200
    shown = native.json()
    assert str(shown["id"]) == token["id"]
    assert shown["tenant"] == token["project_id"]
    assert shown["name"] == "mirrored"
    assert shown["role"] == "editor"
    assert shown["resources"] == ["b1", "b2"]
    assert shown["restricted"] is True
    assert millis(shown["expires_at"]) == token["valid_date"]
    assert millis(shown["created_at"]) == token["issue_date"]
    assert shown["owner"] == token["issuer"]
    assert shown["last_used_at"] is None and token["last_used_date"] is None
    assert shown["secret_hint"].endswith(token["token"][-5:])


def test_last_used_date_after_a_verification(settings: Settings) -> None:
    # The last use is written in batches; closing the app flushes it, so no timing is involved.
    with TestClient(create_app(settings)) as client:
        project(client, "plant")
        token = create(client, "plant", name="used")
        assert verify(client, token["token"])["code"] == "VALID"
    with TestClient(create_app(settings)) as client:
        [shown] = listed(client, "plant")
    assert isinstance(shown["last_used_date"], int)
    assert shown["last_used_date"] >= token["issue_date"]
    assert shown["issue_date"] == token["issue_date"]


def test_management_token_of_the_project(client: TestClient) -> None:
    project(client, "plant")
    editor = issue(client, "plant", name="mgr", role="editor", audience=["tokenward"], user="eve")
    headers = {"Authorization": f"Bearer {editor['secret']}"}
    made = create(client, "plant", headers=headers, name="by editor", role="editor")
    assert made["issuer"] == "eve"
    assert made["role_id"] == "editor"
    assert [t["name"] for t in listed(client, "plant", headers)] == ["mgr", "by editor"]
    deleted = client.delete(f"{tokens_path('plant')}/{made['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json() is True
