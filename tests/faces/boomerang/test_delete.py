"""DELETE /api/v2/token/{id}: 200 with an empty body, 400 with an empty body for unknown ids."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.faces.boomerang.support import CREATE, assert_empty, created, query
from tests.helpers import ROOT_HEADERS, issue

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def test_delete_answers_an_empty_200_and_the_token_stops_working(client: TestClient) -> None:
    made = created(client, name="doomed")
    kept = created(client, name="kept")
    assert client.post("/v1/verify", json={"token": made["token"]}).json()["valid"] is True

    assert_empty(client.delete(f"{CREATE}/{made['id']}", headers=ROOT_HEADERS), 200)

    verdict = client.post("/v1/verify", json={"token": made["token"]}).json()
    assert verdict == {
        "valid": False,
        "code": "NOT_FOUND",
        "token": None,
        "limits": None,
        "retry_after_ms": None,
    }
    native = client.get(f"/v1/tenants/default/tokens/{made['id']}", headers=ROOT_HEADERS)
    assert native.status_code == 404
    assert [t["id"] for t in query(client)["content"]] == [kept["id"]]
    # Deleting it again: it is unknown now.
    assert_empty(client.delete(f"{CREATE}/{made['id']}", headers=ROOT_HEADERS), 400)


def test_tokens_of_other_faces_are_deleted_too(client: TestClient) -> None:
    native = issue(client, name="native one")
    assert_empty(client.delete(f"{CREATE}/{native['id']}", headers=ROOT_HEADERS), 200)
    assert client.post("/v1/verify", json={"token": native["secret"]}).json()["valid"] is False


def test_unknown_and_malformed_ids_answer_an_empty_400(client: TestClient) -> None:
    created(client)
    for token_id in (
        "999",
        "0",
        "-1",
        "abc",
        "1.0",
        "1e3",
        "%201",
        "9" * 19,
        str(2**63 - 1),  # the largest id the store holds (limits.MAX_TOKEN_ID): looked up
        str(2**63),
        "99999999999999999999999999",
        "id_example",
    ):
        assert_empty(client.delete(f"{CREATE}/{token_id}", headers=ROOT_HEADERS), 400)
    assert query(client)["totalElements"] == 1
