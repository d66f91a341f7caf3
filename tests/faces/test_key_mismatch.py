"""A sealed secret that the server's key does not open (a tampered or foreign record): each
face that reveals secrets says so in its own error format, with the code KEY_MISMATCH."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.helpers import ROOT_HEADERS, issue
from tokenward.domain.secrets import hash_secret
from tokenward.service.sealing import Sealer
from tokenward.settings import Settings
from tokenward.store.engine import make_engine
from tokenward.store.tables import tokens


def test_every_revealing_face_names_a_key_mismatch(client: TestClient, settings: Settings) -> None:
    token = issue(client, name="sealed elsewhere", recoverable=True)
    foreign = Sealer(b"f" * 44).seal(token["secret"], bound_to=hash_secret(token["secret"]))
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(tokens).where(tokens.c.id == token["id"]).values(sealed_secret=foreign)
            )
    finally:
        engine.dispose()

    native = client.get(f"/v1/tenants/default/tokens/{token['id']}/secret", headers=ROOT_HEADERS)
    assert native.status_code == 500 and native.json()["error"]["code"] == "KEY_MISMATCH"
    devo = client.get(f"/v2/accounts/default/tokens/{token['id']}", headers=ROOT_HEADERS)
    assert devo.status_code == 500
    assert devo.json()["error"]["message"].startswith("KEY_MISMATCH")
    query = client.get("/_/token/value", params={"name": token["name"]}, headers=ROOT_HEADERS)
    assert query.status_code == 500 and query.text.startswith("KEY_MISMATCH")
    for answer in (native, devo, query):
        assert token["secret"] not in answer.text
