"""Sealing of recoverable secrets with AES-256-GCM under the server's key-encryption key."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tokenward.keys import KeyProblem, key_source, load_key_material
from tokenward.service.ports import UnitOfWorkFactory

_VERSION = b"\x01"
_NONCE_BYTES = 12


class SealError(Exception):
    """A sealed secret does not open under this key (wrong key or tampered record)."""


class Sealer:
    def __init__(self, key_material: bytes) -> None:
        if len(key_material) < 32:
            raise ValueError("the key-encryption key needs at least 32 bytes of material")
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"tokenward sealed secrets v1"
        ).derive(key_material)
        self._aead = AESGCM(key)

    def seal(self, secret: str, *, bound_to: str) -> bytes:
        """``bound_to`` (the secret's hash) is authenticated data: a sealed secret copied
        onto another record does not open there."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), bound_to.encode("ascii"))
        return _VERSION + nonce + sealed

    def open(self, sealed: bytes, *, bound_to: str) -> str:
        if sealed[:1] != _VERSION:
            raise SealError("unknown sealed-secret version")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, bound_to.encode("ascii")).decode("utf-8")
        except InvalidTag as exc:
            raise SealError("sealed secret does not open under this key") from exc


def sealer_for_store(uow: UnitOfWorkFactory, *, secret_key: str | None, data_dir: Path) -> Sealer:
    """The sealer of the configured key, checked against the store.

    A key is generated only for a store that holds no sealed secret; otherwise the key must
    be the one that sealed them, or every recoverable secret would be lost without a word.
    Raises ``KeyProblem`` saying which key and what to do.
    """
    with uow() as reading:
        sample = reading.tokens.sealed_sample()
    sealer = Sealer(load_key_material(secret_key, data_dir, create=sample is None))
    if sample is not None and not opens(sealer, sample):
        raise KeyProblem(
            f"{key_source(secret_key, data_dir)} does not open the secrets sealed in the "
            "database: start with the key that sealed them (TOKENWARD_SECRET_KEY, or the "
            "key file restored from backup)"
        )
    return sealer


def opens(sealer: Sealer, sample: tuple[str, bytes]) -> bool:
    """Whether ``sealer`` opens the stored ``sample``; the secret itself is dropped."""
    secret_hash, sealed = sample
    try:
        sealer.open(sealed, bound_to=secret_hash)
    except SealError:
        return False
    return True
