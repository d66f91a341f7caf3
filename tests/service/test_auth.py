"""Authentication of management callers on the in-memory store."""

from __future__ import annotations

import pytest

from tests.service.fakes import fake_core
from tests.service.support import ROOT, issued
from tokenward.domain import secrets as secret_format
from tokenward.domain.errors import Unauthenticated
from tokenward.domain.roles import Role
from tokenward.service import auth, tokens


def test_the_operators_root_credential_and_management_tokens_authenticate() -> None:
    operator = "operator-root-credential-0123456789abcdef"
    fc = fake_core(admin_token_hash=secret_format.hash_secret(operator))
    assert auth.authenticate(fc.core, operator).is_root
    manager = issued(fc.core, role=Role.ADMIN, audience=("tokenward",))
    actor = auth.authenticate(fc.core, manager.secret, client="192.0.2.1")
    assert (actor.role, actor.token_id, actor.client) == (Role.ADMIN, manager.token.id, "192.0.2.1")


def test_a_token_without_the_management_audience_or_disabled_does_not_authenticate() -> None:
    fc = fake_core()
    service_token = issued(fc.core, role=Role.ADMIN, audience=("billing",))
    manager = issued(fc.core, role=Role.ADMIN, audience=("tokenward",))
    auth.authenticate(fc.core, manager.secret)
    tokens.disable(fc.core, ROOT, tenant="default", token_id=manager.token.id)
    for refused in (service_token.secret, manager.secret, None, "", "garbage"):
        with pytest.raises(Unauthenticated, match=r"^(the credential is not valid|a bearer)"):
            auth.authenticate(fc.core, refused)
