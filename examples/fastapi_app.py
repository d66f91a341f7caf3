"""An invoices service protected by tokenward (FastAPI).

Run it against a tokenward server (see examples/README.md)::

    TOKENWARD_URL=http://127.0.0.1:8080 uvicorn --factory fastapi_app:create_app \
        --port 8001 --app-dir examples

(``--factory``: the app is built when the server starts, and without ``TOKENWARD_URL`` it
refuses to be built, naming the setting.)

Every route asks tokenward whether the request's bearer token is for the audience
``billing``; each adds the scopes (and resource) it needs.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the ``Annotated`` dependencies
# of the handlers, which name guards local to ``create_app``.
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from tokenward.integrations import AsyncVerifier, Identity
from tokenward.integrations.fastapi import require_token

AUDIENCE = "billing"


def create_app(verifier: AsyncVerifier | None = None) -> FastAPI:
    """``verifier`` defaults to one configured from ``TOKENWARD_URL`` / ``TOKENWARD_TOKEN``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if verifier is not None:
            await verifier.aclose()

    app = FastAPI(title="invoices", lifespan=lifespan)
    reader = require_token(audience=AUDIENCE, scopes=["invoices:read"], verifier=verifier)
    writer = require_token(audience=AUDIENCE, scopes=["invoices:write"], verifier=verifier)
    any_billing = require_token(audience=AUDIENCE, verifier=verifier)

    @app.get("/whoami")
    async def whoami(who: Annotated[Identity, Depends(any_billing)]) -> dict[str, Any]:
        return {
            "tenant": who.tenant,
            "principal": who.principal,
            "user": who.user,
            "role": who.role,
            "scopes": sorted(who.scopes),
            "token_id": who.token_id,
        }

    @app.get("/invoices")
    async def list_invoices(who: Annotated[Identity, Depends(reader)]) -> dict[str, Any]:
        return {"tenant": who.tenant, "invoices": [{"id": 1, "amount": 42}]}

    @app.post("/invoices", status_code=201)
    async def create_invoice(who: Annotated[Identity, Depends(writer)]) -> dict[str, Any]:
        return {"created_by": who.user, "id": 2}

    # The resource comes from the path: a restricted token passes only for its own brokers.
    broker_guard = require_token(
        audience=AUDIENCE, resource=lambda request: request.path_params["broker"], verifier=verifier
    )

    @app.get("/brokers/{broker}")
    async def broker(
        broker: str, who: Annotated[Identity, Depends(broker_guard)]
    ) -> dict[str, str]:
        return {"broker": broker, "tenant": who.tenant}

    return app
