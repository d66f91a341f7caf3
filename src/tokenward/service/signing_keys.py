"""The signing keys of the token exchange: made, rotated, dropped, and loaded into a ring.

Every process of an installation reads the keys from the store (``refresh``, at start and on
a timer shorter than the JWKS cache period), so all of them sign with, and publish, the same
keys; ``tokenward.signing.schedule`` decides from the rows alone which key does what. The
private parts are sealed under the key-encryption key, like recoverable secrets.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from tokenward.domain import policy
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditEntry
from tokenward.domain.errors import Conflict
from tokenward.service.core import Core
from tokenward.service.sealing import SealError
from tokenward.signing import keys as signing_keys
from tokenward.signing.keys import SigningKey, StoredKey
from tokenward.signing.ring import KeyRing
from tokenward.signing.schedule import Schedule

log = logging.getLogger("tokenward.signing")


def refresh(core: Core, ring: KeyRing, *, algorithm: str) -> None:
    """Makes the first key, or the one a rotation is due for; drops retired keys; and hands
    the ring the current set. Safe in every process at once: a second maker of the same
    generation conflicts and reads the winner's key instead."""
    schedule = ring.schedule
    now = core.clock()
    held = {key.kid: key for key in ring.keys}
    loaded = _loaded(core, held)
    usable = [key for key in loaded if key.private is not None]
    if schedule.rotation_due(usable, now):
        _add(core, schedule, loaded, usable, algorithm=algorithm, now=now)
        loaded = _loaded(core, held)
    retired = schedule.retired(loaded, now)
    if retired:
        with core.uow(write=True) as uow:
            uow.signing_keys.delete([key.kid for key in retired])
            uow.commit()
        gone = {key.kid for key in retired}
        loaded = [key for key in loaded if key.kid not in gone]
    ring.replace(loaded)


def rotate(core: Core, actor: Actor, schedule: Schedule, *, algorithm: str) -> SigningKey:
    """A new key now, whatever the schedule says; it signs after a cache period's notice
    (the keys of tokens already issued stay published until those expire). Root only; the
    audit trail records it (``signing_key.rotate``, no tenant)."""
    policy.require_root(actor, "rotate the signing keys")
    now = core.clock()
    loaded = _loaded(core, {})
    usable = [key for key in loaded if key.private is not None]
    audit = AuditEntry(
        at=now,
        tenant=None,
        actor=actor.label,
        action="signing_key.rotate",
        token_id=None,
        client=actor.client,
    )
    made = _add(core, schedule, loaded, usable, algorithm=algorithm, now=now, audit=audit)
    if made is None:
        raise Conflict("another process made a signing key at the same moment; try again")
    return made


def _stored(core: Core) -> list[StoredKey]:
    with core.uow() as uow:
        return uow.signing_keys.list()


def _loaded(core: Core, held: dict[str, SigningKey]) -> list[SigningKey]:
    """The stored keys, opened (those the ring holds already are not opened again).

    A key sealed under another key-encryption key (the key was replaced) cannot sign here;
    unlike a recoverable secret it is no loss: it stays published until its tokens expire
    and a new key takes over (``_add``)."""
    loaded = []
    for stored in _stored(core):
        key = held.get(stored.kid)
        if key is None:
            try:
                key = signing_keys.unseal(stored, core.sealer)
            except SealError:
                log.warning(
                    "signing key %s does not open under this key-encryption key; it will not sign",
                    stored.kid,
                )
                key = signing_keys.public_only(stored)
        loaded.append(key)
    return loaded


def _add(
    core: Core,
    schedule: Schedule,
    loaded: list[SigningKey],
    usable: list[SigningKey],
    *,
    algorithm: str,
    now: datetime,
    audit: AuditEntry | None = None,
) -> SigningKey | None:
    """A key of the next generation. It gets a cache period's notice, unless no usable key
    exists to sign meanwhile (the first key; or every key sealed under a lost key)."""
    key = signing_keys.generate(
        algorithm,
        generation=schedule.next_generation(loaded),
        created_at=now,
        activates_at=schedule.activation_of_new_key(usable, now),
    )
    try:
        with core.uow(write=True) as uow:
            uow.signing_keys.add(signing_keys.seal(key, core.sealer))
            if audit is not None:
                detail = {
                    "kid": key.kid,
                    "alg": key.alg,
                    "activates_at": key.activates_at.isoformat(),
                }
                uow.audit.add(dataclasses.replace(audit, detail=detail))
            uow.commit()
    except Conflict:
        return None  # another process made this generation first: its key is the one
    return key


def listed(core: Core) -> list[StoredKey]:
    """The stored keys, oldest first (their sealed parts stay sealed)."""
    return _stored(core)
