"""Devo's GET shows the secret or its mask by a pure rule: a masked reading writes nothing,
and only a secret actually shown leaves its ``token.reveal`` record in the audit trail."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.faces.devo.support import ACCOUNT, account, create, get, manager_headers
from tests.helpers import ROOT_HEADERS, issue


def reveals(client: TestClient) -> list[int]:
    trail = client.get(
        "/v1/audit", params={"tenant": ACCOUNT, "limit": 100}, headers=ROOT_HEADERS
    ).json()
    return [r["token_id"] for r in trail["items"] if r["action"] == "token.reveal"]


def test_only_a_shown_secret_is_audited(client: TestClient) -> None:
    account(client)
    made = create(client, name="kept")
    native = issue(client, ACCOUNT, name="not kept", audience=["apiv2"])
    viewer = manager_headers(client, role="viewer")

    # Masked: the viewer may not see it; the native token kept no secret to show.
    assert get(client, made["id"], viewer)["token"] != made["token"]
    assert get(client, native["id"])["token"] != native["secret"]
    assert reveals(client) == []

    # Shown to root: once, with one record.
    assert get(client, made["id"])["token"] == made["token"]
    assert reveals(client) == [made["id"]]
