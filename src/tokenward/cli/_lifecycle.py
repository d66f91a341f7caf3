"""The policy and webhook commands' two modes behind one interface: the server's API through
the client (``--url``), or the service layer on the database as root. Both answer with the
client's dataclasses, so that the two modes print the same."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import typer

from tokenward.cli._common import operator, remote_of

if TYPE_CHECKING:
    from tokenward import client
    from tokenward.cli._common import Operator
    from tokenward.domain import lifecycle


class Lifecycle(Protocol):
    def get_policy(self, tenant: str) -> client.Policy: ...

    def put_policy(self, tenant: str, policy: client.Policy) -> client.Policy: ...

    def create_webhook(
        self, tenant: str, url: str, events: Sequence[str], description: str
    ) -> client.WebhookWithSecret: ...

    def list_webhooks(self, tenant: str) -> list[client.Webhook]: ...

    def get_webhook(self, tenant: str, webhook_id: int) -> client.Webhook: ...

    def update_webhook(
        self, tenant: str, webhook_id: int, changes: dict[str, Any]
    ) -> client.Webhook: ...

    def delete_webhook(self, tenant: str, webhook_id: int) -> None: ...

    def list_deliveries(
        self, tenant: str, webhook_id: int, limit: int
    ) -> list[client.Delivery]: ...

    def retry_delivery(self, tenant: str, webhook_id: int, delivery_id: int) -> client.Delivery: ...


@contextlib.contextmanager
def lifecycle_backend(
    ctx: typer.Context, database_url: str | None, data_dir: Path | None
) -> Iterator[Lifecycle]:
    remote = remote_of(ctx)
    if remote is None:
        with operator(ctx, database_url, data_dir) as op:
            yield _Operator(op)
        return
    from tokenward.cli._server import server_client

    with server_client(remote) as http:
        yield _Remote(http)


class _Remote:
    def __init__(self, http: client.Client) -> None:
        self._http = http

    def get_policy(self, tenant: str) -> client.Policy:
        return self._http.get_policy(tenant)

    def put_policy(self, tenant: str, policy: client.Policy) -> client.Policy:
        return self._http.put_policy(tenant, policy)

    def create_webhook(
        self, tenant: str, url: str, events: Sequence[str], description: str
    ) -> client.WebhookWithSecret:
        return self._http.create_webhook(tenant, url, events, description=description)

    def list_webhooks(self, tenant: str) -> list[client.Webhook]:
        return self._http.list_webhooks(tenant)

    def get_webhook(self, tenant: str, webhook_id: int) -> client.Webhook:
        return self._http.get_webhook(tenant, webhook_id)

    def update_webhook(
        self, tenant: str, webhook_id: int, changes: dict[str, Any]
    ) -> client.Webhook:
        return self._http.update_webhook(tenant, webhook_id, **changes)

    def delete_webhook(self, tenant: str, webhook_id: int) -> None:
        self._http.delete_webhook(tenant, webhook_id)

    def list_deliveries(self, tenant: str, webhook_id: int, limit: int) -> list[client.Delivery]:
        return self._http.list_deliveries(tenant, webhook_id, limit=limit)

    def retry_delivery(self, tenant: str, webhook_id: int, delivery_id: int) -> client.Delivery:
        return self._http.retry_delivery(tenant, webhook_id, delivery_id)


class _Operator:
    """The service as root; its domain objects become the client's dataclasses."""

    def __init__(self, op: Operator) -> None:
        self._op = op

    def get_policy(self, tenant: str) -> client.Policy:
        from tokenward.service import policies

        return _policy(policies.get(self._op.core, self._op.actor, tenant=tenant))

    def put_policy(self, tenant: str, policy: client.Policy) -> client.Policy:
        from tokenward.service import policies

        chosen = policies.put(self._op.core, self._op.actor, tenant=tenant, values=policy.to_wire())
        return _policy(chosen)

    def create_webhook(
        self, tenant: str, url: str, events: Sequence[str], description: str
    ) -> client.WebhookWithSecret:
        from tokenward.client import WebhookWithSecret
        from tokenward.service import webhooks

        made, secret = webhooks.create(
            self._op.core,
            self._op.actor,
            tenant=tenant,
            url=url,
            events=list(events),
            description=description,
        )
        return WebhookWithSecret(**_webhook_fields(made), secret=secret)

    def list_webhooks(self, tenant: str) -> list[client.Webhook]:
        from tokenward.service import webhooks

        return [
            _webhook(w) for w in webhooks.list_all(self._op.core, self._op.actor, tenant=tenant)
        ]

    def get_webhook(self, tenant: str, webhook_id: int) -> client.Webhook:
        from tokenward.service import webhooks

        found = webhooks.get(self._op.core, self._op.actor, tenant=tenant, webhook_id=webhook_id)
        return _webhook(found)

    def update_webhook(
        self, tenant: str, webhook_id: int, changes: dict[str, Any]
    ) -> client.Webhook:
        from tokenward.service import webhooks

        # Only the fields given: the rest keep the service's own UNSET default.
        given: dict[str, Any] = {k: (list(v) if k == "events" else v) for k, v in changes.items()}
        changed = webhooks.update(
            self._op.core, self._op.actor, tenant=tenant, webhook_id=webhook_id, **given
        )
        return _webhook(changed)

    def delete_webhook(self, tenant: str, webhook_id: int) -> None:
        from tokenward.service import webhooks

        webhooks.delete(self._op.core, self._op.actor, tenant=tenant, webhook_id=webhook_id)

    def list_deliveries(self, tenant: str, webhook_id: int, limit: int) -> list[client.Delivery]:
        from tokenward.domain.tokens import PageRequest
        from tokenward.service import webhooks

        found = webhooks.deliveries(
            self._op.core,
            self._op.actor,
            tenant=tenant,
            webhook_id=webhook_id,
            page=PageRequest(0, limit),
        )
        return [_delivery(d) for d in found.items]

    def retry_delivery(self, tenant: str, webhook_id: int, delivery_id: int) -> client.Delivery:
        from tokenward.service import webhooks

        return _delivery(
            webhooks.retry(
                self._op.core,
                self._op.actor,
                tenant=tenant,
                webhook_id=webhook_id,
                delivery_id=delivery_id,
            )
        )


def _policy(rules: lifecycle.TenantPolicy) -> client.Policy:
    from tokenward.client import Policy

    return Policy.from_wire(rules.as_stored())


def _webhook_fields(webhook: lifecycle.Webhook) -> dict[str, Any]:
    # Named one by one: the secret's hash and sealed copy stay behind.
    return {
        "id": webhook.id,
        "tenant": webhook.tenant,
        "url": webhook.url,
        "events": tuple(webhook.events),
        "description": webhook.description,
        "active": webhook.active,
        "disabled_reason": webhook.disabled_reason,
        "failing_since": webhook.failing_since,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }


def _webhook(webhook: lifecycle.Webhook) -> client.Webhook:
    from tokenward.client import Webhook

    return Webhook(**_webhook_fields(webhook))


def _delivery(delivery: lifecycle.Delivery) -> client.Delivery:
    from tokenward.client import Delivery, DeliveryAttempt

    return Delivery(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=str(delivery.status),
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        attempts=tuple(
            DeliveryAttempt(
                at=a.at, status_code=a.status_code, duration_ms=a.duration_ms, error=a.error
            )
            for a in delivery.attempts
        ),
    )
