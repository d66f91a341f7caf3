"""Issue 20: one FastAPI endpoint protected two ways, served by uvicorn like the hello.

``GET /offline``: ``require_token(..., offline=True)``, an exchanged JWT checked in process
against the keys it fetched from tokenward (the revocation list polled, as by default).
``GET /online``: the same endpoint with the integration's online mode, which asks the
tokenward server at ``TOKENWARD_URL`` (``POST /v1/verify``) on every request: its verdict
cache is off (``cache_ttl=0``), so that each request is one call. ``GET /online-cached``: the
online mode with its default 5 s verdict cache (informative). The handlers return a constant,
as the hello does.
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse

from tokenward.integrations import AsyncVerifier
from tokenward.integrations.fastapi import require_token
from tokenward.integrations.offline import AsyncOfflineVerifier

URL = os.environ["TOKENWARD_URL"]
AUDIENCE, SCOPES = "billing", ["invoices:read"]

app = FastAPI()
offline = require_token(AUDIENCE, SCOPES, offline=True, verifier=AsyncOfflineVerifier(URL))
online = require_token(AUDIENCE, SCOPES, verifier=AsyncVerifier(URL, cache_ttl=0))
online_cached = require_token(AUDIENCE, SCOPES, verifier=AsyncVerifier(URL))


@app.get("/offline", response_class=PlainTextResponse, dependencies=[Depends(offline)])
async def protected_offline() -> str:
    return "hello"


@app.get("/online", response_class=PlainTextResponse, dependencies=[Depends(online)])
async def protected_online() -> str:
    return "hello"


@app.get("/online-cached", response_class=PlainTextResponse, dependencies=[Depends(online_cached)])
async def protected_online_cached() -> str:
    return "hello"


@app.get("/", response_class=PlainTextResponse)
async def unprotected() -> str:
    return "hello"
