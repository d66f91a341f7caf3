"""Issue 20: offline verification of an exchanged JWT in the FastAPI integration, in process.

The guard ``require_token(..., offline=True)`` is called as FastAPI calls it, with a
Starlette request, on keys already fetched (as after the first request): the signature, the
claims, scopes and the revocation set, per check. A JWT of each algorithm, signed by
tokenward's own signing engine. No network: no server is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from tokenward.integrations.fastapi import require_token
from tokenward.integrations.offline import AsyncOfflineVerifier
from tokenward.signing import keys
from tokenward.signing.ring import KeyRing
from tokenward.signing.schedule import Schedule

ISSUER = "https://tokens.example.test"
TARGET_P50_NS = 100_000


def _tokens(alg: str, n: int) -> tuple[list[str], dict[str, object]]:
    now = datetime.now(UTC)
    key = keys.generate(alg, generation=1, created_at=now, activates_at=now)
    schedule = Schedule(cache=timedelta(minutes=10), rotate_every=timedelta(days=30))
    ring = KeyRing(schedule, lambda: now)
    ring.replace([key])
    seconds = int(now.timestamp())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": "billing",
        "exp": seconds + 300,
        "iat": seconds,
        "nbf": seconds,
        "client_id": "1",
        "scope": "invoices:read",
        "tenant": "default",
        "role": "viewer",
    }
    return [ring.sign({**claims, "jti": f"bench-{i}"}) for i in range(n)], ring.jwks()


def measure(alg: str, distinct: int, checks: int, fresh: bool = False) -> list[int]:
    """``checks`` calls of the guard over ``distinct`` tokens in turn: with as many tokens as
    checks each is new (its signature is checked); with one, the remembered check is used.
    ``fresh``: each check on a verifier and guard of its own, made just before it: the first
    check of a new verifier (its key objects not yet built)."""
    tokens, jwks = _tokens(alg, distinct)
    if fresh:
        return [measure_first(tokens[i % distinct], jwks) for i in range(checks)]
    verifier = AsyncOfflineVerifier(
        "http://127.0.0.1:9", issuer=ISSUER, revocation_poll_seconds=None
    )
    verifier.checker.keys.install(jwks)
    verifier.checker.max_verified = checks * 2
    guard = require_token(
        audience="billing", scopes=["invoices:read"], offline=True, verifier=verifier
    )
    scopes = [
        {
            "type": "http",
            "method": "GET",
            "path": "/invoices",
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
        }
        for token in tokens
    ]

    async def run() -> list[int]:
        samples = []
        if distinct == 1:
            for _ in range(1000):  # warm up
                await guard(Request(scopes[0]))
        for i in range(checks):
            scope = scopes[i % distinct]
            started = time.perf_counter_ns()
            await guard(Request(scope))
            samples.append(time.perf_counter_ns() - started)
        return samples

    return asyncio.run(run())


def measure_first(token: str, jwks: dict[str, object]) -> int:
    verifier = AsyncOfflineVerifier(
        "http://127.0.0.1:9", issuer=ISSUER, revocation_poll_seconds=None
    )
    verifier.checker.keys.install(jwks)
    guard = require_token(
        audience="billing", scopes=["invoices:read"], offline=True, verifier=verifier
    )
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/invoices",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }

    async def run() -> int:
        started = time.perf_counter_ns()
        await guard(Request(scope))
        return time.perf_counter_ns() - started

    return asyncio.run(run())


def bare_signature_ns(checks: int = 2000) -> list[float]:
    """The floor under a token's first check, taken in the same run: one Ed25519 signature
    verification in ``cryptography`` (which PyJWT calls), of a JWT-sized message."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), b"x" * 300
    signature = key.sign(message)
    samples = []
    for _ in range(checks):
        started = time.perf_counter_ns()
        public.verify(signature, message)
        samples.append(float(time.perf_counter_ns() - started))
    return samples


def offline_checks(add: Callable[..., None], pct: Callable[[list[float], float], float]) -> None:
    bare = bare_signature_ns()
    add(
        "offline JWT",
        "reference: a bare Ed25519 signature check (cryptography), p50 / p99",
        f"{pct(bare, 0.5) / 1000:.1f} µs / {pct(bare, 0.99) / 1000:.1f} µs",
    )
    for alg in ("EdDSA", "ES256"):
        for what, distinct, checks, fresh in (
            ("the first check of a new verifier (keys installed)", 200, 200, True),
            (
                "a token's first check (a new token each check: signature verified)",
                3000,
                3000,
                False,
            ),
            ("steady state (the same token again: signature remembered)", 1, 20_000, False),
        ):
            samples = [float(s) for s in measure(alg, distinct, checks, fresh)]
            p50, p99 = pct(samples, 0.5), pct(samples, 0.99)
            add(
                "offline JWT",
                f"require_token(offline=True) in process, {alg}, {what}: p50 / p99",
                f"{p50 / 1000:.1f} µs / {p99 / 1000:.1f} µs",
                "p50 <= 100 µs",
                p50 <= TARGET_P50_NS,
            )
