"""The framework-free /v1/verify answers exactly what the native schema describes, with the
native face's own pieces (schema, validation messages, error bodies, token shape)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tests.helpers import ROOT_HEADERS, issue
from tokenward.api.native import fast_verify
from tokenward.api.native.fast_verify import token_document
from tokenward.api.native.schemas import TokenPublic, VerifyResponse
from tokenward.app import create_app
from tokenward.domain import documents
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    Credits,
    RateLimit,
    Refill,
    RefillInterval,
    Token,
    TokenSpec,
    TokenType,
)
from tokenward.service import tokens
from tokenward.settings import Settings
from tokenward.verification.cache import CachedSecret

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres


def test_token_document_matches_the_schema() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    base = Token(
        id=5,
        tenant="acme",
        name="n",
        description="d",
        type=TokenType.USER,
        principal="u",
        owner="root",
        user="alice",
        role=Role.EDITOR,
        scopes=("a", "b"),
        audience=("x",),
        resources=(),
        restricted=False,
        active=True,
        expires_at=datetime(2026, 1, 2, tzinfo=UTC),
        created_at=datetime(2025, 12, 31, 23, 59, 59, 123000, tzinfo=UTC),
        updated_at=now,
        last_used_at=None,
        secret_hash="0" * 64,
        secret_hint="tw_...abcde",
        sealed_secret=None,
        metadata={"k": [1, 2]},
    )
    for token in [
        base,
        dataclasses.replace(base, expires_at=None, principal=None, type=TokenType.GLOBAL),
        dataclasses.replace(base, expires_at=now, last_used_at=now, sealed_secret=b"x"),
        dataclasses.replace(
            base,
            rate_limits=(RateLimit("per-minute", 60, 60),),
            credits=Credits(5, Refill(5, RefillInterval.MONTHLY)),
            ip_allowlist=("10.0.0.0/8",),
        ),
    ]:
        # Byte for byte: every field, its order, and how each value is written.
        answer = TokenPublic.of(token, now).model_dump_json().encode()
        assert token_document(token, now) == answer
        # A webhook payload's token, as JSON values, is the same document.
        assert orjson.dumps(documents.token_document(token, now)) == answer


def test_http_answer_validates_against_the_schema(client: TestClient) -> None:
    token = issue(client, name="svc", scopes=["r"], metadata={"a": 1}, ttl_seconds=60)
    for _ in range(2):  # a store read, then a cache hit
        answer = client.post("/v1/verify", json={"token": token["secret"], "scopes": ["r"]})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert len(answer.headers.get_list("x-request-id")) == 1
        body = answer.json()
        assert VerifyResponse.model_validate(body).model_dump(mode="json") == body
        assert body["token"]["id"] == token["id"] and body["code"] == "VALID"


def test_other_methods_and_paths_reach_the_app(client: TestClient) -> None:
    assert client.get("/v1/verify").status_code == 405
    assert client.post("/v1/verify", json=["not", "an", "object"]).status_code == 422
    extra = client.post("/v1/verify", json={"token": "x", "tokne": 1})
    # Which object holds an unknown field, never its name: that may be a pasted secret.
    assert extra.status_code == 422 and "tokne" not in extra.text
    assert extra.json()["error"]["message"] == "body: Extra inputs are not permitted"


def test_answers_follow_changes_made_within_one_millisecond(client: TestClient) -> None:
    """Documents are kept per token snapshot: a change at once gives a new document."""
    token = issue(client, name="flip")
    base = f"/v1/tenants/default/tokens/{token['id']}"
    for _ in range(5):
        client.post("/v1/verify", json={"token": token["secret"]})
        client.post(f"{base}/disable", headers=ROOT_HEADERS)
        off = client.post("/v1/verify", json={"token": token["secret"]}).json()
        assert off["code"] == "DISABLED" and off["token"]["active"] is False
        client.post(f"{base}/enable", headers=ROOT_HEADERS)
        on = client.post("/v1/verify", json={"token": token["secret"]}).json()
        assert on["code"] == "VALID" and on["token"]["active"] is True


def test_store_reads_run_on_the_loop_only_where_they_cannot_wait(
    client: TestClient, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: a store read runs on the event loop (a hand-off to a thread costs more than
    the read). PostgreSQL, or a filter to bring up to date first: in the thread pool."""
    handed: list[object] = []
    in_threads = fast_verify.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(func)
        return await in_threads(func, *args, **kwargs)

    monkeypatch.setattr(fast_verify, "run_in_threadpool", counted)
    first, second = issue(client, name="first"), issue(client, name="second")
    # Caught up with the two creates here, not by the 50 ms poller's timing: on SQLite no read
    # then needs a thread; on PostgreSQL every read takes one.
    client.app_state["engine"].sync()
    for token, threads in (
        (first, 0 if backend == "sqlite" else 1),
        (second, 0 if backend == "sqlite" else 2),
    ):
        answer = client.post("/v1/verify", json={"token": token["secret"]}).json()
        assert answer["code"] == "VALID" and answer["token"]["id"] == token["id"]
        assert len(handed) == threads


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_store_read_on_the_loop_that_fails_is_a_503(
    client: TestClient, settings: Settings
) -> None:
    first, second = issue(client, name="first"), issue(client, name="second")
    assert client.post("/v1/verify", json={"token": first["secret"]}).status_code == 200
    # Every creation caught up with before the table goes (the poller may not have run yet).
    client.app_state["engine"].sync()
    # Another process moves the secrets away: the lookup's query fails on the event loop.
    other = sqlite3.connect(make_url(settings.resolved_database_url).database or "")
    try:
        other.execute("ALTER TABLE token_secrets RENAME TO token_secrets_moved")
        other.commit()
        client.app_state["engine"].sync()  # current again: no thread needed for a sync
        answer = client.post("/v1/verify", json={"token": second["secret"]})
    finally:
        other.execute("ALTER TABLE token_secrets_moved RENAME TO token_secrets")
        other.commit()
        other.close()
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "UNAVAILABLE"
    assert client.post("/v1/verify", json={"token": second["secret"]}).json()["code"] == "VALID"


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL reads unknown ones in a thread
def test_unknown_secrets_let_waiting_verifications_go_first(settings: Settings) -> None:
    """Of two verifications that arrive together, a real token's is answered first even when
    an unknown secret's came in first: under a flood the real ones keep their pace."""

    async def scenario() -> list[str]:
        app = create_app(settings)
        state: dict[str, Any] = {}
        startup: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        await startup.put({"type": "lifespan.startup"})
        started = asyncio.Event()

        async def lifespan_send(message: dict[str, Any]) -> None:
            started.set()

        lifespan = asyncio.create_task(
            app({"type": "lifespan", "state": state}, startup.get, lifespan_send)  # type: ignore[arg-type]
        )
        await started.wait()
        core = state["core"]
        valid = tokens.issue(core, Actor.root(), tenant="default", spec=TokenSpec(name="v"))
        finished: list[str] = []

        async def verify(label: str, secret: str) -> None:
            body = orjson.dumps({"token": secret})
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/v1/verify",
                "headers": [(b"content-length", str(len(body)).encode())],
                "query_string": b"",
                "client": ("127.0.0.1", 1),
                "state": dict(state),
            }

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    finished.append(label)

            await app(scope, receive, send)  # type: ignore[arg-type]

        engine = state["engine"]
        engine.sync()  # the issue is logged: apply it now, not between the two below
        await verify("valid", valid.secret)
        assert isinstance(engine.cache.get(valid.token.secret_hash), CachedSecret)
        finished.clear()
        await asyncio.gather(
            verify("unknown", secret_format.generate()), verify("valid", valid.secret)
        )
        await startup.put({"type": "lifespan.shutdown"})
        await lifespan
        return finished

    assert asyncio.run(scenario()) == ["valid", "unknown"]
