"""Signing keys: generation, the public JWK, and sealing of the private part at rest."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

#: JWS algorithms tokenward signs with: Ed25519 (the default) and ECDSA P-256 (ES256), for
#: verifiers whose libraries have no EdDSA. No symmetric algorithm: a verifier holds only
#: public keys, so no service that checks a token can mint one.
Algorithm = Literal["EdDSA", "ES256"]
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


class Sealer(Protocol):
    """What sealing needs (``service/sealing.Sealer`` is one): AEAD bound to a label."""

    def seal(self, secret: str, *, bound_to: str) -> bytes: ...

    def open(self, sealed: bytes, *, bound_to: str) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as the store keeps it: the private part sealed, bound to the kid.

    ``generation`` counts rotations (1, 2, ...) and is unique: two servers that rotate at the
    same moment both try to add the same generation, and the store keeps one.
    ``activates_at`` is when it starts to sign: at least one JWKS cache period after it was
    first published (``created_at``), so every verifier has fetched it before meeting it.
    """

    kid: str
    alg: str
    generation: int
    created_at: datetime
    activates_at: datetime
    public_jwk: str
    sealed_private: bytes


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    generation: int
    created_at: datetime
    activates_at: datetime
    #: None when it was sealed under another key-encryption key: it stays published (tokens
    #: it signed still verify) but never signs again.
    private: PrivateKey | None
    jwk: dict[str, Any]


def generate(
    alg: str, *, generation: int, created_at: datetime, activates_at: datetime
) -> SigningKey:
    private: PrivateKey
    if alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}; use one of {ALGORITHMS}")
    # Random, not derived from the key: a kid says nothing about the key or its age.
    kid = secrets.token_urlsafe(12)
    return SigningKey(
        kid=kid,
        alg=alg,
        generation=generation,
        created_at=created_at,
        activates_at=activates_at,
        private=private,
        jwk=public_jwk(private, kid=kid, alg=alg),
    )


def public_jwk(private: PrivateKey, *, kid: str, alg: str) -> dict[str, Any]:
    """The public part only (RFC 7517), with ``alg`` so that a verifier pins the algorithm
    to the key and never takes it from a token's header."""
    if isinstance(private, ed25519.Ed25519PrivateKey):
        jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def seal(key: SigningKey, sealer: Sealer) -> StoredKey:
    if key.private is None:
        raise ValueError(f"signing key {key.kid} has no private part to seal")
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return StoredKey(
        kid=key.kid,
        alg=key.alg,
        generation=key.generation,
        created_at=key.created_at,
        activates_at=key.activates_at,
        public_jwk=json.dumps(key.jwk, sort_keys=True),
        # Bound to the kid: a sealed key copied onto another row does not open there.
        sealed_private=sealer.seal(pem, bound_to=_label(key.kid)),
    )


def unseal(stored: StoredKey, sealer: Sealer) -> SigningKey:
    """Raises the sealer's error when the key does not open (another key-encryption key)."""
    pem = sealer.open(stored.sealed_private, bound_to=_label(stored.kid))
    private = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"signing key {stored.kid} is of an unexpected type")
    return _with_private(stored, private)


def public_only(stored: StoredKey) -> SigningKey:
    """A key whose private part cannot be opened here: published, never signing."""
    return _with_private(stored, None)


def _with_private(stored: StoredKey, private: PrivateKey | None) -> SigningKey:
    return SigningKey(
        kid=stored.kid,
        alg=stored.alg,
        generation=stored.generation,
        created_at=stored.created_at,
        activates_at=stored.activates_at,
        private=private,
        jwk=json.loads(stored.public_jwk),
    )


def _label(kid: str) -> str:
    # Sealing's associated data is ASCII; a kid is URL-safe base64 already.
    return f"signing-key:{kid}"
