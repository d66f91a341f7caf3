"""The caller of a use case: the bootstrap credential (root) or a management token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tokenward.domain.roles import Role
from tokenward.domain.tenants import DEFAULT_TENANT
from tokenward.domain.tokens import Token, TokenType

ROOT_IDENTITY = "root"


@dataclass(frozen=True, slots=True)
class Actor:
    identity: str
    role: Role
    tenant: str | None
    scopes: frozenset[str]
    expires_at: datetime | None
    token_id: int | None
    client: str | None = None
    #: What the caller's own token reaches, for the no-escalation rule (domain/policy.py).
    #: Root has no token: an empty audience, unrestricted.
    audience: frozenset[str] = frozenset()
    restricted: bool = False
    resources: frozenset[str] = frozenset()
    #: Whom the caller's own token stands for (its type and principal), for the rule that
    #: below admin a caller issues tokens standing for no one but itself (domain/policy.py).
    #: Root's is global: it stands for every principal.
    kind: TokenType = TokenType.GLOBAL
    principal: str | None = None

    @property
    def is_root(self) -> bool:
        return self.role is Role.ROOT

    @property
    def home_tenant(self) -> str:
        """Where the caller acts on faces whose paths name no tenant: its own; root's is
        ``default``."""
        return self.tenant or DEFAULT_TENANT

    @property
    def label(self) -> str:
        """How audit records name the actor: the identity and, for a token, its id."""
        return self.identity if self.token_id is None else f"{self.identity}#{self.token_id}"

    @classmethod
    def root(cls, client: str | None = None) -> Actor:
        return cls(
            identity=ROOT_IDENTITY,
            role=Role.ROOT,
            tenant=None,
            scopes=frozenset(),
            expires_at=None,
            token_id=None,
            client=client,
        )

    @classmethod
    def of_token(cls, token: Token, client: str | None = None) -> Actor:
        return cls(
            identity=token.user,
            role=token.role,
            tenant=token.tenant,
            scopes=frozenset(token.scopes),
            expires_at=token.expires_at,
            token_id=token.id,
            client=client,
            audience=frozenset(token.audience),
            restricted=token.restricted,
            resources=frozenset(token.resources),
            kind=token.type,
            principal=token.principal,
        )
