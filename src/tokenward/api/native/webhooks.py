"""Native API for webhooks (docs/lifecycle.md): a tenant's admins and root register
endpoints, see their deliveries, and retry one. Translation only: ``service/webhooks.py``
decides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tokenward.api.dependencies import ActorDep, CoreDep
from tokenward.api.native.errors import translate
from tokenward.api.native.schemas import ErrorBody
from tokenward.api.routing import face_route
from tokenward.domain import limits
from tokenward.domain.lifecycle import Delivery, DeliveryStatus, EventType, Webhook
from tokenward.domain.tokens import UNSET, PageRequest
from tokenward.service import webhooks

router = APIRouter(route_class=face_route(translate))

Id = Annotated[int, Path(ge=1, le=limits.MAX_TOKEN_ID)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookCreate(_Request):
    url: str = Field(description="http:// or https:// URL that receives the events")
    events: list[EventType] = Field(description="The event types sent to it")
    description: str = ""


class WebhookUpdate(_Request):
    """Only the fields present change; `active: true` re-enables an endpoint the server
    disabled."""

    url: str | None = None
    events: list[EventType] | None = None
    description: str | None = None
    active: bool | None = None


class WebhookPublic(BaseModel):
    id: int
    tenant: str
    url: str
    events: list[str]
    description: str
    active: bool
    disabled_reason: str | None = Field(description="Why the server disabled it, if it did")
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookPublic:
        return cls(
            id=webhook.id,
            tenant=webhook.tenant,
            url=webhook.url,
            events=list(webhook.events),
            description=webhook.description,
            active=webhook.active,
            disabled_reason=webhook.disabled_reason,
            failing_since=webhook.failing_since,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
        )


class WebhookWithSecret(WebhookPublic):
    secret: str = Field(description="`whsec_` + base64: the signing key, shown only this once")


class WebhookList(BaseModel):
    items: list[WebhookPublic]


class AttemptPublic(BaseModel):
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None


class DeliveryPublic(BaseModel):
    id: int
    webhook_id: int
    event_id: str = Field(description="The `webhook-id` header of every attempt")
    event_type: str
    status: DeliveryStatus
    next_attempt_at: datetime | None
    created_at: datetime
    attempts: list[AttemptPublic]

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryPublic:
        return cls(
            id=delivery.id,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            attempts=[
                AttemptPublic(
                    at=a.at, status_code=a.status_code, duration_ms=a.duration_ms, error=a.error
                )
                for a in delivery.attempts
            ],
        )


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]
    total: int
    page: int
    limit: int


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "`INVALID_ARGUMENT`: a URL or event list the rules refuse",
        401: "`UNAUTHENTICATED`",
        403: "`FORBIDDEN`: webhooks are for the tenant's admins and root",
        404: "`NOT_FOUND`: no such tenant, webhook or delivery, or one of another tenant",
        409: "`TOO_MANY_WEBHOOKS`",
        422: "`VALIDATION_FAILED`",
        429: "`RATE_LIMITED`",
        503: "`UNAVAILABLE`",
    }
    return {s: {"model": ErrorBody, "description": text[s]} for s in sorted(statuses)}


_COMMON = (401, 403, 404, 422, 429, 503)
_BASE = "/v1/tenants/{tenant}/webhooks"


@router.post(
    _BASE,
    status_code=201,
    tags=["webhooks"],
    summary="Register a webhook",
    description="The answer carries the signing secret, shown only this once.",
    responses=_errors(*_COMMON, 400, 409),
)
def create_webhook(
    tenant: str, body: WebhookCreate, core: CoreDep, actor: ActorDep
) -> WebhookWithSecret:
    webhook, secret = webhooks.create(
        core,
        actor,
        tenant=tenant,
        url=body.url,
        events=[str(e) for e in body.events],
        description=body.description,
    )
    return WebhookWithSecret(**WebhookPublic.of(webhook).model_dump(), secret=secret)


@router.get(_BASE, tags=["webhooks"], summary="List webhooks", responses=_errors(*_COMMON))
def list_webhooks(tenant: str, core: CoreDep, actor: ActorDep) -> WebhookList:
    """The tenant's webhooks, oldest first, without their secrets. Tenant admins and root."""
    return WebhookList(
        items=[WebhookPublic.of(w) for w in webhooks.list_all(core, actor, tenant=tenant)]
    )


