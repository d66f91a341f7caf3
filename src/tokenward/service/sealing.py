"""Sealing of recoverable secrets with AES-256-GCM under the server's key-encryption key."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tokenward.domain import secrets as secret_format
from tokenward.domain.errors import SealError

__all__ = ["SealError", "Sealer", "opens"]

_VERSION = b"\x01"
_NONCE_BYTES = 12


class Sealer:
    def __init__(self, key_material: bytes) -> None:
        shortest = secret_format.MIN_OPERATOR_SECRET
        if len(key_material) < shortest:
            raise ValueError(f"the key-encryption key needs at least {shortest} bytes of material")
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


def opens(sealer: Sealer, sample: tuple[str, bytes]) -> bool:
    """Whether ``sealer`` opens the stored ``sample``; the secret itself is dropped."""
    secret_hash, sealed = sample
    try:
        sealer.open(sealed, bound_to=secret_hash)
    except SealError:
        return False
    return True
