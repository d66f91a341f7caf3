"""Issue 20 over HTTP: a FastAPI endpoint protected offline against the same endpoint protected
by ``POST /v1/verify``, next to the raw ASGI hello.

bench/fastapi_app.py under uvicorn (2 workers, no access log, as the hello), its tokenward a
``tokenward serve --workers 2`` on the 1M-token SQLite store. One token with an audience and a
scope; a JWT exchanged for it (``POST /oauth2/token``). Rounds of ``SECONDS`` each: the hello,
``/offline`` with the JWT, ``/online`` with the secret (the integration asks tokenward on
every request: its verdict cache off), and ``/online-cached`` (the integration's default 5 s
verdict cache, informative). Each ratio is the median of the rounds'. Every answer must be a
200: a refusal would be a 401/403, which wrk counts as non-2xx.
"""

from __future__ import annotations

import contextlib
import statistics
from typing import Any

import httpx
from kit import Kit, median_ratio, median_run, round_ratios, started

ROUNDS, SECONDS = 3, 4
AUDIENCE, SCOPE = "billing", "invoices:read"
EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def fastapi_server(kit: Kit, tokenward_url: str) -> Any:
    port = kit.free_port()
    argv = [
        str(kit.venv_bin / "uvicorn"),
        "--app-dir",
        str(kit.bench),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
        "fastapi_app:app",
    ]
    return kit.server("fastapi", argv, port, env={"TOKENWARD_URL": tokenward_url})


def subject_and_jwt(tokenward: httpx.Client, auth: dict[str, str]) -> tuple[str, str]:
    """A new token for the endpoint, and a JWT exchanged for it."""
    r = tokenward.post(
        "/v1/tenants/default/tokens",
        json={
            "name": "offline-bench",
            "type": "user",
            "principal": "bench",
            "audience": [AUDIENCE],
            "scopes": [SCOPE],
        },
        headers=auth,
    )
    r.raise_for_status()
    secret = str(r.json()["secret"])
    r = tokenward.post(
        "/oauth2/token",
        data={
            "grant_type": EXCHANGE_GRANT,
            "subject_token": secret,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "requested_token_type": JWT_TYPE,
            "audience": AUDIENCE,
            "scope": SCOPE,
        },
    )
    r.raise_for_status()
    return secret, str(r.json()["access_token"])


def offline_against_online(kit: Kit, sqlite_url: str) -> None:
    # The JWT lives an hour: the rounds must not outlast it.
    env = {"TOKENWARD_DATABASE_URL": sqlite_url, "TOKENWARD_EXCHANGE_LIFETIME_SECONDS": "3600"}
    with contextlib.ExitStack() as stack:
        tokenward = started(stack, kit.tokenward_server("tokenward-offline", env))
        hello = started(stack, kit.hello_server())
        with httpx.Client(base_url=tokenward.url, timeout=30) as client:
            secret, jwt = subject_and_jwt(client, kit.auth)
        secret_file, jwt_file = kit.work / "offline-secret.txt", kit.work / "offline-jwt.txt"
        secret_file.write_text(secret + "\n")
        jwt_file.write_text(jwt + "\n")
        kinds = {
            "offline": ("/offline", jwt_file),
            "online": ("/online", secret_file),
            "online-cached": ("/online-cached", secret_file),
        }
        app = started(stack, fastapi_server(kit, tokenward.url))
        for path, bearer in kinds.values():  # each works, before any load
            with httpx.Client(base_url=app.url, timeout=30) as client:
                r = client.get(
                    path, headers={"Authorization": f"Bearer {bearer.read_text().strip()}"}
                )
                if r.status_code != 200:
                    raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")

        def run(kind: str, seconds: int = SECONDS) -> dict[str, Any]:
            path, bearer = kinds[kind]
            env = {"BENCH_PATH": path, "BENCH_BEARER": str(bearer)}
            return kit.wrk(app.url, "bearer.lua", seconds, env=env)

        for kind in kinds:  # warm up: keys fetched, connections open
            run(kind, 1)
        hellos: list[dict[str, Any]] = []
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        for _ in range(ROUNDS):
            hellos.append(kit.wrk(hello.url, "hello.lua", SECONDS))
            for kind in kinds:
                runs[kind].append(run(kind))
    report(kit, hellos, runs)


def report(kit: Kit, hellos: list[dict[str, Any]], runs: dict[str, list[dict[str, Any]]]) -> None:
    add = kit.add
    add(
        "offline JWT",
        f"raw ASGI hello, beside the FastAPI app (median of {ROUNDS}x{SECONDS} s)",
        kit.fmt_http(median_run(hellos)),
    )
    what = {
        "offline": "require_token(offline=True), an exchanged JWT",
        "online": "require_token() online, cache_ttl=0: POST /v1/verify per request",
        "online-cached": "require_token() online, default 5 s verdict cache",
    }
    for kind, label in what.items():
        errors = sum(r["non2xx"] + r["socket_errors"] for r in runs[kind])
        share = median_ratio(round_ratios(runs[kind], hellos))
        add(
            "offline JWT",
            f"FastAPI GET, {label}, uvicorn 2 workers (median of {ROUNDS}x{SECONDS} s)",
            f"{kit.fmt_http(median_run(runs[kind]))}; {share} of the hello",
            "every answer 200",
            errors == 0,
        )
    over_online = round_ratios(runs["offline"], runs["online"])
    add(
        "offline JWT",
        "FastAPI endpoint: offline / online (verify per request) throughput",
        median_ratio(over_online),
        "reported",
    )
    over_cached = round_ratios(runs["offline"], runs["online-cached"])
    add(
        "offline JWT",
        "FastAPI endpoint: offline / online with its 5 s verdict cache, throughput",
        median_ratio(over_cached),
        "(informative)",
    )
    p99 = [o["p99_us"] / n["p99_us"] for o, n in zip(runs["offline"], runs["online"], strict=True)]
    add(
        "offline JWT",
        "FastAPI endpoint: offline p99 / online (verify per request) p99",
        f"{statistics.median(p99):.2f}x",
        "reported",
    )
