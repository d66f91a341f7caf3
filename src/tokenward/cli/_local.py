"""Operator mode's backend: the service layer on the database, as root (see ``_backend.py``).

Imported only when a command runs in operator mode, so that remote commands and ``--help``
never load the service layer, SQLAlchemy or the server's settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tokenward.api.native.schemas import (
    AuditPage,
    AuditPublic,
    SecretReveal,
    TenantPublic,
    TokenPage,
    TokenPublic,
    TokenWithSecret,
    VerifyResponse,
)
from tokenward.cli._common import Operator
from tokenward.domain.audit import AuditQuery
from tokenward.domain.tokens import (
    IssuedToken,
    PageRequest,
    Token,
    TokenChanges,
    TokenQuery,
    TokenSpec,
)
from tokenward.service import audit, tenants, tokens, verification


class OperatorBackend:
    """The service layer on the database, as root."""

    def __init__(self, op: Operator) -> None:
        self._op = op
        self.searched: str | None = None

    def credential_tenant(self) -> str | None:
        return None  # root, bound to no tenant

    def _public(self, token: Token) -> TokenPublic:
        return TokenPublic.of(token, self._op.now())

    def _with_secret(self, issued: IssuedToken) -> TokenWithSecret:
        return TokenWithSecret(**self._public(issued.token).model_dump(), secret=issued.secret)

    def create_tenant(self, name: str) -> TenantPublic:
        return TenantPublic.of(tenants.create(self._op.core, self._op.actor, name=name))

    def list_tenants(self) -> list[TenantPublic]:
        return [TenantPublic.of(t) for t in tenants.list_all(self._op.core, self._op.actor)]

    def get_tenant(self, name: str) -> TenantPublic:
        return TenantPublic.of(tenants.get(self._op.core, self._op.actor, name=name))

    def delete_tenant(self, name: str) -> None:
        tenants.delete(self._op.core, self._op.actor, name=name)

    def issue_token(self, tenant: str, spec: TokenSpec, *, owner: str | None) -> TokenWithSecret:
        op = self._op
        issued = tokens.issue(op.core, op.actor, tenant=tenant, spec=spec, owner=owner)
        return self._with_secret(issued)

    def search_tokens(self, tenant: str, query: TokenQuery, *, page: int, limit: int) -> TokenPage:
        op = self._op
        found = tokens.search(
            op.core, op.actor, tenant=tenant, query=query, page=PageRequest(page, limit)
        )
        now = op.now()
        return TokenPage(
            items=[TokenPublic.of(token, now) for token in found.items],
            total=found.total,
            page=found.page,
            limit=limit,
        )

    def get_token(self, tenant: str, token_id: int) -> TokenPublic:
        op = self._op
        return self._public(tokens.get(op.core, op.actor, tenant=tenant, token_id=token_id))

    def enable_token(self, tenant: str, token_id: int) -> TokenPublic:
        op = self._op
        return self._public(tokens.enable(op.core, op.actor, tenant=tenant, token_id=token_id))

    def disable_token(self, tenant: str, token_id: int) -> TokenPublic:
        op = self._op
        return self._public(tokens.disable(op.core, op.actor, tenant=tenant, token_id=token_id))

    def rename_token(self, tenant: str, token_id: int, name: str) -> TokenPublic:
        op = self._op
        changes = TokenChanges(name=name)
        token = tokens.update(op.core, op.actor, tenant=tenant, token_id=token_id, changes=changes)
        return self._public(token)

    def update_token(self, tenant: str, token_id: int, changes: TokenChanges) -> TokenPublic:
        op = self._op
        token = tokens.update(op.core, op.actor, tenant=tenant, token_id=token_id, changes=changes)
        return self._public(token)

    def list_audit(self, query: AuditQuery, *, page: int, limit: int) -> AuditPage:
        op = self._op
        found = audit.search(op.core, op.actor, query=query, page=PageRequest(page, limit))
        return AuditPage(
            items=[AuditPublic.of(r) for r in found.items],
            total=found.total,
            page=found.page,
            limit=limit,
        )

    def rotate_token(self, tenant: str, token_id: int, *, grace_seconds: int) -> TokenWithSecret:
        op = self._op
        issued = tokens.rotate(
            op.core, op.actor, tenant=tenant, token_id=token_id, grace_seconds=grace_seconds
        )
        return self._with_secret(issued)

    def delete_token(self, tenant: str, token_id: int) -> None:
        tokens.delete(self._op.core, self._op.actor, tenant=tenant, token_id=token_id)

    def reveal_secret(self, tenant: str, token_id: int) -> SecretReveal:
        op = self._op
        secret = tokens.reveal(op.core, op.actor, tenant=tenant, token_id=token_id)
        return SecretReveal(id=token_id, secret=secret)

    def verify(
        self, secret: str, *, audience: str | None, scopes: Sequence[str], resource: str | None
    ) -> VerifyResponse:
        # TOKENWARD_VERIFY_REQUIRES_AUTH guards the HTTP endpoint against strangers; the
        # operator already holds the database, and acts as root, so no credential is asked.
        core = dataclasses.replace(self._op.core, verify_requires_auth=False)
        result = verification.verify(
            core, secret, audience=audience, scopes=scopes, resource=resource
        )
        core.flush_last_use()
        token = None if result.token is None else self._public(result.token)
        return VerifyResponse(valid=result.valid, code=result.code, token=token)
