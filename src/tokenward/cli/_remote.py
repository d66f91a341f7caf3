"""Remote mode's backend: the native API through ``tokenward.client`` (see ``_backend.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tokenward.cli._common import Revealed
from tokenward.domain.audit import AuditQuery
from tokenward.domain.documents import credits_fields, rate_limit_fields
from tokenward.domain.tokens import TokenChanges, TokenQuery, TokenSpec

if TYPE_CHECKING:
    from tokenward import client


class RemoteBackend:
    """The native API through ``tokenward.client``, with the caller's credential."""

    def __init__(self, http: client.Client, credential: str | None) -> None:
        self._http = http
        self._credential = credential
        self.searched: str | None = None

    def credential_tenant(self) -> str | None:
        """The tenant the credential is bound to, or None (root, or no credential).

        The native API has no "who am I" call; verifying the credential itself answers it:
        a tenant's token comes back with its tenant, the root credential as unknown. This
        records a use of the credential, as the command itself does."""
        if self._credential is None:
            return None
        verdict = self._http.verify(self._credential)
        return verdict.token.tenant if verdict.valid and verdict.token is not None else None

    def create_tenant(self, name: str) -> client.Tenant:
        return self._http.create_tenant(name)

    def list_tenants(self) -> list[client.Tenant]:
        return list(self._http.list_tenants())

    def get_tenant(self, name: str) -> client.Tenant:
        return self._http.get_tenant(name)

    def delete_tenant(self, name: str) -> None:
        self._http.delete_tenant(name)

    def issue_token(
        self, tenant: str, spec: TokenSpec, *, owner: str | None
    ) -> client.TokenWithSecret:
        return self._http.create_token(
            tenant,
            name=spec.name,
            description=spec.description,
            type=spec.type.value,
            principal=spec.principal,
            owner=owner,
            user=spec.user,
            role=spec.role.value,
            scopes=spec.scopes,
            audience=spec.audience,
            resources=spec.resources,
            restricted=spec.restricted,
            active=spec.active,
            expires_at=spec.expires_at,
            ttl_seconds=spec.ttl_seconds,
            recoverable=spec.recoverable,
            metadata=spec.metadata or None,
            rate_limits=[rate_limit_fields(rate) for rate in spec.rate_limits] or None,
            credits=credits_fields(spec.credits),
            ip_allowlist=spec.ip_allowlist or None,
        )

    def search_tokens(
        self, tenant: str, query: TokenQuery, *, page: int, limit: int
    ) -> client.Page[client.Token]:
        return self._http.list_tokens(
            tenant,
            type=[t.value for t in query.types] if query.types else None,
            principal=list(query.principals) if query.principals else None,
            owner=query.owner,
            user=query.user,
            role=None if query.role is None else query.role.value,
            active=query.active,
            expired=query.expired,
            name=query.name_contains,
            created_after=query.created_after,
            created_before=query.created_before,
            expires_after=query.expires_after,
            expires_before=query.expires_before,
            sort=query.sort.value,
            order=query.order.value,
            page=page,
            limit=limit,
        )

    def get_token(self, tenant: str, token_id: int) -> client.Token:
        return self._http.get_token(tenant, token_id)

    def enable_token(self, tenant: str, token_id: int) -> client.Token:
        return self._http.enable_token(tenant, token_id)

    def disable_token(self, tenant: str, token_id: int) -> client.Token:
        return self._http.disable_token(tenant, token_id)

    def rename_token(self, tenant: str, token_id: int, name: str) -> client.Token:
        return self._http.update_token(tenant, token_id, name=name)

    def update_token(self, tenant: str, token_id: int, changes: TokenChanges) -> client.Token:
        given = changes.given()
        if "role" in given:
            given["role"] = given["role"].value
        if "rate_limits" in given:
            given["rate_limits"] = [rate_limit_fields(rate) for rate in given["rate_limits"]]
        if "credits" in given:
            given["credits"] = credits_fields(given["credits"])
        return self._http.update_token(tenant, token_id, **given)

    def adjust_credits(
        self, tenant: str, token_id: int, *, set_to: int | None, add: int | None
    ) -> client.Token:
        return self._http.adjust_credits(tenant, token_id, set=set_to, add=add)

    def token_usage(
        self,
        tenant: str,
        token_id: int,
        *,
        since: datetime | None,
        until: datetime | None,
        bucket: str,
    ) -> list[client.UsageBucket]:
        return self._http.token_usage(tenant, token_id, since=since, until=until, bucket=bucket)

    def list_audit(
        self, query: AuditQuery, *, page: int, limit: int
    ) -> client.Page[client.AuditRecord]:
        # The API decides on deleted tenants' records itself (root sees them, a tenant never).
        fields = dataclasses.asdict(query)
        del fields["deleted_tenants"]
        return self._http.list_audit(**fields, page=page, limit=limit)

    def rotate_token(
        self, tenant: str, token_id: int, *, grace_seconds: int
    ) -> client.TokenWithSecret:
        return self._http.rotate_token(tenant, token_id, grace_seconds=grace_seconds)

    def delete_token(self, tenant: str, token_id: int) -> None:
        self._http.delete_token(tenant, token_id)

    def reveal_secret(self, tenant: str, token_id: int) -> Revealed:
        return Revealed(id=token_id, secret=self._http.reveal_secret(tenant, token_id))

    def verify(
        self, secret: str, *, audience: str | None, scopes: Sequence[str], resource: str | None
    ) -> client.Verification:
        return self._http.verify(secret, audience=audience, scopes=scopes, resource=resource)
