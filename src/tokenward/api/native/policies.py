"""Native API for a tenant's policy (docs/lifecycle.md): its admins and root read and replace
it. Translation only: ``service/policies.py`` decides and enforces."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from tokenward.api.dependencies import ActorDep, CoreDep
from tokenward.api.native.errors import translate
from tokenward.api.native.schemas import ErrorBody
from tokenward.api.routing import face_route
from tokenward.domain.lifecycle import DEFAULT_EXPIRY_NOTICES, TenantPolicy
from tokenward.service import policies

router = APIRouter(route_class=face_route(translate))

Incident = Literal["disable", "notify"]


class PolicyBody(BaseModel):
    """The whole policy: a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    max_lifetime_seconds: int | None = Field(
        default=None, description="No token may expire later than now plus this"
    )
    require_expiry: bool = Field(default=False, description="Refuse permanent tokens")
    allowed_scopes: list[str] | None = Field(default=None, description="null: any scope")
    allowed_audiences: list[str] | None = Field(default=None, description="null: any audience")
    allow_recoverable: bool = True
    inactivity_disable_seconds: int | None = Field(
        default=None, description="Tokens unused this long are disabled by the server"
    )
    expiry_notice_seconds: list[int] = Field(
        default=list(DEFAULT_EXPIRY_NOTICES),
        description="When `token.expiring` is sent, in seconds before the expiry",
    )
    on_reuse: Incident = "disable"
    on_leak: Incident = "disable"

    @classmethod
    def of(cls, rules: TenantPolicy) -> PolicyBody:
        return cls(**rules.as_stored())


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "`INVALID_ARGUMENT`: a value the rules refuse",
        401: "`UNAUTHENTICATED`",
        403: "`FORBIDDEN`: the policy is for the tenant's admins and root",
        404: "`NOT_FOUND`: no such tenant, or another tenant's",
        422: "`VALIDATION_FAILED`",
        429: "`RATE_LIMITED`",
        503: "`UNAVAILABLE`",
    }
    return {s: {"model": ErrorBody, "description": text[s]} for s in sorted(statuses)}


_COMMON = (401, 403, 404, 429, 503)


@router.get(
    "/v1/tenants/{tenant}/policy",
    tags=["policy"],
    summary="Get the tenant's policy",
    responses=_errors(*_COMMON),
)
def get_policy(tenant: str, core: CoreDep, actor: ActorDep) -> PolicyBody:
    """The tenant's policy; the defaults, which change nothing, when none was set."""
    return PolicyBody.of(policies.get(core, actor, tenant=tenant))


@router.put(
    "/v1/tenants/{tenant}/policy",
    tags=["policy"],
    summary="Replace the tenant's policy",
    description="Audited as `policy.update`, announced as `policy.updated`. A maximum lifetime "
    "shortens the tokens that outlive it to now plus the limit.",
    responses=_errors(*_COMMON, 400, 422),
)
def put_policy(tenant: str, body: PolicyBody, core: CoreDep, actor: ActorDep) -> PolicyBody:
    chosen = policies.put(core, actor, tenant=tenant, values=body.model_dump())
    return PolicyBody.of(chosen)
