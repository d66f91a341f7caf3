"""Every client operation against a real ``tokenward serve`` process, sync and async."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.client.support import ROOT
from tests.e2e.server import Server
from tokenward.client import (
    UNSET,
    AsyncClient,
    Client,
    Conflict,
    NotFound,
    Page,
    Token,
    TokenWithSecret,
    VerifyCode,
)


def test_tenants(server: Server, tenant_name: str) -> None:
    with Client(server.url, ROOT) as tw:
        created = tw.create_tenant(tenant_name)
        assert created.name == tenant_name
        assert created.created_at.tzinfo is not None
        assert tenant_name in {t.name for t in tw.list_tenants()}
        assert "default" in {t.name for t in tw.list_tenants()}
        assert tw.get_tenant(tenant_name) == created
        tw.delete_tenant(tenant_name)
        with pytest.raises(NotFound) as missing:
            tw.get_tenant(tenant_name)
        assert missing.value.code == "NOT_FOUND"


def test_token_lifecycle(server: Server, tenant_name: str) -> None:
    with Client(server.url, ROOT) as tw:
        tw.create_tenant(tenant_name)
        expires = datetime.now(UTC) + timedelta(days=1)
        issued = tw.create_token(
            tenant_name,
            name="billing ci",
            description="runs the invoices job",
            type="workflow",
            principal="wf-7",
            user="alice",
            role="editor",
            scopes=["invoices:read", "invoices:write"],
            audience=["billing"],
            resources=["b1"],
            restricted=True,
            expires_at=expires,
            recoverable=True,
            metadata={"team": "payments"},
        )
        assert isinstance(issued, TokenWithSecret)
        assert issued.secret.startswith("tw_") and issued.secret not in repr(issued)
        assert (issued.tenant, issued.type, issued.principal) == (tenant_name, "workflow", "wf-7")
        assert issued.scopes == ("invoices:read", "invoices:write")
        assert issued.restricted and issued.recoverable and issued.active
        assert issued.metadata == {"team": "payments"}
        assert issued.expires_at is not None
        assert abs((issued.expires_at - expires).total_seconds()) < 0.01

        fetched = tw.get_token(tenant_name, issued.id)
        assert isinstance(fetched, Token) and not isinstance(fetched, TokenWithSecret)
        assert fetched.id == issued.id and fetched.secret_hint == issued.secret_hint

        other = tw.create_token(tenant_name, name="reader", ttl_seconds=3600)
        assert other.role == "viewer" and other.type == "global" and other.scopes == ()

        # Listing with filters, paging and sorting.
        page = tw.list_tokens(tenant_name, limit=1, sort="name", order="desc")
        assert isinstance(page, Page)
        assert (page.total, page.limit, len(page.items)) == (2, 1, 1)
        assert page.items[0].name == "reader" and page.has_next
        second = tw.list_tokens(tenant_name, limit=1, page=1, sort="name", order="desc")
        assert second.items[0].name == "billing ci" and not second.has_next
        assert [t.id for t in tw.list_tokens(tenant_name, type=["workflow", "team"]).items] == [
            issued.id
        ]
        assert tw.list_tokens(tenant_name, name="BILLING", role="editor").total == 1
        assert tw.list_tokens(tenant_name, expires_before=expires - timedelta(hours=1)).total == 1
        assert tw.list_tokens(tenant_name, active=False).total == 0

        # Verification.
        verdict = tw.verify(issued.secret, audience="billing", scopes=["invoices:read"])
        assert verdict.valid and verdict.code == VerifyCode.VALID
        assert verdict.token is not None and verdict.token.id == issued.id
        assert tw.verify(issued.secret, audience="crm").code == "AUDIENCE_MISMATCH"
        assert tw.verify(issued.secret, scopes=["admin"]).code == "INSUFFICIENT_SCOPE"
        assert tw.verify(issued.secret, resource="b2").code == "RESOURCE_DENIED"
        malformed = tw.verify("not-a-token")
        assert (malformed.valid, malformed.code, malformed.token) == (False, "MALFORMED", None)

        # Update: given fields change, UNSET ones stay, None clears the expiry.
        updated = tw.update_token(tenant_name, issued.id, name="renamed", scopes=["x"])
        assert (updated.name, updated.scopes, updated.description) == (
            "renamed",
            ("x",),
            "runs the invoices job",
        )
        assert updated.expires_at is not None
        permanent = tw.update_token(tenant_name, issued.id, expires_at=None, description=UNSET)
        assert permanent.expires_at is None and permanent.name == "renamed"

        # Enable and disable.
        assert not tw.disable_token(tenant_name, issued.id).active
        assert tw.verify(issued.secret).code == "DISABLED"
        assert tw.enable_token(tenant_name, issued.id).active
        assert tw.verify(issued.secret).valid

        # Reveal and rotate.
        assert tw.reveal_secret(tenant_name, issued.id) == issued.secret
        with pytest.raises(Conflict) as not_recoverable:
            tw.reveal_secret(tenant_name, other.id)
        assert not_recoverable.value.code == "NOT_RECOVERABLE"
        rotated = tw.rotate_token(tenant_name, issued.id)
        assert rotated.id == issued.id and rotated.secret != issued.secret
        assert tw.verify(issued.secret).code == "NOT_FOUND"
        assert tw.verify(rotated.secret).valid
        graced = tw.rotate_token(tenant_name, issued.id, grace_seconds=60)
        assert tw.verify(rotated.secret).valid and tw.verify(graced.secret).valid

        # Delete.
        tw.delete_token(tenant_name, other.id)
        with pytest.raises(NotFound):
            tw.get_token(tenant_name, other.id)
        assert tw.verify(other.secret).code == "NOT_FOUND"

        # Audit: newest first, filtered.
        trail = tw.list_audit(tenant=tenant_name, token_id=issued.id)
        actions = [record.action for record in trail.items]
        assert actions[0] == "token.rotate" and actions[-1] == "token.issue"
        assert {"token.update", "token.enable", "token.disable", "token.reveal"} <= set(actions)
        assert all(r.actor == "root" and r.token_id == issued.id for r in trail.items)
        since = trail.items[-1].at
        deletes = tw.list_audit(tenant=tenant_name, action="token.delete", since=since)
        assert [r.token_id for r in deletes.items] == [other.id]
        assert tw.list_audit(tenant=tenant_name, limit=2).limit == 2


def test_a_management_token_acts_within_its_tenant(server: Server, tenant_name: str) -> None:
    with Client(server.url, ROOT) as root:
        root.create_tenant(tenant_name)
        admin = root.create_token(tenant_name, name="admin", role="admin", audience=["tokenward"])
    with Client(server.url, admin.secret) as tw:
        assert [t.name for t in tw.list_tenants()] == [tenant_name]
        issued = tw.create_token(tenant_name, name="made by admin")
        assert issued.owner == tw.get_token(tenant_name, issued.id).owner
        with pytest.raises(NotFound):
            tw.get_tenant("default")


def test_the_environment_configures_the_client(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENWARD_URL", server.url)
    monkeypatch.setenv("TOKENWARD_TOKEN", ROOT)
    with Client() as tw:
        assert "default" in {t.name for t in tw.list_tenants()}
    monkeypatch.delenv("TOKENWARD_URL")
    with pytest.raises(ValueError, match="TOKENWARD_URL"):
        Client()


def test_async_client_covers_the_same_operations(server: Server, tenant_name: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, ROOT) as tw:
            tenant = await tw.create_tenant(tenant_name)
            assert tenant.name == tenant_name
            assert (await tw.get_tenant(tenant_name)) == tenant
            assert tenant_name in {t.name for t in await tw.list_tenants()}
            issued = await tw.create_token(
                tenant_name, name="async", audience=["svc"], scopes=["r"], recoverable=True
            )
            assert (await tw.get_token(tenant_name, issued.id)).name == "async"
            assert (await tw.list_tokens(tenant_name)).total == 1
            changed = await tw.update_token(tenant_name, issued.id, scopes=["r", "w"])
            assert changed.scopes == ("r", "w")
            verdict = await tw.verify(issued.secret, audience="svc", scopes=["w"])
            assert verdict.valid
            assert not (await tw.disable_token(tenant_name, issued.id)).active
            assert (await tw.verify(issued.secret)).code == "DISABLED"
            assert (await tw.enable_token(tenant_name, issued.id)).active
            assert await tw.reveal_secret(tenant_name, issued.id) == issued.secret
            rotated = await tw.rotate_token(tenant_name, issued.id)
            assert (await tw.verify(rotated.secret)).valid
            assert (await tw.verify(issued.secret)).code == "NOT_FOUND"
            audit = await tw.list_audit(tenant=tenant_name, action="token.rotate")
            assert [r.token_id for r in audit.items] == [issued.id]
            await tw.delete_token(tenant_name, issued.id)
            with pytest.raises(NotFound):
                await tw.get_token(tenant_name, issued.id)
            await tw.delete_tenant(tenant_name)
            with pytest.raises(NotFound):
                await tw.get_tenant(tenant_name)

    asyncio.run(scenario())
