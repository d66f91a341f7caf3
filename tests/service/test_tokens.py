"""The token use cases on the in-memory store: each rule once, no database, no HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.service.fakes import FakeCore, fake_core, verify_code
from tests.service.support import ROOT, caller, issued
from tokenward.domain import secrets as secret_format
from tokenward.domain.audit import AuditQuery
from tokenward.domain.errors import Conflict, Forbidden, Invalid, NotFound
from tokenward.domain.roles import Role
from tokenward.domain.tokens import PageRequest, RateLimit, TokenChanges, TokenQuery, TokenSpec
from tokenward.domain.verification import VerifyCode
from tokenward.service import audit, tenants, tokens


@pytest.fixture
def fc() -> FakeCore:
    return fake_core()


def actions(fc: FakeCore) -> list[str]:
    """The audit trail's actions, oldest first."""
    page = audit.search(fc.core, ROOT, page=PageRequest(0, 1000))
    return [record.action for record in reversed(page.items)]


def test_issue_stores_the_hash_and_hint_only_and_the_secret_verifies(fc: FakeCore) -> None:
    made = issued(fc.core, name="ci", scopes=("read", "read"), role=Role.EDITOR)
    stored = fc.store.state.tokens[made.token.id]
    assert stored.secret_hash == secret_format.hash_secret(made.secret) != made.secret
    assert made.secret not in repr(stored)
    assert stored.scopes == ("read",)  # repeated words once
    assert stored.owner == stored.user == "root"
    assert verify_code(fc.core, made.secret) is VerifyCode.VALID
    assert actions(fc) == ["token.issue"]


def test_issue_needs_an_existing_tenant_and_an_editor(fc: FakeCore) -> None:
    with pytest.raises(NotFound):
        issued(fc.core, "nowhere")
    viewer = caller(fc.core, Role.VIEWER)
    before = fc.store.commits
    with pytest.raises(Forbidden):
        issued(fc.core, by=viewer)
    assert fc.store.commits == before  # a refusal commits nothing


def test_a_unique_name_is_a_conflict_where_the_face_asks_for_one(fc: FakeCore) -> None:
    spec = TokenSpec(name="deploy")
    tokens.issue(fc.core, ROOT, tenant="default", spec=spec, unique_name=True)
    with pytest.raises(Conflict) as refused:
        tokens.issue(fc.core, ROOT, tenant="default", spec=spec, unique_name=True)
    assert refused.value.code == "NAME_TAKEN"
    tokens.issue(fc.core, ROOT, tenant="default", spec=spec)  # the native face allows two


def test_no_expiry_asked_ends_with_an_expiring_caller_and_permanent_is_refused(
    fc: FakeCore,
) -> None:
    ends = fc.clock.now + timedelta(hours=1)
    editor = caller(fc.core, Role.EDITOR, expires_at=ends)
    assert issued(fc.core, by=editor).token.expires_at == ends
    with pytest.raises(Forbidden) as refused:
        issued(fc.core, by=editor, permanent=True)
    assert refused.value.code == "EXPIRY_ESCALATION"


def test_expiry_in_the_past_or_beyond_the_longest_lifetime_is_invalid(fc: FakeCore) -> None:
    with pytest.raises(Invalid, match="future"):
        issued(fc.core, expires_at=fc.clock.now - timedelta(seconds=1))
    with pytest.raises(Invalid, match="days away"):
        issued(fc.core, expires_at=fc.clock.now + timedelta(days=101 * 365))


def test_an_expired_token_verifies_as_expired(fc: FakeCore) -> None:
    made = issued(fc.core, ttl_seconds=60)
    fc.clock.advance(61)
    assert verify_code(fc.core, made.secret) is VerifyCode.EXPIRED


