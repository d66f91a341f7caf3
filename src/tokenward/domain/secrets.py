"""The secret format: ``<prefix>_<28 base62 random><6 base62 CRC32>``.

28 base62 characters carry 166 bits of entropy. The CRC32 checksum covers the prefix and the
random part, so a typo or a truncated copy is refused without a database read, and a leaked
secret can be recognised offline by scanners.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from datetime import datetime

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 28
CHECKSUM_LENGTH = 6
DEFAULT_PREFIX = "tw"
HINT_LENGTH = 5
#: The shortest secret an operator may give tokenward: the admin token
#: (``TOKENWARD_ADMIN_TOKEN``) and the key-encryption key (``TOKENWARD_SECRET_KEY``, or the
#: key file's material). 32 characters of a random alphabet are well past guessing.
MIN_OPERATOR_SECRET = 32

_PREFIX = re.compile(r"[a-z][a-z0-9]{0,15}")
_BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH
_RANDOM_SPACE = 62**RANDOM_LENGTH
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
#: The whole format in one match (a verification checks it on every cache miss).
_WELL_FORMED = re.compile(_PREFIX.pattern + f"_[0-9A-Za-z]{{{_BODY_LENGTH}}}", re.ASCII)


def retired(retires_at: datetime | None, now: datetime) -> bool:
    """Whether a secret of a token no longer opens it: a rotated-out secret is dead once its
    grace has ended, even while its row waits for the next rotation to sweep it.
    ``retires_at`` None: the token's current secret, which never retires."""
    return retires_at is not None and retires_at <= now


def is_valid_prefix(prefix: str) -> bool:
    return _PREFIX.fullmatch(prefix) is not None


def generate(prefix: str = DEFAULT_PREFIX) -> str:
    if not is_valid_prefix(prefix):
        raise ValueError(f"invalid secret prefix {prefix!r}")
    # One uniform draw below 62**28 (166 bits), written in base 62: 28 calls of
    # secrets.choice cost 30 µs of every create.
    random_part = _base62(secrets.randbelow(_RANDOM_SPACE), RANDOM_LENGTH)
    head = f"{prefix}_{random_part}"
    return head + _encode_checksum(zlib.crc32(head.encode("ascii")))


def is_well_formed(secret: str) -> bool:
    """True when ``secret`` has the format and a matching checksum; no I/O."""
    if _WELL_FORMED.fullmatch(secret) is None:
        return False
    head = secret[:-CHECKSUM_LENGTH]
    return _decode(secret[-CHECKSUM_LENGTH:]) == zlib.crc32(head.encode("ascii"))


def prefix_of(secret: str) -> str:
    return secret.rpartition("_")[0]


def hash_secret(secret: str) -> str:
    """SHA-256 of the whole secret, hex: the only key by which a secret is looked up.

    A fast hash is right here: the secret carries 166 random bits, so there is nothing for a
    slow password hash to protect, and verification runs on every request.
    """
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def hint(secret: str) -> str:
    """A display form that recognises a secret without revealing it: prefix and last 5.

    The last characters are checksum digits, so the hint gives away none of the random part.
    """
    prefix = prefix_of(secret)
    head = f"{prefix}_" if prefix else ""
    return f"{head}...{secret[-HINT_LENGTH:]}"


def _encode_checksum(value: int) -> str:
    return _base62(value, CHECKSUM_LENGTH)


def _base62(value: int, length: int) -> str:
    """``value`` in ``length`` base-62 digits, most significant first (it must fit)."""
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + _INDEX[char]
    return value
