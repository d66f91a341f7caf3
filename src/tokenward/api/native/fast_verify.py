"""``POST /v1/verify`` without the framework: the route every protected request becomes.

FastAPI's routing, dependency injection and response validation cost more than the whole
verification of a cached token, so this ASGI wrapper answers that one route itself and hands
every other request to the app. The answers are the native API's, byte for byte in shape
(``tests/faces/native/test_fast_verify.py`` compares them with the schema's); the route stays
declared in the FastAPI app for the OpenAPI document.

Cached verdicts are computed on the event loop, and so are SQLite store reads (about 20 µs,
less than a hand-off to a thread costs); whatever may wait (PostgreSQL, a unit of work) runs
in the thread pool. See ``verification.verify_without_blocking``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.api.middleware import REQUEST_ID_HEADER, read_body, request_id_of
from tokenward.api.observability import record_request
from tokenward.api.routing import BEARER_CHALLENGE
from tokenward.domain import limits
from tokenward.domain.errors import RateLimited, TokenwardError, Unauthenticated, Unavailable
from tokenward.domain.tokens import Credits, Token
from tokenward.domain.verification import VALID, Verification, VerifyCode
from tokenward.service import verification
from tokenward.service.core import Core

VERIFY_PATH = "/v1/verify"
_FIELDS = frozenset({"token", "audience", "scopes", "resource", "client_ip", "cost"})
_JSON = (b"content-type", b"application/json")
_REQUEST_ID = REQUEST_ID_HEADER.encode()


class VerifyFastPath:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != VERIFY_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        # The work of api.observability.RequestObservation, done here without its layer.
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 500
        try:
            status, body, extra = await self._answer(scope, receive, request_id)
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

    async def _answer(
        self, scope: Scope, receive: Receive, request_id: str
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        core: Core = scope["state"]["core"]
        raw = await read_body(scope, receive, self.max_body_bytes)
        if raw is None:
            message = f"the request body is larger than {self.max_body_bytes} bytes"
            return _error(413, "PAYLOAD_TOO_LARGE", message, request_id)
        try:
            asked = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "MALFORMED_JSON", "the request body is not valid JSON", request_id)
        problem = _invalid(asked)
        if problem is not None:
            return _error(422, "VALIDATION_FAILED", problem, request_id)
        criteria = {
            "audience": asked.get("audience"),
            "scopes": asked.get("scopes") or (),
            "resource": asked.get("resource"),
            "client_ip": asked.get("client_ip"),
            "cost": asked.get("cost", 1),
        }
        try:
            result = verification.verify_without_blocking(core, asked["token"], **criteria)
            if result is not None and result.token is None:
                # A secret of no token (malformed, filtered out, or read and not found) lets
                # the requests already waiting go first, so that a flood of them slows the
                # verification of real tokens less (measured with 16 + 16 connections: the
                # valid stream's share 0.81-0.89 -> 1.09-1.18).
                await asyncio.sleep(0)
            if result is None:
                result = await run_in_threadpool(
                    verification.verify,
                    core,
                    asked["token"],
                    credential=_bearer(scope),
                    client=scope["client"][0] if scope.get("client") else None,
                    **criteria,
                )
        except Unauthenticated as exc:
            status, body, _ = _error(401, exc.code, exc.message, request_id)
            return status, body, [(b"www-authenticate", BEARER_CHALLENGE.encode())]
        except RateLimited as exc:  # failed credentials (TOKENWARD_VERIFY_REQUIRES_AUTH)
            status, body, _ = _error(429, exc.code, exc.message, request_id)
            return status, body, [(b"retry-after", str(exc.retry_after).encode())]
        except Unavailable as exc:  # a store read, on the loop (SQLite) or in a thread
            return _error(503, exc.code, exc.message, request_id)
        except TokenwardError as exc:
            return _error(400, exc.code, exc.message, request_id)
        return 200, _verdict_bytes(result, core.clock()), []


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
    body = _verdict_head(result.code) + orjson.dumps(token_document(token, now)) + _NO_LIMITS
    _BODIES[key] = (token, body)
    return body


def _controlled_bytes(result: Verification, token: Token, now: datetime) -> bytes:
    """Built for each answer (the balance and the counts change with each): only tokens with
    controls that reached them pay for it."""
    document = token_document(token, now)
    limits_document = result.limits
    assert limits_document is not None
    remaining = limits_document.get("credits_remaining")
    if remaining is not None and document["credits"] is not None:
        document["credits"]["remaining"] = remaining  # the ledger's, not the snapshot's
    return (
        _verdict_head(result.code)
        + orjson.dumps(document)
        + b',"limits":'
        + orjson.dumps(limits_document)
        + b',"retry_after_ms":'
        + orjson.dumps(result.retry_after_ms)
        + b"}"
    )


def _verdict_head(code: VerifyCode) -> bytes:
    valid = b"true" if code is VALID else b"false"
    return b'{"valid":' + valid + b',"code":"' + code.value.encode() + b'","token":'


_NO_LIMITS = b',"limits":null,"retry_after_ms":null}'
_TOKENLESS = {code: _verdict_head(code) + b"null" + _NO_LIMITS for code in VerifyCode}

#: Answers built from the token snapshots the verification cache hands out. A snapshot is
#: immutable, and a change to its token makes a new one, so an answer is built once per
#: snapshot and verdict rather than on every verification (about 10 µs). Keyed by the
#: snapshot's identity; the entry holds the snapshot, so the identity cannot be reused
#: meanwhile.
_BODIES: dict[tuple[int, VerifyCode, bool], tuple[Token, bytes]] = {}
_MAX_BODIES = 2_000


def token_document(token: Token, now: datetime) -> dict[str, Any]:
    """The native ``TokenPublic`` shape, built without pydantic."""
    return {
        "id": token.id,
        "tenant": token.tenant,
        "name": token.name,
        "description": token.description,
        "type": token.type.value,
        "principal": token.principal,
        "owner": token.owner,
        "user": token.user,
        "role": token.role.value,
        "scopes": list(token.scopes),
        "audience": list(token.audience),
        "resources": list(token.resources),
        "restricted": token.restricted,
        "active": token.active,
        "expired": token.is_expired(now),
        "expires_at": _instant(token.expires_at),
        "created_at": _instant(token.created_at),
        "updated_at": _instant(token.updated_at),
        "last_used_at": _instant(token.last_used_at),
        "secret_hint": token.secret_hint,
        "recoverable": token.recoverable,
        "metadata": dict(limits.answerable_metadata(token.metadata)),
        "rate_limits": [
            {"name": r.name, "limit": r.limit, "window_seconds": r.window_seconds}
            for r in token.rate_limits
        ],
        "credits": _credits_document(token.credits),
        "ip_allowlist": list(token.ip_allowlist),
    }


def _credits_document(credits: Credits | None) -> dict[str, Any] | None:
    if credits is None:
        return None
    refill = credits.refill
    return {
        "remaining": credits.remaining,
        "refill": None
        if refill is None
        else {"amount": refill.amount, "interval": refill.interval.value},
    }


def _instant(moment: datetime | None) -> str | None:
    """As pydantic writes an aware UTC datetime: ``...T18:57:14.133000Z``."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _invalid(asked: Any) -> str | None:
    """What is wrong with the body, in the words of the native API's validation errors."""
    if not isinstance(asked, dict):
        return "body: Input should be a valid dictionary"
    token = asked.get("token")
    if not isinstance(token, str):
        if "token" not in asked:
            return "body.token: Field required"
        return "body.token: Input should be a valid string"
    if len(asked) == 1:  # most verifications ask for nothing but the token
        return None
    for field in ("audience", "resource"):
        if asked.get(field) is not None and not isinstance(asked[field], str):
            return f"body.{field}: Input should be a valid string"
    scopes = asked.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        return "body.scopes: Input should be a valid list of strings"
    if asked.get("client_ip") is not None and not isinstance(asked["client_ip"], str):
        return "body.client_ip: Input should be a valid string"
    cost = asked.get("cost", 1)
    if not isinstance(cost, int) or isinstance(cost, bool):
        return "body.cost: Input should be a valid integer"
    if not 0 <= cost <= limits.MAX_COST:
        return f"body.cost: Input should be between 0 and {limits.MAX_COST}"
    if not _FIELDS.issuperset(asked):
        # As validation_messages words it: never the unknown name, which may be a secret.
        return "body: Extra inputs are not permitted"
    return None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credential = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return credential.strip() or None
    return None


def _error(
    status: int, code: str, message: str, request_id: str
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    return status, orjson.dumps(body), []
