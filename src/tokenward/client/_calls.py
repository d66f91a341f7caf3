"""Request building, response parsing and the retry policy, shared by both clients.

Each operation is described once as a ``Call`` (method, path, parameters, body, whether it may
be repeated, and how to read the answer); ``Client`` and ``AsyncClient`` only send calls, so the
two cannot drift apart.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

import httpx

from tokenward.client._exceptions import TokenwardError, TransportError, for_status
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

URL_ENV = "TOKENWARD_URL"
TOKEN_ENV = "TOKENWARD_TOKEN"  # noqa: S105 (the name of a variable, not a secret)
REQUEST_ID_HEADER = "X-Request-ID"

#: Statuses that say "try again": a proxy or the server could not serve the request just now.
RETRY_STATUSES = frozenset({502, 503, 504})


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this field as it is" in ``update_token``, unlike ``None`` (e.g. clear the expiry).
UNSET = _Unset.UNSET


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: list[tuple[str, str]] = field(default_factory=list)
    json: dict[str, Any] | None = None
    #: A form body (``application/x-www-form-urlencoded``), for the OAuth endpoints.
    data: list[tuple[str, str]] | None = None
    #: Safe to send again when the first attempt may have reached the server.
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Idempotent calls are retried on transport errors and 502/503/504; any call is retried
    on errors raised before the request left (connection refused, connect timeout), since the
    server cannot have acted on it. Waits grow exponentially with jitter, capped."""

    retries: int = 3
    backoff: float = 0.2
    max_backoff: float = 5.0

    def delay(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * 2.0**attempt)
        # Jitter spreads out the retries of many clients after the same outage (not crypto).
        return base * (0.5 + random.random() / 2)  # noqa: S311

    def may_retry_error(self, call: Call[Any], error: httpx.TransportError, attempt: int) -> bool:
        if attempt >= self.retries:
            return False
        return call.idempotent or isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)

    def may_retry_status(self, call: Call[Any], status: int, attempt: int) -> bool:
        return attempt < self.retries and call.idempotent and status in RETRY_STATUSES


def base_url_from(value: str | None) -> str:
    url = value or os.environ.get(URL_ENV)
    if not url:
        raise ValueError(f"no server URL: pass base_url or set {URL_ENV}")
    return url.rstrip("/")


def token_from(value: str | None) -> str | None:
    return value if value is not None else os.environ.get(TOKEN_ENV) or None


def default_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "tokenward-client"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def new_request_id() -> str:
    return uuid.uuid4().hex


def build_request(
    http_build: Callable[..., httpx.Request], call: Call[Any], request_id: str
) -> httpx.Request:
    return http_build(
        call.method,
        call.path,
        params=call.params or None,
        json=call.json,
        content=None if call.data is None else urlencode(call.data),
        headers={REQUEST_ID_HEADER: request_id, **_form_header(call)},
    )


def _form_header(call: Call[Any]) -> dict[str, str]:
    return {} if call.data is None else {"Content-Type": "application/x-www-form-urlencoded"}


def transport_error(error: httpx.TransportError, request_id: str) -> TransportError:
    code = "TIMEOUT" if isinstance(error, httpx.TimeoutException) else "TRANSPORT_ERROR"
    message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return TransportError(message, code=code, status=None, request_id=request_id)


def finish(call: Call[T], response: httpx.Response, request_id: str) -> T:
    """The parsed answer of a success, else the typed error of the API's error body."""
    if response.is_success:
        return call.parse(response)
    raise error_of(response, request_id)


def error_of(response: httpx.Response, request_id: str) -> TokenwardError:
    code, message = f"HTTP_{response.status_code}", response.reason_phrase or "error"
    answered_id = response.headers.get(REQUEST_ID_HEADER) or request_id
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        detail = body["error"]
        code = str(detail.get("code") or code)
        message = str(detail.get("message") or message)
        answered_id = str(detail.get("request_id") or answered_id)
    elif isinstance(body, dict) and isinstance(body.get("error"), str):
        # RFC 6749 5.2, the OAuth endpoints' body: the code is the OAuth error code.
        code = body["error"]
        message = str(body.get("error_description") or message)
    kind = for_status(response.status_code)
    return kind(message, code=code, status=response.status_code, request_id=answered_id)