@pytest.mark.parametrize(
    ("granted", "code"),
    [
        ({"role": Role.ADMIN}, "ROLE_ESCALATION"),
        ({"scopes": ("write",)}, "SCOPE_ESCALATION"),
        ({"audience": ("billing",)}, "AUDIENCE_ESCALATION"),
        ({"user": "alice"}, "USER_NOT_ALLOWED"),
    ],
)
def test_an_editor_grants_nothing_beyond_itself(
    fc: FakeCore, granted: dict[str, Any], code: str
) -> None:
    editor = caller(fc.core, Role.EDITOR, scopes=("read",), user="bob")
    with pytest.raises(Forbidden) as refused:
        issued(fc.core, by=editor, **granted)
    assert refused.value.code == code


def test_an_editor_issues_for_no_other_owner_an_admin_does(fc: FakeCore) -> None:
    editor = caller(fc.core, Role.EDITOR, user="bob")
    with pytest.raises(Forbidden) as refused:
        tokens.issue(fc.core, editor, tenant="default", spec=TokenSpec(name="x"), owner="carol")
    assert refused.value.code == "OWNER_NOT_ALLOWED"
    admin = caller(fc.core, Role.ADMIN, user="ann")
    made = tokens.issue(fc.core, admin, tenant="default", spec=TokenSpec(name="x"), owner="carol")
    assert made.token.owner == "carol"


def test_another_tenants_token_is_not_found_for_every_use_case(fc: FakeCore) -> None:
    tenants.create(fc.core, ROOT, name="acme")
    theirs = issued(fc.core, "acme").token
    mine = caller(fc.core, Role.ADMIN)
    for use_case in (tokens.get, tokens.disable, tokens.enable, tokens.delete, tokens.reveal):
        with pytest.raises(NotFound):
            use_case(fc.core, mine, tenant="acme", token_id=theirs.id)
        with pytest.raises(NotFound):  # nor through its own tenant's path
            use_case(fc.core, mine, tenant="default", token_id=theirs.id)
    assert tokens.revoke(fc.core, mine, secret=issued(fc.core, "acme").secret) is False


def test_rotation_with_grace_keeps_the_old_secret_until_it_retires(fc: FakeCore) -> None:
    made = issued(fc.core)
    rotated = tokens.rotate(
        fc.core, ROOT, tenant="default", token_id=made.token.id, grace_seconds=60
    )
    assert rotated.secret != made.secret
    assert verify_code(fc.core, rotated.secret) is VerifyCode.VALID
    assert verify_code(fc.core, made.secret) is VerifyCode.VALID
    fc.clock.advance(60)
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert verify_code(fc.core, rotated.secret) is VerifyCode.VALID
    assert actions(fc)[-1] == "token.rotate"


def test_rotation_without_grace_and_a_later_one_end_every_earlier_grace(fc: FakeCore) -> None:
    made = issued(fc.core)
    token_id = made.token.id
    second = tokens.rotate(fc.core, ROOT, tenant="default", token_id=token_id, grace_seconds=3600)
    third = tokens.rotate(fc.core, ROOT, tenant="default", token_id=token_id, grace_seconds=10)
    fc.clock.advance(11)  # the first secret's hour is cut to the second rotation's ten seconds
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert verify_code(fc.core, second.secret) is VerifyCode.NOT_FOUND
    fourth = tokens.rotate(fc.core, ROOT, tenant="default", token_id=token_id)
    assert verify_code(fc.core, third.secret) is VerifyCode.NOT_FOUND
    assert verify_code(fc.core, fourth.secret) is VerifyCode.VALID


def test_a_rotation_keeps_the_prefix_and_is_refused_beyond_the_caller(fc: FakeCore) -> None:
    made = tokens.issue(
        fc.core, ROOT, tenant="default", spec=TokenSpec(name="b"), secret_prefix="bft"
    )
    rotated = tokens.rotate(fc.core, ROOT, tenant="default", token_id=made.token.id)
    assert secret_format.prefix_of(rotated.token.secret_hint) == "bft"
    viewer_token = issued(fc.core, scopes=("admin:all",)).token
    editor = caller(fc.core, Role.EDITOR, user="root")
    with pytest.raises(Forbidden):  # handing the editor a secret with scopes it lacks
        tokens.rotate(fc.core, editor, tenant="default", token_id=viewer_token.id)


