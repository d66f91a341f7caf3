"""Wire models of the native API. Built from domain objects; never from store rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from tokenward.domain import limits
from tokenward.domain.audit import AuditRecord
from tokenward.domain.documents import token_fields
from tokenward.domain.roles import TOKEN_ROLES, Role
from tokenward.domain.tenants import Tenant
from tokenward.domain.tokens import (
    Credits,
    RateLimit,
    Refill,
    RefillInterval,
    Token,
    TokenType,
)
from tokenward.domain.verification import VerifyCode

#: A role a token may be given: the document offers ``TOKEN_ROLES`` only, as root is the
#: bootstrap credential's alone (the service refuses it with its own message).
TokenRole = Annotated[
    Role,
    WithJsonSchema(
        {
            "type": "string",
            "enum": [role.value for role in TOKEN_ROLES],
            "description": "Role of the token (root is the bootstrap credential's alone)",
        }
    ),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantCreate(_Request):
    name: str = Field(description="1 to 128 letters, digits and @ . _ : -")


class TenantPublic(BaseModel):
    name: str
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantPublic:
        return cls(name=tenant.name, created_at=tenant.created_at)


class TenantList(BaseModel):
    items: list[TenantPublic]


class RateLimitModel(_Request):
    name: str = Field(description="Unique among the token's limits; 1 to 64 characters")
    limit: int = Field(description="At most so many verifications in any span of the window")
    window_seconds: int = Field(description="1 to 86400")

    def domain(self) -> RateLimit:
        return RateLimit(self.name, self.limit, self.window_seconds)


class RefillModel(_Request):
    amount: int = Field(description="The balance after each refill (at least 1)")
    interval: RefillInterval = Field(description="00:00 UTC each day, or the 1st of each month")


class CreditsModel(_Request):
    remaining: int = Field(description="Credits left; each verification spends its cost")
    refill: RefillModel | None = None

    def domain(self) -> Credits:
        refill = self.refill
        return Credits(
            self.remaining, None if refill is None else Refill(refill.amount, refill.interval)
        )


class CreditsAdjust(_Request):
    """Exactly one of ``set`` and ``add``."""

    set: int | None = Field(default=None, description="The new balance")
    add: int | None = Field(default=None, description="Added to the balance")

    @model_validator(mode="after")
    def _one(self) -> CreditsAdjust:
        if (self.set is None) == (self.add is None):
            raise ValueError("give set or add, not both")
        return self


class TokenCreate(_Request):
    name: str
    description: str = ""
    type: TokenType = TokenType.GLOBAL
    principal: str | None = Field(default=None, description="Required unless type is global")
    owner: str | None = Field(
        default=None, description="An admin of the tenant or root; default: the caller"
    )
    user: str | None = Field(default=None, description="Default: the owner")
    role: TokenRole = Role.VIEWER
    scopes: list[str] = Field(default_factory=list)
    audience: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    restricted: bool = False
    active: bool = True
    expires_at: AwareDatetime | None = Field(default=None, description="RFC 3339, with offset")
    ttl_seconds: int | None = Field(default=None, description="Instead of expires_at")
    recoverable: bool = Field(default=False, description="Keep the secret sealed for reveal")
    metadata: dict[str, Any] = Field(default_factory=dict)
    rate_limits: list[RateLimitModel] = Field(default_factory=list, description="Up to 10")
    credits: CreditsModel | None = Field(default=None, description="null: unlimited")
    ip_allowlist: list[str] = Field(
        default_factory=list, description="Up to 100 addresses or CIDR ranges; empty: any"
    )


class TokenUpdate(_Request):
    """Only the fields present change; ``expires_at: null`` makes the token permanent."""

    name: str | None = None
    description: str | None = None
    role: TokenRole | None = None
    scopes: list[str] | None = None
    audience: list[str] | None = None
    resources: list[str] | None = None
    restricted: bool | None = None
    expires_at: AwareDatetime | None = None
    metadata: dict[str, Any] | None = None
    rate_limits: list[RateLimitModel] | None = None
    credits: CreditsModel | None = Field(default=None, description="null: unlimited")
    ip_allowlist: list[str] | None = None


class RotateRequest(_Request):
    grace_seconds: int = Field(default=0, description="How long the old secret keeps working")


class TokenPublic(BaseModel):
    id: int
    tenant: str
    name: str
    description: str
    type: TokenType
    principal: str | None
    owner: str
    user: str
    role: Role
    scopes: list[str]
    audience: list[str]
    resources: list[str]
    restricted: bool
    active: bool
    expired: bool
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
    secret_hint: str
    recoverable: bool
    metadata: dict[str, Any]
    rate_limits: list[RateLimitModel] = Field(default_factory=list)
    credits: CreditsModel | None = None
    ip_allowlist: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, token: Token, now: datetime) -> TokenPublic:
        return cls(**token_fields(token, now))


class TokenWithSecret(TokenPublic):
    secret: str = Field(description="Shown once (or again through reveal when recoverable)")


class TokenPage(BaseModel):
    items: list[TokenPublic]
    total: int
    page: int
    limit: int


class SecretReveal(BaseModel):
    id: int
    secret: str


class VerifyRequest(_Request):
    token: str
    audience: str | None = None
    scopes: list[str] = Field(default_factory=list)
    resource: str | None = None
    client_ip: str | None = Field(
        default=None,
        strict=True,
        description="The address of the client that presented the token",
    )
    # Strict: a count given as a string or a boolean is a caller's bug, not a number.
    cost: int = Field(
        default=1,
        ge=0,
        le=limits.MAX_COST,
        strict=True,
        description="Credits this verification spends (0 allowed)",
    )


class LimitStatePublic(BaseModel):
    name: str
    limit: int
    remaining: int | None = Field(description="null while the counters cannot be asked")
    reset_at: datetime | None


class LimitsPublic(BaseModel):
    credits_remaining: int | None = Field(description="null: unlimited")
    rate_limits: list[LimitStatePublic]


class VerifyResponse(BaseModel):
    valid: bool
    code: VerifyCode
    token: TokenPublic | None
    limits: LimitsPublic | None = Field(
        default=None, description="Only for a token with controls that reached them"
    )
    retry_after_ms: int | None = Field(default=None, description="For RATE_LIMITED")


class UsageBucketPublic(BaseModel):
    start: datetime
    counts: dict[str, int]


class TokenUsagePublic(BaseModel):
    buckets: list[UsageBucketPublic]


class TopToken(BaseModel):
    id: int
    verifications: int


class TenantUsagePublic(BaseModel):
    buckets: list[UsageBucketPublic]
    top_tokens: list[TopToken]


class AuditPublic(BaseModel):
    id: int
    at: datetime
    tenant: str | None
    actor: str
    action: str
    token_id: int | None
    client: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, record: AuditRecord) -> AuditPublic:
        return cls(
            id=record.id,
            at=record.at,
            tenant=record.tenant,
            actor=record.actor,
            action=record.action,
            token_id=record.token_id,
            client=record.client,
            detail=dict(record.detail),
        )


class AuditPage(BaseModel):
    items: list[AuditPublic]
    total: int
    page: int
    limit: int


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str


class ErrorBody(BaseModel):
    error: ErrorDetail
