"""The tenant and audit use cases on the in-memory store: each rule once."""

from __future__ import annotations

import pytest

from tests.service.fakes import FakeCore, fake_core, verify_code
from tests.service.support import ROOT, caller, issued
from tokenward.domain.audit import AuditQuery
from tokenward.domain.errors import Conflict, Forbidden, Invalid, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.verification import VerifyCode
from tokenward.service import audit, bootstrap, tenants


@pytest.fixture
def fc() -> FakeCore:
    return fake_core()


def test_root_creates_tenants_with_valid_new_names_only(fc: FakeCore) -> None:
    assert tenants.create(fc.core, ROOT, name="acme@multitenant").created_at == fc.clock.now
    with pytest.raises(Conflict) as taken:
        tenants.create(fc.core, ROOT, name="acme@multitenant")
    assert taken.value.code == "TENANT_EXISTS"
    for bad in ("", "-lead", "a/b", "x" * 129, "a\x00"):
        with pytest.raises(Invalid):
            tenants.create(fc.core, ROOT, name=bad)
    admin = caller(fc.core, Role.ADMIN)
    with pytest.raises(Forbidden):
        tenants.create(fc.core, admin, name="mine")


def test_a_token_sees_only_its_own_tenant(fc: FakeCore) -> None:
    tenants.create(fc.core, ROOT, name="acme")
    admin = caller(fc.core, Role.ADMIN, "acme")
    assert [t.name for t in tenants.list_all(fc.core, ROOT)] == ["acme", "default"]
    assert [t.name for t in tenants.list_all(fc.core, admin)] == ["acme"]
    assert tenants.get(fc.core, admin, name="acme").name == "acme"
    with pytest.raises(NotFound):  # the same answer as for a tenant that does not exist
        tenants.get(fc.core, admin, name="default")


def test_deleting_a_tenant_takes_its_tokens_and_leaves_a_clean_trail_for_the_name(
    fc: FakeCore,
) -> None:
    tenants.create(fc.core, ROOT, name="acme")
    made = issued(fc.core, "acme")
    assert verify_code(fc.core, made.secret) is VerifyCode.VALID
    admin = caller(fc.core, Role.ADMIN, "acme")
    with pytest.raises(Forbidden):
        tenants.delete(fc.core, admin, name="acme")
    tenants.delete(fc.core, ROOT, name="acme")
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert not fc.store.state.tokens or all(
        t.tenant != "acme" for t in fc.store.state.tokens.values()
    )
    with pytest.raises(NotFound):
        tenants.delete(fc.core, ROOT, name="acme")
    tenants.create(fc.core, ROOT, name="acme")
    newcomer = caller(fc.core, Role.ADMIN, "acme")
    trail = audit.search(fc.core, newcomer).items
    assert [r.action for r in trail] == ["token.issue", "tenant.create"]  # nothing older
    assert audit.search(fc.core, ROOT, query=AuditQuery(action="tenant.delete")).total == 1


def test_the_default_tenant_cannot_be_deleted(fc: FakeCore) -> None:
    with pytest.raises(Conflict) as refused:
        tenants.delete(fc.core, ROOT, name="default")
    assert refused.value.code == "DEFAULT_TENANT"


def test_the_audit_trail_is_an_admins_and_only_of_its_tenant(fc: FakeCore) -> None:
    tenants.create(fc.core, ROOT, name="acme")
    issued(fc.core, "acme", name="theirs")
    admin = caller(fc.core, Role.ADMIN)
    for role in (Role.VIEWER, Role.EDITOR):
        with pytest.raises(Forbidden):
            audit.search(fc.core, caller(fc.core, role))
    mine = audit.search(fc.core, admin).items
    assert mine and {r.tenant for r in mine} == {"default"}
    with pytest.raises(NotFound):
        audit.search(fc.core, admin, query=AuditQuery(tenant="acme"))
    everyone = audit.search(fc.core, ROOT).items
    assert {r.tenant for r in everyone} == {"default", "acme"}
    assert all(r.client == "service-tier" for r in everyone if r.actor == "root")


def test_the_root_credential_is_generated_once_and_reset_replaces_it(fc: FakeCore) -> None:
    assert not bootstrap.has_root_credential(fc.core)
    first = bootstrap.ensure_root_credential(fc.core)
    assert first is not None and bootstrap.has_root_credential(fc.core)
    assert bootstrap.ensure_root_credential(fc.core) is None  # never shown again
    second = bootstrap.reset_root_credential(fc.core)
    assert second != first
    assert fc.store.state.root_hash is not None and second not in fc.store.state.root_hash
