"""The signing keys in the store, on SQLite and PostgreSQL: made once however many processes
start together, sealed at rest, rotated with notice, and replaced when the key-encryption key
that sealed them is gone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization

from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditQuery
from tokenward.domain.tokens import PageRequest
from tokenward.service import signing_keys
from tokenward.service.core import Core
from tokenward.service.sealing import Sealer
from tokenward.signing.ring import KeyRing
from tokenward.signing.schedule import Schedule

T0 = datetime(2026, 6, 1, tzinfo=UTC)
SCHEDULE = Schedule(cache=timedelta(minutes=10), rotate_every=timedelta(days=30))


def _ring(core: Core) -> KeyRing:
    return KeyRing(SCHEDULE, core.clock)


def test_processes_starting_together_make_one_key(core: Core) -> None:
    core.clock = lambda: T0
    rings = [_ring(core) for _ in range(4)]
    threads = [
        threading.Thread(
            target=signing_keys.refresh, args=(core, ring), kwargs={"algorithm": "EdDSA"}
        )
        for ring in rings
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(signing_keys.listed(core)) == 1
    assert len({ring.signer().kid for ring in rings}) == 1
    assert rings[0].signer().activates_at == T0  # the first key signs at once


def test_private_keys_are_sealed_at_rest(core: Core) -> None:
    ring = _ring(core)
    signing_keys.refresh(core, ring, algorithm="ES256")
    key = ring.signer()
    assert key.alg == "ES256" and key.jwk["crv"] == "P-256" and "d" not in key.jwk
    assert key.private is not None
    raw = key.private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (stored,) = signing_keys.listed(core)
    assert b"PRIVATE KEY" not in stored.sealed_private
    assert raw[-32:] not in stored.sealed_private  # the scalar itself is not there either


def test_rotation_gives_notice_and_keeps_the_old_key_published(core: Core) -> None:
    now = [T0]
    core.clock = lambda: now[0]
    ring = _ring(core)
    signing_keys.refresh(core, ring, algorithm="EdDSA")
    first = ring.signer()
    made = signing_keys.rotate(core, Actor.root("cli"), SCHEDULE, algorithm="EdDSA")
    signing_keys.refresh(core, ring, algorithm="EdDSA")
    assert ring.signer().kid == first.kid  # published, not signing yet
    assert {key["kid"] for key in ring.jwks()["keys"]} == {first.kid, made.kid}
    now[0] = T0 + SCHEDULE.cache
    assert ring.signer().kid == made.kid
    now[0] = T0 + SCHEDULE.cache + timedelta(hours=1, minutes=5)  # its last tokens expired
    signing_keys.refresh(core, ring, algorithm="EdDSA")
    assert [key["kid"] for key in ring.jwks()["keys"]] == [made.kid]
    assert [key.kid for key in signing_keys.listed(core)] == [made.kid]  # deleted from the store
    with core.uow() as uow:
        records = uow.audit.search(AuditQuery(action="signing_key.rotate"), PageRequest()).items
    assert [(r.actor, r.detail["kid"]) for r in records] == [("root", made.kid)]


def test_rotation_is_automatic_when_due(core: Core) -> None:
    now = [T0]
    core.clock = lambda: now[0]
    ring = _ring(core)
    signing_keys.refresh(core, ring, algorithm="EdDSA")
    now[0] = T0 + timedelta(days=30)
    signing_keys.refresh(core, ring, algorithm="EdDSA")
    assert [key.generation for key in signing_keys.listed(core)] == [1, 2]


def test_keys_sealed_under_a_lost_key_stay_published_and_a_new_one_signs(core: Core) -> None:
    core.clock = lambda: T0
    signing_keys.refresh(core, _ring(core), algorithm="EdDSA")
    (lost,) = signing_keys.listed(core)
    core.sealer = Sealer(b"another-key-encryption-key-0123456789abcdef")
    ring = _ring(core)
    signing_keys.refresh(core, ring, algorithm="EdDSA")
    assert ring.signer().kid != lost.kid
    assert ring.signer().activates_at == T0  # nothing else can sign meanwhile
    assert lost.kid in {key["kid"] for key in ring.jwks()["keys"]}