@router.get(
    _BASE + "/{webhook_id}", tags=["webhooks"], summary="Get a webhook", responses=_errors(*_COMMON)
)
def get_webhook(tenant: str, webhook_id: Id, core: CoreDep, actor: ActorDep) -> WebhookPublic:
    """One webhook, without its secret; `disabled_reason` says why the server disabled it."""
    return WebhookPublic.of(webhooks.get(core, actor, tenant=tenant, webhook_id=webhook_id))


@router.patch(
    _BASE + "/{webhook_id}",
    tags=["webhooks"],
    summary="Change a webhook",
    responses=_errors(*_COMMON, 400),
)
def update_webhook(
    tenant: str, webhook_id: Id, body: WebhookUpdate, core: CoreDep, actor: ActorDep
) -> WebhookPublic:
    """Changes `url`, `events`, `description` or `active`; re-enabling a webhook the server
    disabled clears its failure record. Tenant admins and root."""
    given = body.model_fields_set
    changed = webhooks.update(
        core,
        actor,
        tenant=tenant,
        webhook_id=webhook_id,
        url=body.url if "url" in given and body.url is not None else UNSET,
        events=(
            [str(e) for e in body.events]
            if "events" in given and body.events is not None
            else UNSET
        ),
        description=(
            body.description if "description" in given and body.description is not None else UNSET
        ),
        active=body.active if "active" in given and body.active is not None else UNSET,
    )
    return WebhookPublic.of(changed)


@router.delete(
    _BASE + "/{webhook_id}",
    status_code=204,
    tags=["webhooks"],
    summary="Delete a webhook",
    description="Its pending deliveries are dropped.",
    responses=_errors(*_COMMON),
)
def delete_webhook(tenant: str, webhook_id: Id, core: CoreDep, actor: ActorDep) -> Response:
    webhooks.delete(core, actor, tenant=tenant, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get(
    _BASE + "/{webhook_id}/deliveries",
    tags=["webhooks"],
    summary="List a webhook's deliveries",
    description="A page of the deliveries, newest first, each with every attempt; `page` "
    "counts from 0, `total` is how many there are.",
    responses=_errors(*_COMMON),
)
def list_deliveries(
    tenant: str,
    webhook_id: Id,
    core: CoreDep,
    actor: ActorDep,
    page: Annotated[int, Query(ge=0, le=limits.MAX_PAGE)] = 0,
    limit: Annotated[int, Query(ge=1, le=webhooks.MAX_DELIVERIES)] = webhooks.DELIVERY_PAGE,
) -> DeliveryList:
    found = webhooks.deliveries(
        core, actor, tenant=tenant, webhook_id=webhook_id, page=PageRequest(page, limit)
    )
    return DeliveryList(
        items=[DeliveryPublic.of(d) for d in found.items],
        total=found.total,
        page=found.page,
        limit=limit,
    )


@router.post(
    _BASE + "/{webhook_id}/deliveries/{delivery_id}/retry",
    tags=["webhooks"],
    summary="Retry a delivery",
    description="Queues it for an attempt now; it keeps its `webhook-id`.",
    responses=_errors(*_COMMON),
)
def retry_delivery(
    tenant: str, webhook_id: Id, delivery_id: Id, core: CoreDep, actor: ActorDep
) -> DeliveryPublic:
    return DeliveryPublic.of(
        webhooks.retry(core, actor, tenant=tenant, webhook_id=webhook_id, delivery_id=delivery_id)
    )
