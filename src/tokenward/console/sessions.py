"""Console sessions: a random id in the browser's cookie, everything else in the store.

The store keeps only the SHA-256 of the id, and the credential the operator pasted, sealed
under the server's key (``service/sealing.py``) and bound to that hash, so a sealed copy
moved onto another session does not open. Every request opens it and authenticates it again
through ``service.auth.authenticate``, the API's own rule: a token that is disabled,
deleted, expired or rotated out ends its sessions at the next request, and the console acts
with exactly the rights the credential has now. The credential is never in a cookie, a URL,
the page or a log.

Kept in the store, sessions survive a restart and are shared by every worker and server.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from tokenward.domain.actors import Actor
from tokenward.domain.errors import Unauthenticated
from tokenward.service import auth
from tokenward.service.core import Core
from tokenward.service.sealing import SealError

#: The last use is written at most this often, not on every page.
TOUCH_EVERY = timedelta(seconds=60)


class SessionStore(Protocol):
    """Implemented by ``tokenward.store.console_sessions.SqlConsoleSessions``."""

    def add(self, id_hash: str, *, sealed_credential: bytes, actor: str, now: datetime) -> None: ...

    def get(self, id_hash: str) -> tuple[bytes, datetime, datetime] | None:
        """The sealed credential, the sign-in time and the last use."""
        ...

    def touch(self, id_hash: str, now: datetime) -> None: ...

    def remove(self, id_hash: str) -> None: ...

    def remove_stale(self, *, idle_before: datetime, created_before: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Lifetimes:
    idle: timedelta
    max_age: timedelta


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    actor: Actor


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def sign_in(core: Core, store: SessionStore, credential: str, *, client: str | None) -> Session:
    """Authenticates like the API (failures count towards the address's limit) and opens
    a session for the credential."""
    actor = auth.authenticate(core, credential, client=client)
    session_id = secrets.token_urlsafe(32)
    hashed = id_hash(session_id)
    store.add(
        hashed,
        sealed_credential=core.sealer.seal(credential, bound_to=hashed),
        actor=actor.label,
        now=core.clock(),
    )
    return Session(session_id, actor)


def resume(
    core: Core,
    store: SessionStore,
    session_id: str,
    lifetimes: Lifetimes,
    *,
    client: str | None,
) -> Session | None:
    """The session's actor as its credential stands now; None (and the session removed)
    when it has timed out or its credential no longer authenticates."""
    hashed = id_hash(session_id)
    found = store.get(hashed)
    if found is None:
        return None
    sealed, created_at, last_seen_at = found
    now = core.clock()
    if now - last_seen_at >= lifetimes.idle or now - created_at >= lifetimes.max_age:
        store.remove(hashed)
        return None
    try:
        credential = core.sealer.open(sealed, bound_to=hashed)
        actor = auth.authenticate(core, credential, client=client)
    except (SealError, Unauthenticated):
        store.remove(hashed)
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        store.touch(hashed, now)
        store.remove_stale(idle_before=now - lifetimes.idle, created_before=now - lifetimes.max_age)
    return Session(session_id, actor)


def sign_out(store: SessionStore, session_id: str) -> None:
    store.remove(id_hash(session_id))