def test_update_changes_only_the_given_fields(fc: FakeCore) -> None:
    made = issued(fc.core, name="old", description="kept", scopes=("a", "b"))
    changed = tokens.update(
        fc.core,
        ROOT,
        tenant="default",
        token_id=made.token.id,
        changes=TokenChanges(name="new", scopes=("a",)),
    )
    assert (changed.name, changed.description, changed.scopes) == ("new", "kept", ("a",))
    assert changed.updated_at == fc.clock.now
    assert verify_code(fc.core, made.secret, scopes=("b",)) is VerifyCode.INSUFFICIENT_SCOPE


def test_an_update_that_narrows_needs_the_right_to_change_one_that_widens_the_whole_result(
    fc: FakeCore,
) -> None:
    editor = caller(fc.core, Role.EDITOR, scopes=("read",), user="root")
    wide = issued(fc.core, scopes=("read", "write")).token
    narrowed = tokens.update(
        fc.core, editor, tenant="default", token_id=wide.id, changes=TokenChanges(scopes=("read",))
    )
    assert narrowed.scopes == ("read",)
    with pytest.raises(Forbidden) as refused:
        tokens.update(
            fc.core,
            editor,
            tenant="default",
            token_id=wide.id,
            changes=TokenChanges(scopes=("read", "write")),
        )
    assert refused.value.code == "SCOPE_ESCALATION"
    admin_token = issued(fc.core, role=Role.ADMIN).token
    with pytest.raises(Forbidden):  # an editor changes no admin token, even to narrow it
        tokens.update(
            fc.core,
            editor,
            tenant="default",
            token_id=admin_token.id,
            changes=TokenChanges(name="x"),
        )


def test_an_update_to_a_restricted_admin_is_invalid(fc: FakeCore) -> None:
    made = issued(fc.core, role=Role.ADMIN).token
    with pytest.raises(Invalid):
        tokens.update(
            fc.core, ROOT, tenant="default", token_id=made.id, changes=TokenChanges(restricted=True)
        )


def test_disable_and_enable(fc: FakeCore) -> None:
    made = issued(fc.core)
    tokens.disable(fc.core, ROOT, tenant="default", token_id=made.token.id)
    assert verify_code(fc.core, made.secret) is VerifyCode.DISABLED
    tokens.enable(fc.core, ROOT, tenant="default", token_id=made.token.id)
    assert verify_code(fc.core, made.secret) is VerifyCode.VALID
    assert actions(fc)[-2:] == ["token.disable", "token.enable"]


def test_enabling_puts_a_token_back_in_force_so_it_must_be_within_the_caller(fc: FakeCore) -> None:
    editor = caller(fc.core, Role.EDITOR, user="root")
    theirs = issued(fc.core, scopes=("write",), active=False).token
    with pytest.raises(Forbidden):
        tokens.enable(fc.core, editor, tenant="default", token_id=theirs.id)
    assert tokens.disable(fc.core, editor, tenant="default", token_id=theirs.id).active is False


def test_revoke_by_secret_disables_and_says_nothing_of_unknown_ones(fc: FakeCore) -> None:
    made = issued(fc.core)
    assert tokens.revoke(fc.core, ROOT, secret="not a secret") is False
    assert tokens.revoke(fc.core, ROOT, secret=secret_format.generate()) is False
    assert tokens.revoke(fc.core, ROOT, secret=made.secret) is True
    assert verify_code(fc.core, made.secret) is VerifyCode.DISABLED


def test_reveal_opens_the_sealed_copy_of_a_recoverable_token_only(fc: FakeCore) -> None:
    kept = issued(fc.core, recoverable=True)
    assert fc.store.state.tokens[kept.token.id].sealed_secret != kept.secret.encode()
    assert tokens.reveal(fc.core, ROOT, tenant="default", token_id=kept.token.id) == kept.secret
    assert actions(fc)[-1] == "token.reveal"
    lost = issued(fc.core).token
    with pytest.raises(Conflict) as refused:
        tokens.reveal(fc.core, ROOT, tenant="default", token_id=lost.id)
    assert refused.value.code == "NOT_RECOVERABLE"


