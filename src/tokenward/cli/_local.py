"""Operator mode's backend: the service layer on the database, as root (see ``_backend.py``).

Imported only when a command runs in operator mode, so that remote commands and ``--help``
never load the service layer, SQLAlchemy or the server's settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tokenward import client
from tokenward.api.native.schemas import (
    AuditPublic,
    LimitsPublic,
    TenantPublic,
    TokenPublic,
    TokenWithSecret,
    VerifyResponse,
)
from tokenward.cli._common import Operator, Revealed
from tokenward.domain.audit import AuditQuery
from tokenward.domain.tenants import Tenant
from tokenward.domain.tokens import (
    IssuedToken,
    PageRequest,
    Token,
    TokenChanges,
    TokenQuery,
    TokenSpec,
)
from tokenward.service import audit, tenants, tokens, usage


class OperatorBackend:
    """The service layer on the database, as root. Its answers go through the native API's
    wire models into the client's types, so that they are the very shapes remote mode gets."""

    def __init__(self, op: Operator) -> None:
        self._op = op
        self.searched: str | None = None

    def credential_tenant(self) -> str | None:
        return None  # root, bound to no tenant

    def _public(self, token: Token) -> client.Token:
        return client.Token.from_wire(TokenPublic.of(token, self._op.now()).model_dump(mode="json"))

    def _with_secret(self, issued: IssuedToken) -> client.TokenWithSecret:
        public = TokenPublic.of(issued.token, self._op.now()).model_dump()
        answer = TokenWithSecret(**public, secret=issued.secret)
        return client.TokenWithSecret.from_wire(answer.model_dump(mode="json"))

    def create_tenant(self, name: str) -> client.Tenant:
        return _tenant(tenants.create(self._op.core, self._op.actor, name=name))

    def list_tenants(self) -> list[client.Tenant]:
        return [_tenant(t) for t in tenants.list_all(self._op.core, self._op.actor)]

    def get_tenant(self, name: str) -> client.Tenant:
        return _tenant(tenants.get(self._op.core, self._op.actor, name=name))

    def delete_tenant(self, name: str) -> None:
        tenants.delete(self._op.core, self._op.actor, name=name)

    def issue_token(
        self, tenant: str, spec: TokenSpec, *, owner: str | None
    ) -> client.TokenWithSecret:
        op = self._op
        issued = tokens.issue(op.core, op.actor, tenant=tenant, spec=spec, owner=owner)
        return self._with_secret(issued)

    def search_tokens(
        self, tenant: str, query: TokenQuery, *, page: int, limit: int
    ) -> client.Page[client.Token]:
        op = self._op
        found = tokens.search(
            op.core, op.actor, tenant=tenant, query=query, page=PageRequest(page, limit)
        )
        return client.Page(
            items=tuple(self._public(token) for token in found.items),
            total=found.total,
            page=found.page,
            limit=limit,
        )

    def get_token(self, tenant: str, token_id: int) -> client.Token:
        op = self._op
        return self._public(tokens.get(op.core, op.actor, tenant=tenant, token_id=token_id))

    def enable_token(self, tenant: str, token_id: int) -> client.Token:
        op = self._op
        return self._public(tokens.enable(op.core, op.actor, tenant=tenant, token_id=token_id))

    def disable_token(self, tenant: str, token_id: int) -> client.Token:
        op = self._op
        return self._public(tokens.disable(op.core, op.actor, tenant=tenant, token_id=token_id))

    def rename_token(self, tenant: str, token_id: int, name: str) -> client.Token:
        return self.update_token(tenant, token_id, TokenChanges(name=name))

    def update_token(self, tenant: str, token_id: int, changes: TokenChanges) -> client.Token:
        op = self._op
        token = tokens.update(op.core, op.actor, tenant=tenant, token_id=token_id, changes=changes)
        return self._public(token)

    def list_audit(
        self, query: AuditQuery, *, page: int, limit: int
    ) -> client.Page[client.AuditRecord]:
        op = self._op
        found = audit.search(op.core, op.actor, query=query, page=PageRequest(page, limit))
        return client.Page(
            items=tuple(
                client.AuditRecord.from_wire(AuditPublic.of(r).model_dump(mode="json"))
                for r in found.items
            ),
            total=found.total,
            page=found.page,
            limit=limit,
        )

    def rotate_token(
        self, tenant: str, token_id: int, *, grace_seconds: int
    ) -> client.TokenWithSecret:
        op = self._op
        issued = tokens.rotate(
            op.core, op.actor, tenant=tenant, token_id=token_id, grace_seconds=grace_seconds
        )
        return self._with_secret(issued)

    def delete_token(self, tenant: str, token_id: int) -> None:
        tokens.delete(self._op.core, self._op.actor, tenant=tenant, token_id=token_id)

    def reveal_secret(self, tenant: str, token_id: int) -> Revealed:
        op = self._op
        secret = tokens.reveal(op.core, op.actor, tenant=tenant, token_id=token_id)
        return Revealed(id=token_id, secret=secret)

    def verify(
        self, secret: str, *, audience: str | None, scopes: Sequence[str], resource: str | None
    ) -> client.Verification:
        # TOKENWARD_VERIFY_REQUIRES_AUTH guards the HTTP endpoint against strangers; the
        # operator already holds the database, and acts as root, so no credential is asked.
        verifier = self._op.verifier
        result = verifier.verify(secret, audience=audience, scopes=scopes, resource=resource)
        verifier.flush()
        token = None if result.token is None else TokenPublic.of(result.token, self._op.now())
        answer = VerifyResponse(
            valid=result.valid,
            code=result.code,
            token=token,
            limits=None if result.limits is None else LimitsPublic.model_validate(result.limits),
            retry_after_ms=result.retry_after_ms,
        )
        return client.Verification.from_wire(answer.model_dump(mode="json"))

    def adjust_credits(
        self, tenant: str, token_id: int, *, set_to: int | None, add: int | None
    ) -> client.Token:
        op = self._op
        token = tokens.adjust_credits(
            op.core, op.actor, tenant=tenant, token_id=token_id, set_to=set_to, add=add
        )
        return self._public(token)

    def token_usage(
        self,
        tenant: str,
        token_id: int,
        *,
        since: datetime | None,
        until: datetime | None,
        bucket: str,
    ) -> list[client.UsageBucket]:
        op = self._op
        found = usage.of_token(
            op.core,
            op.actor,
            tenant=tenant,
            token_id=token_id,
            since=since,
            until=until,
            bucket="day" if bucket == "day" else "hour",
        )
        return [client.UsageBucket(start=b.start, counts=dict(b.counts)) for b in found]


def _tenant(tenant: Tenant) -> client.Tenant:
    return client.Tenant.from_wire(TenantPublic.of(tenant).model_dump(mode="json"))
