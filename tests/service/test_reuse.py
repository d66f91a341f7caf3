"""Reuse detection on the verification path, on the in-memory store: which refused secrets
the engine queues for the service's report (``Engine.report_reuses``), and what bounds the
queue. The report itself acts on the real store: tests/lifecycle/test_reuse*.py."""

from __future__ import annotations

import pytest

from tests.service.fakes import FakeCore, fake_core, verify_code
from tests.service.support import ROOT, issued
from tokenward.domain import secrets as secret_format
from tokenward.domain.errors import Unavailable
from tokenward.domain.verification import VerifyCode
from tokenward.service import tokens
from tokenward.verification import reuse as engine_reuse


@pytest.fixture
def fc() -> FakeCore:
    return fake_core()


def rotate(fc: FakeCore, token_id: int, grace: int = 0) -> str:
    secret = tokens.rotate(
        fc.core, ROOT, tenant="default", token_id=token_id, grace_seconds=grace
    ).secret
    fc.engine.sync()  # what the server's timer does: the rotation reaches the filters
    return secret


def queued(fc: FakeCore) -> list[str]:
    """What the composition root's job would hand to the service now."""
    got: list[str] = []
    fc.engine.report_reuses(lambda secret_hash: got.append(secret_hash) is None)
    return got


def test_a_rotated_out_secret_presented_again_is_queued_once_an_hour(fc: FakeCore) -> None:
    made = issued(fc.core)
    rotate(fc, made.token.id)
    old = secret_format.hash_secret(made.secret)
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND  # the answer as before
    assert fc.engine.reuses_pending()
    assert queued(fc) == [old]
    for _ in range(5):  # a replay loop: the answer stays, nothing more is queued
        assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert not fc.engine.reuses_pending()
    fc.clock.advance(3600)
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert queued(fc) == [old]


def test_within_its_grace_an_old_secret_is_valid_and_not_queued(fc: FakeCore) -> None:
    made = issued(fc.core)
    current = rotate(fc, made.token.id, grace=60)
    assert verify_code(fc.core, made.secret) is VerifyCode.VALID
    assert verify_code(fc.core, current) is VerifyCode.VALID
    assert queued(fc) == []
    fc.clock.advance(60)  # the cached entry's grace ends: NOT_FOUND from the cache
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert queued(fc) == [secret_format.hash_secret(made.secret)]


def test_unknown_secrets_are_not_queued(fc: FakeCore) -> None:
    made = issued(fc.core)
    rotate(fc, made.token.id)
    for _ in range(2000):
        assert verify_code(fc.core, secret_format.generate()) is VerifyCode.NOT_FOUND
    assert queued(fc) == []
    assert fc.engine.retired.queued == 0


def test_a_flood_of_hits_is_queued_within_the_budget(fc: FakeCore) -> None:
    made = issued(fc.core)
    old = [made.secret]
    for _ in range(engine_reuse.BUDGET + 5):
        old.append(rotate(fc, made.token.id))
    for secret in old[:-1]:
        assert verify_code(fc.core, secret) is VerifyCode.NOT_FOUND
    assert len(queued(fc)) == engine_reuse.BUDGET
    assert fc.engine.retired.dropped == 5
    fc.clock.advance(60)  # a new minute: what was refused a place is queued now
    for secret in old[-6:-1]:
        assert verify_code(fc.core, secret) is VerifyCode.NOT_FOUND
    assert len(queued(fc)) == 5


def test_what_an_unavailable_store_leaves_is_tried_again(fc: FakeCore) -> None:
    made = issued(fc.core)
    second = rotate(fc, made.token.id)
    rotate(fc, made.token.id)
    verify_code(fc.core, made.secret)
    verify_code(fc.core, second)

    def unavailable(secret_hash: str) -> bool:
        raise Unavailable("the store is down")

    with pytest.raises(Unavailable):
        fc.engine.report_reuses(unavailable)
    kept = [secret_format.hash_secret(s) for s in (made.secret, second)]
    assert queued(fc) == kept

    fc.clock.advance(3600)  # queued again once the hour is over

    def broken(secret_hash: str) -> bool:
        raise RuntimeError("a bug")

    verify_code(fc.core, made.secret)
    verify_code(fc.core, second)
    with pytest.raises(RuntimeError):
        fc.engine.report_reuses(broken)
    assert queued(fc) == kept[1:]  # the hash that broke it is not retried forever


def test_a_kept_copy_is_caught_after_the_known_secrets_filter_is_rebuilt(fc: FakeCore) -> None:
    """A rebuilt known-secrets filter (a restart, a saturated filter) holds the kept hashes
    too: the copy reaches the store read, not a refusal by the filter alone."""
    made = issued(fc.core)
    rotate(fc, made.token.id)
    fc.engine.known_secrets.load()
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert queued(fc) == [secret_format.hash_secret(made.secret)]


def test_a_hash_the_service_did_not_report_is_queued_again_when_presented_again(
    fc: FakeCore,
) -> None:
    """Not reported (still in flight at the rotation, a false positive of the filter, one
    another process reported): presented again, it is queued again, so that a kept copy
    replayed just after its rotation is caught at its next replay, not an hour later."""
    made = issued(fc.core)
    rotate(fc, made.token.id)
    old = secret_format.hash_secret(made.secret)
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert fc.engine.report_reuses(lambda secret_hash: False) == 0
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert queued(fc) == [old]  # reported this time (the helper answers True)
    assert verify_code(fc.core, made.secret) is VerifyCode.NOT_FOUND
    assert not fc.engine.reuses_pending()  # and then once an hour, as before