# --- reading answers ---------------------------------------------------------------------


def _none(response: httpx.Response) -> None:
    return None


def _tenant(response: httpx.Response) -> Tenant:
    return Tenant.from_wire(response.json())


def _tenants(response: httpx.Response) -> list[Tenant]:
    return [Tenant.from_wire(item) for item in response.json()["items"]]


def _token(response: httpx.Response) -> Token:
    return Token.from_wire(response.json())


def _token_with_secret(response: httpx.Response) -> TokenWithSecret:
    return TokenWithSecret.from_wire(response.json())


def _token_page(response: httpx.Response) -> Page[Token]:
    return Page.from_wire(response.json(), Token.from_wire)


def _audit_page(response: httpx.Response) -> Page[AuditRecord]:
    return Page.from_wire(response.json(), AuditRecord.from_wire)


def _secret(response: httpx.Response) -> str:
    return str(response.json()["secret"])


def _verification(response: httpx.Response) -> Verification:
    return Verification.from_wire(response.json())


def _usage_buckets(response: httpx.Response) -> list[UsageBucket]:
    return [UsageBucket.from_wire(b) for b in response.json()["buckets"]]


def _tenant_usage(response: httpx.Response) -> TenantUsage:
    return TenantUsage.from_wire(response.json())


# --- building calls ----------------------------------------------------------------------


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def _tokens_path(tenant: str, token_id: int | None = None, tail: str = "") -> str:
    path = f"/v1/tenants/{_segment(tenant)}/tokens"
    if token_id is not None:
        path += f"/{_segment(token_id)}"
    return path + tail


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    return str(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("times must carry a time zone (use datetime.now(UTC) or similar)")
    return value


def _query(**given: Any) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for name, value in given.items():
        if value is None:
            continue
        values = [value] if isinstance(value, str) or not isinstance(value, Iterable) else value
        params.extend((name, _param(v)) for v in values)
    return params


def create_tenant(name: str) -> Call[Tenant]:
    return Call("POST", "/v1/tenants", _tenant, json={"name": name})


def list_tenants() -> Call[list[Tenant]]:
    return Call("GET", "/v1/tenants", _tenants, idempotent=True)


def get_tenant(name: str) -> Call[Tenant]:
    return Call("GET", f"/v1/tenants/{_segment(name)}", _tenant, idempotent=True)


def delete_tenant(name: str) -> Call[None]:
    return Call("DELETE", f"/v1/tenants/{_segment(name)}", _none, idempotent=True)


def create_token(tenant: str, fields: Mapping[str, Any]) -> Call[TokenWithSecret]:
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue  # the server's default
        if name in ("scopes", "audience", "resources", "ip_allowlist"):
            value = list(value)
        elif name == "expires_at":
            value = _aware(value).isoformat()
        elif name in ("metadata", "credits"):
            value = dict(value)
        elif name == "rate_limits":
            value = [dict(rate) for rate in value]
        body[name] = value
    return Call("POST", _tokens_path(tenant), _token_with_secret, json=body)


def list_tokens(tenant: str, filters: Mapping[str, Any]) -> Call[Page[Token]]:
    return Call("GET", _tokens_path(tenant), _token_page, params=_query(**filters), idempotent=True)


def get_token(tenant: str, token_id: int) -> Call[Token]:
    return Call("GET", _tokens_path(tenant, token_id), _token, idempotent=True)


def update_token(tenant: str, token_id: int, changes: Mapping[str, Any]) -> Call[Token]:
    body: dict[str, Any] = {}
    for name, value in changes.items():
        if value is UNSET:
            continue
        if name in ("scopes", "audience", "resources", "ip_allowlist") and value is not None:
            value = list(value)
        elif name == "expires_at" and value is not None:
            value = _aware(value).isoformat()
        elif name in ("metadata", "credits") and value is not None:
            value = dict(value)
        elif name == "rate_limits" and value is not None:
            value = [dict(rate) for rate in value]
        body[name] = value
    # PATCH is not retried: a repeated update would write a second audit record.
    return Call("PATCH", _tokens_path(tenant, token_id), _token, json=body)


def delete_token(tenant: str, token_id: int) -> Call[None]:
    return Call("DELETE", _tokens_path(tenant, token_id), _none, idempotent=True)


def enable_token(tenant: str, token_id: int) -> Call[Token]:
    # Enabling twice leaves the same state (the API documents both as idempotent).
    return Call("POST", _tokens_path(tenant, token_id, "/enable"), _token, idempotent=True)


def disable_token(tenant: str, token_id: int) -> Call[Token]:
    return Call("POST", _tokens_path(tenant, token_id, "/disable"), _token, idempotent=True)


def rotate_token(tenant: str, token_id: int, grace_seconds: int) -> Call[TokenWithSecret]:
    # Never repeated once sent: a second rotation would replace the secret the first made.
    return Call(
        "POST",
        _tokens_path(tenant, token_id, "/rotate"),
        _token_with_secret,
        json={"grace_seconds": grace_seconds},
    )


def reveal_secret(tenant: str, token_id: int) -> Call[str]:
    return Call("GET", _tokens_path(tenant, token_id, "/secret"), _secret, idempotent=True)


def verify(
    token: str,
    audience: str | None,
    scopes: Iterable[str],
    resource: str | None,
    client_ip: str | None = None,
    cost: int | None = None,
) -> Call[Verification]:
    body: dict[str, Any] = {"token": token}
    if audience is not None:
        body["audience"] = audience
    scopes = list(scopes)
    if scopes:
        body["scopes"] = scopes
    if resource is not None:
        body["resource"] = resource
    if client_ip is not None:
        body["client_ip"] = client_ip
    if cost is not None:
        body["cost"] = cost
    # A POST, but a question without effect (bar the last-use time): safe to ask again;
    # not for a token with credits, where a repeat may spend twice: a cost names that case.
    return Call("POST", "/v1/verify", _verification, json=body, idempotent=cost is None)


def adjust_credits(tenant: str, token_id: int, set_to: int | None, add: int | None) -> Call[Token]:
    body = {"set": set_to} if add is None else {"add": add}
    # "set" may be repeated; "add" not (it would add twice).
    return Call(
        "POST",
        _tokens_path(tenant, token_id, "/credits"),
        _token,
        json=body,
        idempotent=add is None,
    )


def token_usage(tenant: str, token_id: int, filters: Mapping[str, Any]) -> Call[list[UsageBucket]]:
    return Call(
        "GET",
        _tokens_path(tenant, token_id, "/usage"),
        _usage_buckets,
        params=_query(**filters),
        idempotent=True,
    )


def tenant_usage(tenant: str, filters: Mapping[str, Any]) -> Call[TenantUsage]:
    return Call(
        "GET",
        f"/v1/tenants/{_segment(tenant)}/usage",
        _tenant_usage,
        params=_query(**filters),
        idempotent=True,
    )


EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"


def exchange(
    subject_token: str, audience: str | None, scopes: Iterable[str] | None
) -> Call[ExchangedToken]:
    form = [
        ("grant_type", EXCHANGE_GRANT),
        ("subject_token", subject_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("requested_token_type", JWT_TYPE),
    ]
    if audience is not None:
        form.append(("audience", audience))
    if scopes is not None:
        form.append(("scope", " ".join(scopes)))
    # Each attempt mints another JWT, but that is no harm: retrying is safe.
    return Call("POST", "/oauth2/token", _exchanged, data=form, idempotent=True)


def _exchanged(response: httpx.Response) -> ExchangedToken:
    return ExchangedToken.from_wire(response.json())


def list_audit(filters: Mapping[str, Any]) -> Call[Page[AuditRecord]]:
    return Call("GET", "/v1/audit", _audit_page, params=_query(**filters), idempotent=True)


# --- policy, webhooks, leaks (docs/lifecycle.md) -----------------------------------------


def _policy(response: httpx.Response) -> Policy:
    return Policy.from_wire(response.json())


def _webhook(response: httpx.Response) -> Webhook:
    return Webhook.from_wire(response.json())


def _webhook_with_secret(response: httpx.Response) -> WebhookWithSecret:
    return WebhookWithSecret.from_wire(response.json())


def _webhooks(response: httpx.Response) -> list[Webhook]:
    return [Webhook.from_wire(item) for item in response.json()["items"]]


def _delivery(response: httpx.Response) -> Delivery:
    return Delivery.from_wire(response.json())


def _deliveries(response: httpx.Response) -> list[Delivery]:
    return [Delivery.from_wire(item) for item in response.json()["items"]]


def _secret_states(response: httpx.Response) -> list[SecretState]:
    return [SecretState.from_wire(item) for item in response.json()["items"]]


def _webhooks_path(tenant: str, webhook_id: int | None = None, tail: str = "") -> str:
    path = f"/v1/tenants/{_segment(tenant)}/webhooks"
    if webhook_id is not None:
        path += f"/{_segment(webhook_id)}"
    return path + tail


def get_policy(tenant: str) -> Call[Policy]:
    return Call("GET", f"/v1/tenants/{_segment(tenant)}/policy", _policy, idempotent=True)


def put_policy(tenant: str, policy: Policy) -> Call[Policy]:
    # A PUT of the whole policy: the same body twice leaves the same state.
    return Call(
        "PUT",
        f"/v1/tenants/{_segment(tenant)}/policy",
        _policy,
        json=policy.to_wire(),
        idempotent=True,
    )


def create_webhook(
    tenant: str, url: str, events: Iterable[str], description: str
) -> Call[WebhookWithSecret]:
    body = {"url": url, "events": list(events), "description": description}
    # Not repeated: a second registration would be a second webhook with another secret.
    return Call("POST", _webhooks_path(tenant), _webhook_with_secret, json=body)


def list_webhooks(tenant: str) -> Call[list[Webhook]]:
    return Call("GET", _webhooks_path(tenant), _webhooks, idempotent=True)


def get_webhook(tenant: str, webhook_id: int) -> Call[Webhook]:
    return Call("GET", _webhooks_path(tenant, webhook_id), _webhook, idempotent=True)


def update_webhook(tenant: str, webhook_id: int, changes: Mapping[str, Any]) -> Call[Webhook]:
    body: dict[str, Any] = {}
    for name, value in changes.items():
        if value is UNSET:
            continue
        body[name] = list(value) if name == "events" else value
    # Setting fields to given values: repeating it changes nothing more.
    return Call("PATCH", _webhooks_path(tenant, webhook_id), _webhook, json=body, idempotent=True)


def delete_webhook(tenant: str, webhook_id: int) -> Call[None]:
    return Call("DELETE", _webhooks_path(tenant, webhook_id), _none, idempotent=True)


def list_deliveries(tenant: str, webhook_id: int, limit: int) -> Call[list[Delivery]]:
    return Call(
        "GET",
        _webhooks_path(tenant, webhook_id, "/deliveries"),
        _deliveries,
        params=_query(limit=limit),
        idempotent=True,
    )


def retry_delivery(tenant: str, webhook_id: int, delivery_id: int) -> Call[Delivery]:
    # Queueing again what is queued changes nothing: safe to repeat.
    return Call(
        "POST",
        _webhooks_path(tenant, webhook_id, f"/deliveries/{_segment(delivery_id)}/retry"),
        _delivery,
        idempotent=True,
    )


def check_secrets(hashes: Iterable[str]) -> Call[list[SecretState]]:
    # Only hashes go out (``tokenward scan``): the secrets stay with the caller.
    return Call(
        "POST", "/v1/leaks/check", _secret_states, json={"hashes": list(hashes)}, idempotent=True
    )
