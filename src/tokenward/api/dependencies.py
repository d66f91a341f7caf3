"""Request-scoped inputs shared by every face: the core, the client address, the actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tokenward.domain.actors import Actor
from tokenward.service import auth
from tokenward.service.core import Core

bearer = HTTPBearer(auto_error=False, description="A root or management token")


def get_core(request: Request) -> Core:
    """The core lives in the lifespan state, which Starlette hands to every request."""
    core: Core = request.state.core
    return core


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    presented = credentials.credentials if credentials else None
    actor = auth.authenticate(get_core(request), presented, client=client_address(request))
    # For the request's log line (api.observability): who acted, in which tenant.
    request.state.actor = actor.label
    request.state.tenant = actor.tenant
    return actor


CoreDep = Annotated[Core, Depends(get_core)]
ActorDep = Annotated[Actor, Depends(get_actor)]
CredentialDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
