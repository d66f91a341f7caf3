"""A typed client of tokenward's native API, synchronous (``Client``) and asyncio
(``AsyncClient``), built on httpx.

It needs only httpx and the standard library and imports nothing of the server, so a service
that only consumes tokenward can use it alone::

    from tokenward.client import Client

    with Client("http://127.0.0.1:8080", token=ROOT) as tw:
        issued = tw.create_token("acme", name="ci", audience=["billing"], ttl_seconds=3600)
        verdict = tw.verify(issued.secret, audience="billing")

Errors are the classes of ``tokenward.client`` (see ``TokenwardError``); see docs/client.md.
"""

from tokenward.client._async_client import AsyncClient
from tokenward.client._calls import UNSET, RetryPolicy
from tokenward.client._client import Client
from tokenward.client._exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServerError,
    TokenwardError,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from tokenward.client._models import (
    AuditRecord,
    Delivery,
    DeliveryAttempt,
    ExchangedToken,
    Page,
    Policy,
    Role,
    SecretState,
    Tenant,
    TenantUsage,
    Token,
    TokenType,
    TokenWithSecret,
    UsageBucket,
    Verification,
    VerifyCode,
    Webhook,
    WebhookWithSecret,
)

__all__ = [
    "UNSET",
    "AsyncClient",
    "AuditRecord",
    "BadRequest",
    "Client",
    "Conflict",
    "Delivery",
    "DeliveryAttempt",
    "ExchangedToken",
    "Forbidden",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "Policy",
    "RetryPolicy",
    "Role",
    "SecretState",
    "ServerError",
    "Tenant",
    "TenantUsage",
    "Token",
    "TokenType",
    "TokenWithSecret",
    "TokenwardError",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "UsageBucket",
    "ValidationFailed",
    "Verification",
    "VerifyCode",
    "Webhook",
    "WebhookWithSecret",
]
