"""``tokens.get_with_secret`` decides by reading: a masked answer opens no write transaction
and writes no audit record; a shown secret does both, once."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditQuery
from tokenward.domain.roles import Role
from tokenward.domain.tokens import TokenSpec
from tokenward.service import audit, tenants, tokens
from tokenward.service.core import Core
from tokenward.service.ports import UnitOfWork, UnitOfWorkFactory


@dataclass
class Recording:
    """The store's unit-of-work factory, noting for each unit whether it was a write."""

    inner: UnitOfWorkFactory
    writes: list[bool] = field(default_factory=list)

    def __call__(self, *, write: bool = False, may_lag: bool = False) -> UnitOfWork:
        self.writes.append(write)
        return self.inner(write=write, may_lag=may_lag)

    def write_problem(self) -> str | None:
        return self.inner.write_problem()


def reveals(core: Core) -> int:
    trail = audit.search(core, Actor.root(), query=AuditQuery(tenant="acme"))
    return sum(1 for entry in trail.items if entry.action == "token.reveal")


def test_a_masked_reading_writes_nothing(core: Core) -> None:
    root = Actor.root()
    tenants.create(core, root, name="acme")
    kept = tokens.issue(core, root, tenant="acme", spec=TokenSpec(name="k", recoverable=True))
    plain = tokens.issue(core, root, tenant="acme", spec=TokenSpec(name="p"))
    viewer = Actor(
        identity="v",
        role=Role.VIEWER,
        tenant="acme",
        scopes=frozenset(),
        expires_at=None,
        token_id=99,
    )
    recording = Recording(core.uow)
    core.uow = recording

    for actor, issued in ((viewer, kept), (root, plain)):
        token, secret = tokens.get_with_secret(core, actor, tenant="acme", token_id=issued.token.id)
        assert secret is None and token.id == issued.token.id
    assert recording.writes and not any(recording.writes)
    assert reveals(core) == 0

    recording.writes.clear()
    _, secret = tokens.get_with_secret(core, root, tenant="acme", token_id=kept.token.id)
    assert secret == kept.secret
    assert recording.writes.count(True) == 1
    assert reveals(core) == 1
