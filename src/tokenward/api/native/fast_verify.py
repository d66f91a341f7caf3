"""``POST /v1/verify`` without the framework: the route every protected request becomes.

FastAPI's routing, dependency injection and response validation cost more than the whole
verification of a cached token, so this ASGI wrapper answers that one route itself, always;
the FastAPI app declares the route for the OpenAPI document only (``api/native/router.py``).
It shares every piece of the native face rather than copying it: the body's schema
(``VerifyRequest``) and its validation messages, the error translation (``errors.translate``:
one status table, one error body), the token's shape (``domain.documents.token_fields``),
the reading of the Bearer header (``routing.bearer_credential``), authentication
(``dependencies.authenticate``) and the request's log line (``observability.record_request``).

Cached verdicts are computed on the event loop, and so are SQLite store reads (cheaper than a
hand-off to a thread); whatever may wait (PostgreSQL, the change log) runs in the thread
pool: see ``Engine.verify_without_blocking``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.api.dependencies import authenticate
from tokenward.api.middleware import REQUEST_ID_HEADER, BodyTooLarge, read_body, request_id_of
from tokenward.api.native.errors import translate
from tokenward.api.native.schemas import VerifyRequest
from tokenward.api.observability import record_request
from tokenward.api.routing import bearer_credential
from tokenward.domain.documents import token_fields
from tokenward.domain.tokens import Token
from tokenward.domain.verification import VALID, Verification, VerifyCode
from tokenward.verification import Engine

VERIFY_PATH = "/v1/verify"
_JSON = (b"content-type", b"application/json")
_REQUEST_ID = REQUEST_ID_HEADER.encode()
_BAD_JSON = [{"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error"}]

Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


class VerifyFastPath:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, requires_credential: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        #: ``TOKENWARD_VERIFY_REQUIRES_AUTH``: the caller authenticates as for management.
        self.requires_credential = requires_credential

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != VERIFY_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        # The work of api.observability.RequestObservation, done here without its layer.
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 500
        try:
            try:
                status, body, extra = await self._answer(scope, receive)
            except Exception as exc:  # translated as every native route's: unknown ones too
                status, body, extra = _translated(scope, request_id, exc)
            headers = [
                _JSON,
                (b"content-length", str(len(body)).encode()),
                (_REQUEST_ID, request_id.encode()),
                *extra,
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            record_request(scope, VERIFY_PATH, status, started, request_id)

    async def _answer(self, scope: Scope, receive: Receive) -> Answer:
        engine: Engine = scope["state"]["engine"]
        raw = await read_body(scope, receive, self.max_body_bytes)
        if raw is None:
            raise BodyTooLarge(self.max_body_bytes)
        try:
            asked = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RequestValidationError(_BAD_JSON) from None
        secret, criteria = _criteria(asked)
        if self.requires_credential:
            presented = bearer_credential(_header(scope, b"authorization"))
            await authenticate(Request(scope), presented)
        result = engine.verify_without_blocking(secret, **criteria)
        if result is not None and result.token is None:
            # A secret of no token (malformed, filtered out, or read and not found) lets the
            # requests already waiting go first, so that a flood of them slows the
            # verification of real tokens less (bench/RESULTS.md, the flood rows).
            await asyncio.sleep(0)
        if result is None:
            result = await run_in_threadpool(engine.verify, secret, **criteria)
        return 200, _verdict_bytes(result, engine.clock()), []


def _criteria(asked: Any) -> tuple[str, dict[str, Any]]:
    """The secret and what else the body asks, validated by ``VerifyRequest`` itself: the
    route's one schema. The common body, a token alone, is recognised without the model."""
    if type(asked) is dict and len(asked) == 1:
        secret = asked.get("token")
        if type(secret) is str:
            return secret, {}
    try:
        body = VerifyRequest.model_validate(asked)
    except ValidationError as exc:
        # Located in the body, as FastAPI locates the errors of a body parameter.
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from None
    return body.token, {
        "audience": body.audience,
        "scopes": body.scopes,
        "resource": body.resource,
        "client_ip": body.client_ip,
        "cost": body.cost,
    }


def _translated(scope: Scope, request_id: str, exc: Exception) -> Answer:
    """The native face's answer to ``exc`` (``errors.translate``), as this path sends it."""
    scope.setdefault("state", {})["request_id"] = request_id
    response = translate(Request(scope), exc)
    extra = [
        (name, value)
        for name, value in response.raw_headers
        if name not in (b"content-type", b"content-length")
    ]
    return response.status_code, bytes(response.body), extra


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _verdict_bytes(result: Verification, now: datetime) -> bytes:
    token = result.token
    if token is None:
        return _TOKENLESS[result.code]
    if result.limits is not None:  # a token with controls: its limits are this answer's own
        return _controlled_bytes(result, token, now)
    # A VALID verdict was judged at ``now``, so its token is not expired.
    expired = False if result.code is VALID else token.is_expired(now)
    key = (id(token), result.code, expired)
    entry = _BODIES.get(key)
    if entry is not None and entry[0] is token:
        return entry[1]
    if len(_BODIES) >= _MAX_BODIES:
        _BODIES.clear()
    body = _verdict_head(result.code) + token_document(token, now) + _NO_LIMITS
    _BODIES[key] = (token, body)
    return body


def _controlled_bytes(result: Verification, token: Token, now: datetime) -> bytes:
    """Built for each answer (the balance and the counts change with each): only tokens with
    controls that reached them pay for it."""
    document = token_fields(token, now)
    limits_document = result.limits
    assert limits_document is not None
    remaining = limits_document.get("credits_remaining")
    if remaining is not None and document["credits"] is not None:
        document["credits"]["remaining"] = remaining  # the ledger's, not the snapshot's
    return (
        _verdict_head(result.code)
        + orjson.dumps(document, option=orjson.OPT_UTC_Z)
        + b',"limits":'
        + orjson.dumps(limits_document)
        + b',"retry_after_ms":'
        + orjson.dumps(result.retry_after_ms)
        + b"}"
    )


def token_document(token: Token, now: datetime) -> bytes:
    """The native ``TokenPublic`` document of a token, as JSON, without building the model:
    its fields from ``domain.documents.token_fields``, written as pydantic writes them (enums
    by value, instants in UTC with ``Z``)."""
    return orjson.dumps(token_fields(token, now), option=orjson.OPT_UTC_Z)


def _verdict_head(code: VerifyCode) -> bytes:
    valid = b"true" if code is VALID else b"false"
    return b'{"valid":' + valid + b',"code":"' + code.value.encode() + b'","token":'


_NO_LIMITS = b',"limits":null,"retry_after_ms":null}'
_TOKENLESS = {code: _verdict_head(code) + b"null" + _NO_LIMITS for code in VerifyCode}

#: Answers built from the token snapshots the verification engine hands out. A snapshot is
#: immutable, and a change to its token makes a new one, so an answer is built once per
#: snapshot and verdict rather than on every verification (its cost is in bench/RESULTS.md).
#: Keyed by the snapshot's identity; the entry holds the snapshot, so the identity cannot be
#: reused meanwhile.
_BODIES: dict[tuple[int, VerifyCode, bool], tuple[Token, bytes]] = {}
_MAX_BODIES = 2_000