def test_an_editor_reveals_only_what_it_owns(fc: FakeCore) -> None:
    editor = caller(fc.core, Role.EDITOR, user="bob")
    own = issued(fc.core, by=editor, recoverable=True)
    assert tokens.reveal(fc.core, editor, tenant="default", token_id=own.token.id) == own.secret
    others = issued(fc.core, recoverable=True).token
    with pytest.raises(Forbidden):
        tokens.reveal(fc.core, editor, tenant="default", token_id=others.id)


def test_delete_returns_the_token_and_its_secret_stops_at_once(fc: FakeCore) -> None:
    made = issued(fc.core)
    assert verify_code(fc.core, made.secret) is VerifyCode.VALID  # cached now
    gone = tokens.delete(fc.core, ROOT, tenant="default", token_id=made.token.id)
    assert gone.id == made.token.id
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    with pytest.raises(NotFound):
        tokens.get(fc.core, ROOT, tenant="default", token_id=made.token.id)
    assert actions(fc)[-1] == "token.delete"


def test_search_filters_sorts_and_pages(fc: FakeCore) -> None:
    for name in ("beta", "Alpha", "gamma"):
        issued(fc.core, name=name)
        fc.clock.advance(1)
    page = tokens.search(
        fc.core, ROOT, tenant="default", query=TokenQuery(name_contains="A"), page=PageRequest(0, 2)
    )
    assert page.total == 3 and [t.name for t in page.items] == ["beta", "Alpha"]
    assert tokens.find_by_name(fc.core, ROOT, tenant="default", name="gamma") is not None
    issued(fc.core, name="gamma")
    with pytest.raises(Conflict):
        tokens.find_by_name(fc.core, ROOT, tenant="default", name="gamma")


def test_last_use_is_buffered_then_flushed(fc: FakeCore) -> None:
    made = issued(fc.core)
    verify_code(fc.core, made.secret)
    assert fc.store.state.tokens[made.token.id].last_used_at is None
    fc.engine.flush_usage()
    assert fc.engine.flush() == 1
    assert fc.store.state.tokens[made.token.id].last_used_at == fc.clock.now


def test_restore_is_root_only_and_refuses_a_stored_secret(fc: FakeCore) -> None:
    made = issued(fc.core).token
    editor = caller(fc.core, Role.EDITOR)
    with pytest.raises(Forbidden):
        tokens.restore(fc.core, editor, token=made)
    with pytest.raises(Conflict) as refused:
        tokens.restore(fc.core, ROOT, token=made)
    assert refused.value.code == "ALREADY_STORED"
    assert audit.search(fc.core, ROOT, query=AuditQuery(action="token.import")).total == 0


def test_a_rate_limit_ranks_before_the_request_yet_only_what_passes_all_counts(
    fc: FakeCore,
) -> None:
    """Codes rank disabled/expired, then the controls, then the audience and scopes; but a
    verification the audience refuses counts against no limit."""
    made = issued(
        fc.core, name="limited", audience=("api",), rate_limits=(RateLimit("hour", 2, 3600),)
    )
    wrong = {"audience": "elsewhere"}
    for _ in range(5):  # refused by the audience: none of these counts
        assert verify_code(fc.core, made.secret, **wrong) is VerifyCode.AUDIENCE_MISMATCH
    assert verify_code(fc.core, made.secret, audience="api") is VerifyCode.VALID
    assert verify_code(fc.core, made.secret, audience="api") is VerifyCode.VALID
    # Over the limit: its code, whatever the request asks.
    assert verify_code(fc.core, made.secret, **wrong) is VerifyCode.RATE_LIMITED
    assert verify_code(fc.core, made.secret, audience="api") is VerifyCode.RATE_LIMITED
    tokens.disable(fc.core, ROOT, tenant="default", token_id=made.token.id)
    assert verify_code(fc.core, made.secret, **wrong) is VerifyCode.DISABLED
