"""Sealing of recoverable secrets with AES-256-GCM under a ring of key-encryption keys.

A sealed blob names the key that sealed it, so that several keys can coexist while
``tokenward keys rotate`` re-seals the store under a new one. Blobs sealed before the ring
existed carry no key id: they belong to the legacy key (``TOKENWARD_SECRET_KEY`` or the data
directory's ``secret.key``), and a ring whose only key is the legacy one still seals that way,
so that a store nobody rotated reads the same as before.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tokenward.domain import secrets as secret_format
from tokenward.domain.errors import SealError

__all__ = ["SealError", "Sealer", "opens"]

if TYPE_CHECKING:  # the command line's --help loads this module: nothing more than it needs
    from tokenward.service.ports import RowId, UnitOfWorkFactory

log = logging.getLogger("tokenward.keys")

_LEGACY_VERSION = b"\x01"
_RING_VERSION = b"\x02"
_NONCE_BYTES = 12
#: Key ids are this many lowercase hex characters, so that a blob's header has a fixed length
#: and SQL can tell which key sealed a row from its first bytes alone.
KEY_ID_CHARS = 16
#: The key from before the ring: its blobs carry no key id.
LEGACY = ""


def valid_key_id(key_id: str) -> bool:
    return len(key_id) == KEY_ID_CHARS and all(c in "0123456789abcdef" for c in key_id)


def key_id_of(sealed: bytes) -> str | None:
    """The id of the key that sealed ``sealed`` (``LEGACY`` for a blob without one); None
    for a blob of no known format."""
    if sealed[:1] == _LEGACY_VERSION:
        return LEGACY
    if sealed[:1] == _RING_VERSION and len(sealed) > 1 + KEY_ID_CHARS:
        key_id = sealed[1 : 1 + KEY_ID_CHARS].decode("ascii", "replace")
        return key_id if valid_key_id(key_id) else None
    return None


def header_of(key_id: str) -> bytes:
    """The first bytes of every blob sealed under ``key_id``."""
    if key_id == LEGACY:
        return _LEGACY_VERSION
    return _RING_VERSION + key_id.encode("ascii")


def _aead(key_material: bytes) -> AESGCM:
    shortest = secret_format.MIN_OPERATOR_SECRET
    if len(key_material) < shortest:
        raise ValueError(f"the key-encryption key needs at least {shortest} bytes of material")
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tokenward sealed secrets v1"
    ).derive(key_material)
    return AESGCM(key)


class KeySource:
    """Where a running server finds its keys again when the operator adds one: ``stamp`` is
    cheap and changes whenever ``load`` would answer differently."""

    def stamp(self) -> Hashable:
        raise NotImplementedError

    def load(self) -> Mapping[str, bytes]:
        raise NotImplementedError


class Sealer:
    """A ring of keys by id. It seals under the newest key (ids sort by the time they were
    made, and the legacy key is older than all), and opens under whichever key a blob names.

    With a ``source``, the ring reloads when a blob names a key it lacks and, before sealing,
    when the source's stamp changed: a server picks up a key that ``tokenward keys rotate``
    added while it runs, and seals no more under a key that rotation is about to retire.
    """

    def __init__(
        self,
        key_material: bytes | None = None,
        *,
        keys: Mapping[str, bytes] | None = None,
        source: KeySource | None = None,
    ) -> None:
        ring = dict(keys or {})
        if key_material is not None:
            ring[LEGACY] = key_material
        if source is not None and not ring:
            ring = dict(source.load())
        if not ring:
            raise ValueError("a key ring needs at least one key")
        self._source = source
        self._stamp = source.stamp() if source is not None else None
        self._lock = threading.Lock()
        self._set(ring)

    def _set(self, ring: Mapping[str, bytes]) -> None:
        for key_id in ring:
            if key_id != LEGACY and not valid_key_id(key_id):
                raise ValueError(f"not a key id: {key_id!r}")
        self._keys = {key_id: _aead(material) for key_id, material in ring.items()}
        self._active = max(self._keys)

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def reload(self) -> None:
        """Reads the keys again from the source (keeping these when the source has none)."""
        if self._source is None:
            return
        with self._lock:
            self._stamp = self._source.stamp()
            try:
                ring = self._source.load()
            except (OSError, ValueError) as exc:  # a key file being written or moved: later
                log.warning("kept the key ring as it was: reloading it failed: %s", exc)
                return
            if ring:
                self._set(ring)

    def _reload_if_changed(self) -> None:
        if self._source is not None and self._source.stamp() != self._stamp:
            self.reload()

    def seal(self, secret: str, *, bound_to: str) -> bytes:
        """``bound_to`` (the secret's hash) is authenticated data: a sealed secret copied
        onto another record does not open there."""
        self._reload_if_changed()
        key_id = self._active
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[key_id].encrypt(nonce, secret.encode("utf-8"), bound_to.encode("ascii"))
        return header_of(key_id) + nonce + sealed

    def open(self, sealed: bytes, *, bound_to: str) -> str:
        key_id = key_id_of(sealed)
        if key_id is None:
            raise SealError("unknown sealed-secret version")
        if key_id not in self._keys:
            self.reload()
        aead = self._keys.get(key_id)
        if aead is None:
            raise SealError(f"sealed under key {key_id or 'legacy'}, which this ring lacks")
        start = len(header_of(key_id))
        nonce, body = sealed[start : start + _NONCE_BYTES], sealed[start + _NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, bound_to.encode("ascii")).decode("utf-8")
        except InvalidTag as exc:
            raise SealError("sealed secret does not open under this key") from exc


def opens(sealer: Sealer, sample: tuple[str, bytes]) -> bool:
    """Whether ``sealer`` opens the stored ``sample``; the secret itself is dropped."""
    secret_hash, sealed = sample
    try:
        sealer.open(sealed, bound_to=secret_hash)
    except SealError:
        return False
    return True


@dataclass(frozen=True)
class ResealReport:
    resealed: int
    passes: int


def reseal(
    uow: UnitOfWorkFactory,
    sealer: Sealer,
    *,
    batch_size: int = 500,
    on_batch: Callable[[str, int], None] | None = None,
) -> ResealReport:
    """Re-seals every sealed column the store registers under ``sealer``'s active key, a
    batch per transaction, while servers go on reading and writing.

    A row is replaced only if it still holds the blob that was read (a rotation of its secret
    in between wins), and passes repeat until one finds nothing sealed under another key, so
    that rows written meanwhile under an older key are taken too. A blob that does not open
    stops the run with ``SealError`` before anything of its batch is written.
    """
    target = header_of(sealer.active_key_id)
    resealed = 0
    passes = 0
    while True:
        passes += 1
        found = 0
        with uow() as reading:
            columns = list(reading.sealed.columns())
        for column in columns:
            for batch in _batches(uow, column, target, batch_size):
                found += len(batch)
                replacements = [
                    (row_id, old, sealer.seal(sealer.open(old, bound_to=bound), bound_to=bound))
                    for row_id, bound, old in batch
                ]
                with uow(write=True) as writing:
                    done = writing.sealed.replace(column, replacements)
                    writing.commit()
                resealed += done
                if on_batch is not None:
                    on_batch(column, done)
        if found == 0:
            return ResealReport(resealed=resealed, passes=passes)


def _batches(
    uow: UnitOfWorkFactory, column: str, target: bytes, size: int
) -> Iterator[Sequence[tuple[RowId, str, bytes]]]:
    after: RowId | None = None
    while True:
        with uow() as reading:
            batch = reading.sealed.not_sealed_under(column, target, after=after, limit=size)
        if not batch:
            return
        yield batch
        after = batch[-1][0]
