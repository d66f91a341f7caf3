"""Leak reports in GitHub's secret-scanning partner format, signed with a test ECDSA P-256
key as GitHub signs them, against the app (and once against a real server process); and the
by-hash check that ``tokenward scan`` uses."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from tests.e2e.server import Server
from tests.helpers import ROOT_HEADERS, ROOT_TOKEN, bearer, issue, manager, tenant
from tests.lifecycle.receiver import Receiver, verified
from tokenward.app import create_app
from tokenward.domain import secrets as secret_format
from tokenward.settings import Settings

KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"
RETIRED_ID = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def retired_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def keys_file(
    tmp_path: Path, signing_key: ec.EllipticCurvePrivateKey, retired_key: ec.EllipticCurvePrivateKey
) -> Path:
    """The document as GitHub publishes it at /meta/public_keys/secret_scanning."""
    path = tmp_path / "github-keys.json"
    path.write_text(
        json.dumps(
            {
                "public_keys": [
                    {"key_identifier": KEY_ID, "key": _pem(signing_key), "is_current": True},
                    {"key_identifier": RETIRED_ID, "key": _pem(retired_key), "is_current": False},
                ]
            }
        )
    )
    return path


@pytest.fixture
def client(settings: Settings, keys_file: Path) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"leak_public_keys": keys_file})
    with TestClient(create_app(configured)) as test_client:
        yield test_client


def signed(
    reports: list[dict[str, Any]],
    key: ec.EllipticCurvePrivateKey,
    key_id: str = KEY_ID,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(reports).encode()
    signature = base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    return body, {
        "Content-Type": "application/json",
        "Github-Public-Key-Identifier": key_id,
        "Github-Public-Key-Signature": signature,
    }


def report(
    client: TestClient, key: ec.EllipticCurvePrivateKey, *tokens: str, url: str = "https://x/y"
) -> Any:
    body, headers = signed(
        [{"token": t, "type": "tokenward_token", "url": url, "source": "content"} for t in tokens],
        key,
    )
    response = client.post("/v1/leaks", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def leak_audit(client: TestClient) -> list[dict[str, Any]]:
    answer = client.get("/v1/audit", params={"action": "token.leak"}, headers=ROOT_HEADERS)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


@pytest.mark.postgres
def test_a_live_token_is_disabled_and_answered_true_positive(
    client: TestClient, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    token = issue(client, name="leaked")
    bystander = issue(client, name="bystander")
    url = "https://github.com/octo/repo/blob/abc/config.yml"

    [verdict] = report(client, signing_key, token["secret"], url=url)

    assert verdict == {
        "token_hash": hashlib.sha256(token["secret"].encode()).hexdigest(),
        "token_type": "tokenward_token",
        "label": "true_positive",
    }
    verify = client.post("/v1/verify", json={"token": token["secret"]}).json()
    assert verify["valid"] is False and verify["code"] == "DISABLED"
    assert client.post("/v1/verify", json={"token": bystander["secret"]}).json()["valid"]
    [entry] = leak_audit(client)
    assert entry["token_id"] == token["id"]
    assert entry["actor"] == "secret-scanning"
    assert entry["detail"]["url"] == url
    assert entry["detail"]["action"] == "disabled"
    assert token["secret"] not in json.dumps(entry)


def test_false_positives_cost_no_change(
    client: TestClient, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    token = issue(client)
    unknown = secret_format.generate()  # well formed, never issued
    typo = token["secret"][:-1] + ("A" if token["secret"][-1] != "A" else "B")
    verdicts = report(client, signing_key, unknown, typo, "not a token at all")
    assert [v["label"] for v in verdicts] == ["false_positive"] * 3
    assert [v["token_hash"] for v in verdicts] == [
        hashlib.sha256(s.encode()).hexdigest() for s in (unknown, typo, "not a token at all")
    ]
    assert client.post("/v1/verify", json={"token": token["secret"]}).json()["valid"]
    assert leak_audit(client) == []


def test_a_rotated_out_secret_past_its_grace_takes_nothing_down(
    client: TestClient, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    token = issue(client)
    rotated = client.post(
        f"/v1/tenants/default/tokens/{token['id']}/rotate", json={}, headers=ROOT_HEADERS
    ).json()
    [verdict] = report(client, signing_key, token["secret"])
    assert verdict["label"] == "false_positive"
    assert client.post("/v1/verify", json={"token": rotated["secret"]}).json()["valid"]


def test_on_leak_notify_only_reports_and_announces(
    client: TestClient, signing_key: ec.EllipticCurvePrivateKey, receiver: Receiver
) -> None:
    tenant(client, "acme")
    put = client.put("/v1/tenants/acme/policy", json={"on_leak": "notify"}, headers=ROOT_HEADERS)
    assert put.status_code == 200, put.text
    hook = client.post(
        "/v1/tenants/acme/webhooks",
        json={"url": receiver.url, "events": ["token.leaked"]},
        headers=ROOT_HEADERS,
    ).json()
    token = issue(client, "acme", name="in acme")
    url = "https://gist.github.com/someone/1"

    [verdict] = report(client, signing_key, token["secret"], url=url)

    assert verdict["label"] == "true_positive"
    assert client.post("/v1/verify", json={"token": token["secret"]}).json()["valid"]
    [item] = receiver.wait_for(lambda got: len(got) >= 1)
    payload = verified(hook["secret"], item)
    assert payload["type"] == "token.leaked"
    assert payload["data"]["tenant"] == "acme"
    assert payload["data"]["token"]["id"] == token["id"]
    assert payload["data"]["token"]["active"] is True
    assert payload["data"]["url"] == url
    assert payload["data"]["action"] == "reported"
    assert token["secret"] not in item.body


def test_a_key_no_longer_current_still_verifies(
    client: TestClient, retired_key: ec.EllipticCurvePrivateKey
) -> None:
    token = issue(client)
    body, headers = signed([{"token": token["secret"], "type": "t"}], retired_key, RETIRED_ID)
    answer = client.post("/v1/leaks", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["label"] == "true_positive"


def test_bad_signatures_are_refused_and_change_nothing(
    client: TestClient,
    signing_key: ec.EllipticCurvePrivateKey,
    retired_key: ec.EllipticCurvePrivateKey,
) -> None:
    token = issue(client)
    reports = [{"token": token["secret"], "type": "t", "url": "u", "source": "content"}]
    body, good = signed(reports, signing_key)
    other_body = json.dumps(reports + reports).encode()
    attempts = [
        (body, {}),  # unsigned
        (body, {**good, "Github-Public-Key-Identifier": "unknown"}),
        (body, {**good, "Github-Public-Key-Identifier": RETIRED_ID}),  # another key's id
        (other_body, good),  # the body changed after signing
        (body, {**good, "Github-Public-Key-Signature": "not base64!"}),
        (body, {**good, "Github-Public-Key-Signature": base64.b64encode(b"junk").decode()}),
        (body, signed(reports, retired_key, KEY_ID)[1]),  # signed by a key not under that id
    ]
    for content, headers in attempts:
        answer = client.post("/v1/leaks", content=content, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.json()["error"]["code"] == "UNAUTHENTICATED"
    assert client.post("/v1/verify", json={"token": token["secret"]}).json()["valid"]
    assert leak_audit(client) == []


@pytest.mark.parametrize(
    "document",
    [
        b"{not json",
        b'{"token": "x"}',
        b'[{"type": "t"}]',
        b'[{"token": 5}]',
        b'[{"token": "x", "url": 3}]',
    ],
)
def test_a_signed_body_that_is_not_a_report_is_a_400(
    client: TestClient, signing_key: ec.EllipticCurvePrivateKey, document: bytes
) -> None:
    signature = base64.b64encode(signing_key.sign(document, ec.ECDSA(hashes.SHA256()))).decode()
    answer = client.post(
        "/v1/leaks",
        content=document,
        headers={"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": signature},
    )
    assert answer.status_code == 400, answer.text


def test_without_keys_the_endpoint_is_not_offered(settings: Settings) -> None:
    with TestClient(create_app(settings)) as plain:
        answer = plain.post("/v1/leaks", json=[])
        assert answer.status_code == 404
        assert "/v1/leaks" not in plain.get("/openapi.json").json()["paths"]


def test_a_wrong_keys_file_stops_the_app_from_being_built(
    settings: Settings, tmp_path: Path
) -> None:
    wrong = tmp_path / "keys.json"
    wrong.write_text(json.dumps({"public_keys": [{"key_identifier": "a", "key": "nope"}]}))
    with pytest.raises(ValueError, match="not a PEM key"):
        create_app(settings.model_copy(update={"leak_public_keys": wrong}))
    rsa_like = tmp_path / "p384.json"
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_like.write_text(json.dumps({"public_keys": [{"key_identifier": "a", "key": _pem(p384)}]}))
    with pytest.raises(ValueError, match="P-256"):
        create_app(settings.model_copy(update={"leak_public_keys": rsa_like}))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def test_check_by_hash_answers_within_the_callers_tenant(client: TestClient) -> None:
    tenant(client, "acme")
    mine = issue(client, name="mine")
    disabled = issue(client, name="off", active=False)
    theirs = issue(client, "acme", name="theirs")
    viewer = manager(client)
    hashes = [_hash(s["secret"]) for s in (mine, disabled, theirs)] + [_hash("unknown")]

    answer = client.post(
        "/v1/leaks/check", json={"hashes": hashes}, headers=bearer(viewer["secret"])
    )

    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["live"] for i in items] == [True, False, False, False]
    assert items[0]["token_id"] == mine["id"] and items[0]["name"] == "mine"
    assert items[1]["token_id"] == disabled["id"]  # known, but not live
    # Another tenant's token reads exactly as an unknown hash: no oracle.
    assert items[2] == {**items[3], "hash": hashes[2]}
    as_root = client.post("/v1/leaks/check", json={"hashes": hashes}, headers=ROOT_HEADERS)
    assert [i["live"] for i in as_root.json()["items"]] == [True, False, True, False]


def test_check_needs_a_credential_and_real_hashes(client: TestClient) -> None:
    assert client.post("/v1/leaks/check", json={"hashes": []}).status_code == 401
    bad = client.post("/v1/leaks/check", json={"hashes": ["tw_secret"]}, headers=ROOT_HEADERS)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_a_report_to_a_real_server_process(
    database_url: str, tmp_path: Path, keys_file: Path, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """As GitHub sends it: signed bytes over real HTTP to ``tokenward serve``."""
    server = Server(
        tmp_path / "served",
        {
            "TOKENWARD_ADMIN_TOKEN": ROOT_TOKEN,
            "TOKENWARD_DATABASE_URL": database_url,
            "TOKENWARD_LEAK_PUBLIC_KEYS": str(keys_file),
        },
    )
    try:
        created = httpx.post(
            f"{server.url}/v1/tenants/default/tokens", json={"name": "x"}, headers=ROOT_HEADERS
        )
        secret = created.json()["secret"]
        body, headers = signed(
            [{"token": secret, "type": "tw", "url": "u", "source": "commit"}], signing_key
        )
        answer = httpx.post(f"{server.url}/v1/leaks", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["label"] == "true_positive"
        refused = httpx.post(f"{server.url}/v1/leaks", content=body + b" ", headers=headers)
        assert refused.status_code == 401
        verdict = httpx.post(f"{server.url}/v1/verify", json={"token": secret}).json()
        assert verdict["code"] == "DISABLED"
    finally:
        server.stop()
    assert secret not in server.output()
