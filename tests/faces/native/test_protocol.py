"""HTTP-level behaviour: request ids, error bodies, body limit, health, OpenAPI, audit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import ROOT_HEADERS, bearer, issue, manager, tenant


def test_every_response_has_a_request_id(client: TestClient) -> None:
    for answer in [
        client.get("/healthz"),
        client.get("/v1/tenants"),
        client.get("/nowhere"),
        client.post("/v1/verify", content=b"[", headers={"content-type": "application/json"}),
    ]:
        assert len(answer.headers.get_list("x-request-id")) == 1
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    unsafe = client.get("/healthz", headers={"X-Request-ID": "a b\tc"})
    assert unsafe.headers["x-request-id"] != "a b\tc"


def test_verification_answers_carry_request_ids_too(client: TestClient) -> None:
    """``POST /v1/verify`` is answered outside the observation layer and makes its own ids:
    fresh ones (128 random bits, in hex) for every answer, the caller's when it sends one."""
    made = issue(client, "default")
    ids = [
        client.post("/v1/verify", json={"token": made["secret"]}).headers["x-request-id"]
        for _ in range(300)  # past one block of pre-drawn ids
    ]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    echoed = client.post(
        "/v1/verify", json={"token": made["secret"]}, headers={"X-Request-ID": "trace-7"}
    )
    assert echoed.headers["x-request-id"] == "trace-7"


def test_error_body_shape(client: TestClient) -> None:
    answer = client.get("/v1/tenants/default/tokens/1", headers=ROOT_HEADERS)
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert error["request_id"] == answer.headers["x-request-id"]
    unknown_route = client.get("/v1/nothing-here")
    assert unknown_route.status_code == 404 and unknown_route.json()["error"]["code"] == "NOT_FOUND"
    wrong_method = client.put("/v1/verify")
    assert wrong_method.status_code == 405


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = b'{"token": "' + b"a" * (70 * 1024) + b'"}'
    answer = client.post("/v1/verify", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks():  # no Content-Length: the limit holds while streaming too
        for _ in range(80):
            yield b" " * 1024

    streamed = client.post(
        "/v1/tenants/default/tokens",
        content=chunks(),
        headers={**ROOT_HEADERS, "content-type": "application/json"},
    )
    assert streamed.status_code == 413


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in [
        "/v1/tenants",
        "/v1/tenants/{tenant}/tokens",
        "/v1/verify",
        "/v1/audit",
        "/v1/tenants/{tenant}/tokens/{token_id}/secret",
    ]:
        assert path in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_audit_trail(client: TestClient) -> None:
    tenant(client, "acme")
    token = issue(client, "acme", recoverable=True)
    client.post(f"/v1/tenants/acme/tokens/{token['id']}/disable", headers=ROOT_HEADERS)
    client.get(f"/v1/tenants/acme/tokens/{token['id']}/secret", headers=ROOT_HEADERS)
    body = client.get("/v1/audit", params={"tenant": "acme"}, headers=ROOT_HEADERS).json()
    actions = [r["action"] for r in body["items"]]
    assert actions == ["token.reveal", "token.disable", "token.issue", "tenant.create"]
    assert body["total"] == 4
    assert all(r["actor"] == "root" and r["client"] == "testclient" for r in body["items"])
    assert token["secret"] not in str(body)
    only = client.get(
        "/v1/audit",
        params={"action": "token.disable", "token_id": token["id"]},
        headers=ROOT_HEADERS,
    ).json()
    assert [r["action"] for r in only["items"]] == ["token.disable"]

    issue(client, "default")
    acme_admin = bearer(manager(client, "acme", role="admin")["secret"])
    seen = client.get("/v1/audit", headers=acme_admin).json()["items"]
    assert {r["tenant"] for r in seen} == {"acme"}
    other = client.get("/v1/audit", params={"tenant": "default"}, headers=acme_admin)
    assert other.status_code == 404


def test_a_new_tenant_of_a_deleted_ones_name_sees_none_of_its_audit_trail(
    client: TestClient,
) -> None:
    tenant(client, "acme")
    old = issue(client, "acme", name="old acme token")
    client.post(f"/v1/tenants/acme/tokens/{old['id']}/disable", headers=ROOT_HEADERS)
    assert client.delete("/v1/tenants/acme", headers=ROOT_HEADERS).status_code == 204
    tenant(client, "acme")
    new_admin = manager(client, "acme", role="admin")
    seen = client.get("/v1/audit", headers=bearer(new_admin["secret"])).json()
    assert [(r["action"], r["token_id"]) for r in seen["items"]] == [
        ("token.issue", new_admin["id"]),
        ("tenant.create", None),
    ]
    assert seen["total"] == 2
    # Root keeps the whole history of the name, the deletion between the two tenants.
    everything = client.get("/v1/audit", params={"tenant": "acme"}, headers=ROOT_HEADERS).json()
    assert [r["action"] for r in everything["items"]] == [
        "token.issue",
        "tenant.create",
        "tenant.delete",
        "token.disable",
        "token.issue",
        "tenant.create",
    ]
