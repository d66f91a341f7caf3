"""Revocation reaches every process: two verification engines on one database stand for two
processes."""

from __future__ import annotations

from tests.helpers import tenant
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import TokenChanges, TokenSpec
from tokenward.domain.verification import VerifyCode
from tokenward.service import tenants, tokens
from tokenward.service.core import Core
from tokenward.verification import Engine

ROOT = Actor.root()


def test_cached_token_is_dropped_when_another_process_changes_it(
    core: Core, verifier: Engine, other: Engine
) -> None:
    verifier.start()
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t", scopes=("a",)))
    secret, token_id = issued.secret, issued.token.id
    other.sync()  # the creation is logged too
    assert other.verify(secret).code is VerifyCode.VALID  # now cached in "other"

    tokens.disable(core, ROOT, tenant="default", token_id=token_id)
    assert verifier.verify(secret).code is VerifyCode.DISABLED  # the changer's cache: at once
    assert other.verify(secret).code is VerifyCode.VALID  # still cached, until it syncs
    assert other.sync() == 1
    assert other.verify(secret).code is VerifyCode.DISABLED

    tokens.enable(core, ROOT, tenant="default", token_id=token_id)
    other.sync()
    assert other.verify(secret, scopes=["a"]).code is VerifyCode.VALID
    tokens.update(core, ROOT, tenant="default", token_id=token_id, changes=TokenChanges(scopes=()))
    other.sync()
    assert other.verify(secret, scopes=["a"]).code is VerifyCode.INSUFFICIENT_SCOPE

    rotated = tokens.rotate(core, ROOT, tenant="default", token_id=token_id)
    other.sync()
    assert other.verify(secret).code is VerifyCode.NOT_FOUND
    assert other.verify(rotated.secret).code is VerifyCode.VALID

    tokens.delete(core, ROOT, tenant="default", token_id=token_id)
    other.sync()
    assert other.verify(rotated.secret).code is VerifyCode.NOT_FOUND


def test_tenant_deletion_clears_other_caches(core: Core, other: Engine) -> None:
    tenant(core, "gone")
    secret = tokens.issue(core, ROOT, tenant="gone", spec=TokenSpec(name="t")).secret
    assert other.verify(secret).code is VerifyCode.VALID
    tenants.delete(core, ROOT, name="gone")
    other.sync()
    assert other.verify(secret).code is VerifyCode.NOT_FOUND


def test_log_is_pruned(core: Core, verifier: Engine) -> None:
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t"))
    verifier.start()
    tokens.disable(core, ROOT, tenant="default", token_id=issued.token.id)
    verifier.prune_changes(keep_seconds=-1)
    with core.uow() as uow:
        assert uow.changes.since(0) == ([], 0)


def test_the_sync_timer_is_spared_only_while_nothing_was_committed(
    core: Core, other: Engine, database_url: str
) -> None:
    """On SQLite an idle store needs no read of the change log; on PostgreSQL, where no cheap
    version exists, every tick reads it."""
    issued = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="t"))
    assert other.changes_may_be_pending()
    other.sync()
    sqlite = database_url.startswith("sqlite")
    assert other.changes_may_be_pending() is not sqlite
    tokens.disable(core, ROOT, tenant="default", token_id=issued.token.id)
    assert other.changes_may_be_pending()  # a commit elsewhere: the next tick reads the log
    assert other.sync() == 1
    assert other.verify(issued.secret).code is VerifyCode.DISABLED
    assert other.changes_may_be_pending() is not sqlite
