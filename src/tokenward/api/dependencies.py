"""Request-scoped inputs shared by every face: the core, the client address, the actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tokenward.api.routing import bearer_credential
from tokenward.domain.actors import Actor
from tokenward.service import auth
from tokenward.service.core import Core
from tokenward.verification import Engine


class _Bearer(HTTPBearer):
    """Declares the Bearer scheme in the OpenAPI document; the header is read by
    ``api.routing.bearer_credential``, as ``/v1/verify``'s fast path reads it."""

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:  # type: ignore[override]
        credential = bearer_credential(request.headers.get("authorization"))
        if credential is None:
            return None
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=credential)


#: Named as FastAPI names its own scheme, so that the OpenAPI document keeps its name.
bearer = _Bearer(
    auto_error=False, scheme_name="HTTPBearer", description="A root or management token"
)


def get_core(request: Request) -> Core:
    """The core lives in the lifespan state, which Starlette hands to every request."""
    core: Core = request.state.core
    return core


def get_engine(request: Request) -> Engine:
    """The verification engine, beside the core in the lifespan state."""
    engine: Engine = request.state.engine
    return engine


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The actor of an ``Authorization: Bearer`` credential."""
    return await authenticate(request, credentials.credentials if credentials else None)


async def authenticate(request: Request, presented: str | None) -> Actor:
    """The actor of a presented credential, for faces that read the header their own way.

    On the event loop when no store read is needed (the admin token), else in a thread: a
    sync dependency would cost a thread hop on every management request."""
    core, client = get_core(request), client_address(request)
    if auth.reads_store(core, presented):
        actor = await run_in_threadpool(auth.authenticate, core, presented, client=client)
    else:
        actor = auth.authenticate(core, presented, client=client)
    # For the request's log line (api.observability): who acted, in which tenant.
    request.state.actor = actor.label
    request.state.tenant = actor.tenant
    return actor


CoreDep = Annotated[Core, Depends(get_core)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ActorDep = Annotated[Actor, Depends(get_actor)]
CredentialDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
