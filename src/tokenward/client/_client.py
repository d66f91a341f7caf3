"""The synchronous client of the native API."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from tokenward.client import _calls
from tokenward.client._calls import UNSET, Call, RetryPolicy, _Unset
from tokenward.client._models import (
    AuditRecord,
    Delivery,
    ExchangedToken,
    Page,
    Policy,
    SecretState,
    Tenant,
    TenantUsage,
    Token,
    TokenWithSecret,
    UsageBucket,
    Verification,
    Webhook,
    WebhookWithSecret,
)

T = TypeVar("T")


class Client:
    """A client of one tokenward server.

    ``base_url`` defaults to ``$TOKENWARD_URL`` and ``token`` (the bearer credential: the root
    credential or a token whose audience includes ``tokenward``) to ``$TOKENWARD_TOKEN``.
    ``retries`` bounds the extra attempts of a call that may be repeated (see ``RetryPolicy``).
    Pass ``http`` to use your own ``httpx.Client`` (its base URL and headers are then yours to
    set; the client does not close it).
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.retry_policy = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max_backoff)
        self._owns_http = http is None
        self._http = http or httpx.Client(
            base_url=_calls.base_url_from(base_url),
            headers=_calls.default_headers(_calls.token_from(token)),
            timeout=timeout,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def send(self, call: Call[T]) -> T:
        """Sends one call, retrying as the policy allows; the same request id on every try."""
        request_id = _calls.new_request_id()
        attempt = 0
        while True:
            request = _calls.build_request(self._http.build_request, call, request_id)
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                if not self.retry_policy.may_retry_error(call, error, attempt):
                    raise _calls.transport_error(error, request_id) from error
            else:
                if not self.retry_policy.may_retry_status(call, response.status_code, attempt):
                    return _calls.finish(call, response, request_id)
                response.close()
            time.sleep(self.retry_policy.delay(attempt))
            attempt += 1

    # --- tenants -----------------------------------------------------------------------

    def create_tenant(self, name: str) -> Tenant:
        return self.send(_calls.create_tenant(name))

    def list_tenants(self) -> list[Tenant]:
        return self.send(_calls.list_tenants())

    def get_tenant(self, name: str) -> Tenant:
        return self.send(_calls.get_tenant(name))

    def delete_tenant(self, name: str) -> None:
        """Deletes the tenant and its tokens (root only; ``default`` cannot be deleted)."""
        self.send(_calls.delete_tenant(name))

    # --- tokens ------------------------------------------------------------------------

    def create_token(
        self,
        tenant: str = "default",
        *,
        name: str,
        description: str | None = None,
        type: str | None = None,
        principal: str | None = None,
        owner: str | None = None,
        user: str | None = None,
        role: str | None = None,
        scopes: Iterable[str] | None = None,
        audience: Iterable[str] | None = None,
        resources: Iterable[str] | None = None,
        restricted: bool | None = None,
        active: bool | None = None,
        expires_at: datetime | None = None,
        ttl_seconds: int | None = None,
        recoverable: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
        rate_limits: Iterable[Mapping[str, Any]] | None = None,
        credits: Mapping[str, Any] | None = None,
        ip_allowlist: Iterable[str] | None = None,
    ) -> TokenWithSecret:
        """Issues a token; ``None`` leaves a field to the server's default. Never retried once
        sent, since a second attempt would issue a second token."""
        fields = dict(locals())
        del fields["self"], fields["tenant"]
        return self.send(_calls.create_token(tenant, fields))

    def list_tokens(
        self,
        tenant: str = "default",
        *,
        type: str | Sequence[str] | None = None,
        principal: str | Sequence[str] | None = None,
        owner: str | None = None,
        user: str | None = None,
        role: str | None = None,
        active: bool | None = None,
        expired: bool | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        expires_after: datetime | None = None,
        expires_before: datetime | None = None,
        sort: str | None = None,
        order: str | None = None,
        page: int = 0,
        limit: int = 50,
    ) -> Page[Token]:
        filters = dict(locals())
        del filters["self"], filters["tenant"]
        return self.send(_calls.list_tokens(tenant, filters))

    def get_token(self, tenant: str, token_id: int) -> Token:
        return self.send(_calls.get_token(tenant, token_id))

    def update_token(
        self,
        tenant: str,
        token_id: int,
        *,
        name: str | _Unset = UNSET,
        description: str | _Unset = UNSET,
        role: str | _Unset = UNSET,
        scopes: Iterable[str] | _Unset = UNSET,
        audience: Iterable[str] | _Unset = UNSET,
        resources: Iterable[str] | _Unset = UNSET,
        restricted: bool | _Unset = UNSET,
        expires_at: datetime | _Unset | None = UNSET,
        metadata: Mapping[str, Any] | _Unset = UNSET,
        rate_limits: Iterable[Mapping[str, Any]] | _Unset = UNSET,
        credits: Mapping[str, Any] | _Unset | None = UNSET,
        ip_allowlist: Iterable[str] | _Unset = UNSET,
    ) -> Token:
        """Changes the fields given; ``expires_at=None`` makes the token permanent,
        ``credits=None`` its use unlimited."""
        changes = dict(locals())
        del changes["self"], changes["tenant"], changes["token_id"]
        return self.send(_calls.update_token(tenant, token_id, changes))

    def delete_token(self, tenant: str, token_id: int) -> None:
        """Deletes the token; its secret stops verifying at once. A retried delete whose first
        attempt succeeded answers ``NotFound``."""
        self.send(_calls.delete_token(tenant, token_id))

    def enable_token(self, tenant: str, token_id: int) -> Token:
        return self.send(_calls.enable_token(tenant, token_id))

    def disable_token(self, tenant: str, token_id: int) -> Token:
        return self.send(_calls.disable_token(tenant, token_id))

    def rotate_token(
        self, tenant: str, token_id: int, *, grace_seconds: int = 0
    ) -> TokenWithSecret:
        """A new secret; the old one keeps verifying for ``grace_seconds``. Never retried once
        sent."""
        return self.send(_calls.rotate_token(tenant, token_id, grace_seconds))

    def reveal_secret(self, tenant: str, token_id: int) -> str:
        """The secret of a recoverable token (``Conflict`` ``NOT_RECOVERABLE`` otherwise)."""
        return self.send(_calls.reveal_secret(tenant, token_id))

    # --- verification and audit ----------------------------------------------------------

    def verify(
        self,
        token: str,
        *,
        audience: str | None = None,
        scopes: Iterable[str] = (),
        resource: str | None = None,
        client_ip: str | None = None,
        cost: int | None = None,
    ) -> Verification:
        """The server's verdict; an invalid token is an answer (``valid`` false), not an error.
        ``client_ip``: the address of the client that presented the token (its allowlist);
        ``cost``: the credits it spends (default 1 on the server)."""
        return self.send(_calls.verify(token, audience, scopes, resource, client_ip, cost))

    def adjust_credits(
        self, tenant: str, token_id: int, *, set: int | None = None, add: int | None = None
    ) -> Token:
        """Sets the token's credit balance, or adds to it (one of the two)."""
        return self.send(_calls.adjust_credits(tenant, token_id, set, add))

    def token_usage(
        self,
        tenant: str,
        token_id: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: str = "hour",
    ) -> list[UsageBucket]:
        """The token's verifications per ``hour`` or ``day`` and code."""
        return self.send(
            _calls.token_usage(tenant, token_id, {"since": since, "until": until, "bucket": bucket})
        )

    def tenant_usage(
        self,
        tenant: str = "default",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: str = "hour",
    ) -> TenantUsage:
        """The tenant's verifications per bucket and code, and its most verified tokens."""
        return self.send(
            _calls.tenant_usage(tenant, {"since": since, "until": until, "bucket": bucket})
        )

    def exchange(
        self,
        subject_token: str,
        *,
        audience: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> ExchangedToken:
        """A short-lived JWT for ``subject_token`` (RFC 8693 token exchange), narrowed to
        ``audience`` (one of the token's) and ``scopes`` (within its own) when given. The
        subject token is the only credential: a refusal raises ``BadRequest`` with the OAuth
        code (``invalid_grant``, ``invalid_target``, ``invalid_scope``) as ``code``."""
        return self.send(_calls.exchange(subject_token, audience, scopes))

    def list_audit(
        self,
        *,
        tenant: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        token_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page: int = 0,
        limit: int = 50,
    ) -> Page[AuditRecord]:
        filters = dict(locals())
        del filters["self"]
        return self.send(_calls.list_audit(filters))

    # --- policy, webhooks, leaks (docs/lifecycle.md) -------------------------------------

    def get_policy(self, tenant: str) -> Policy:
        return self.send(_calls.get_policy(tenant))

    def put_policy(self, tenant: str, policy: Policy) -> Policy:
        """Replaces the tenant's whole policy (a field left at its default takes it)."""
        return self.send(_calls.put_policy(tenant, policy))

    def create_webhook(
        self, tenant: str, url: str, events: Iterable[str], *, description: str = ""
    ) -> WebhookWithSecret:
        """Registers a webhook; the answer's ``secret`` (``whsec_...``) is shown only now."""
        return self.send(_calls.create_webhook(tenant, url, events, description))

    def list_webhooks(self, tenant: str) -> list[Webhook]:
        return self.send(_calls.list_webhooks(tenant))

    def get_webhook(self, tenant: str, webhook_id: int) -> Webhook:
        return self.send(_calls.get_webhook(tenant, webhook_id))

    def update_webhook(
        self,
        tenant: str,
        webhook_id: int,
        *,
        url: str | _Unset = UNSET,
        events: Iterable[str] | _Unset = UNSET,
        description: str | _Unset = UNSET,
        active: bool | _Unset = UNSET,
    ) -> Webhook:
        """Changes the fields given; ``active=True`` enables one the server disabled."""
        changes = {"url": url, "events": events, "description": description, "active": active}
        return self.send(_calls.update_webhook(tenant, webhook_id, changes))

    def delete_webhook(self, tenant: str, webhook_id: int) -> None:
        self.send(_calls.delete_webhook(tenant, webhook_id))

    def list_deliveries(self, tenant: str, webhook_id: int, *, limit: int = 50) -> list[Delivery]:
        """The latest deliveries, newest first, each with its attempts."""
        return self.send(_calls.list_deliveries(tenant, webhook_id, limit))

    def retry_delivery(self, tenant: str, webhook_id: int, delivery_id: int) -> Delivery:
        return self.send(_calls.retry_delivery(tenant, webhook_id, delivery_id))

    def check_secrets(self, hashes: Iterable[str]) -> list[SecretState]:
        """Whether each secret, given by its SHA-256 (hex; ``hashlib.sha256(secret.encode())``),
        opens a valid token the credential may see. The secrets themselves never leave."""
        return self.send(_calls.check_secrets(hashes))
