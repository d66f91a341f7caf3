"""The key-encryption key: from ``TOKENWARD_SECRET_KEY``, or a key file made on first start."""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path

from tokenward.domain.secrets import MIN_OPERATOR_SECRET as MIN_KEY_CHARS
from tokenward.files import tighten
from tokenward.service.ports import UnitOfWorkFactory
from tokenward.service.sealing import Sealer, opens

KEY_FILE_NAME = "secret.key"


class KeyProblem(ValueError):
    """The key cannot be had, or is not the one the stored secrets were sealed with. Its
    message says what to fix; it never holds key material."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def key_source(secret_key: str | None, data_dir: Path) -> str:
    """Where the key comes from, for messages."""
    if secret_key is not None:
        return "TOKENWARD_SECRET_KEY"
    return f"the key file {data_dir.resolve() / KEY_FILE_NAME}"


def load_key_material(secret_key: str | None, data_dir: Path, *, create: bool = True) -> bytes:
    """The key's material. Without ``create`` a missing key file is an error: a store that
    holds sealed secrets needs the key that sealed them, and a new key would open none."""
    if secret_key is not None:
        if len(secret_key) < MIN_KEY_CHARS:
            raise KeyProblem(
                f"TOKENWARD_SECRET_KEY must be at least {MIN_KEY_CHARS} characters long"
            )
        return secret_key.encode("utf-8")
    return _key_file(data_dir, create=create)


def _key_file(data_dir: Path, *, create: bool) -> bytes:
    """Created with mode 0600 and O_EXCL, so concurrent first starts agree on one key."""
    path = data_dir / KEY_FILE_NAME
    if not create:
        if not (path.exists() or path.is_symlink()):
            raise KeyProblem(
                f"the key file {path.resolve()} is missing, but the database holds secrets "
                "sealed with a key: restore the key file from backup, or set "
                "TOKENWARD_SECRET_KEY to the key that sealed them"
            )
        return _read_key(path)
    try:
        secure_data_dir(data_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise KeyProblem(f"cannot create the key file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return _read_key(path)


def secure_data_dir(data_dir: Path) -> None:
    """The data directory (database, key) is the owner's alone: made 0700, and an older
    installation's looser directory and key file are tightened, with a log line."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(data_dir, 0o700)
    key = data_dir / KEY_FILE_NAME
    if key.is_file():  # a directory in its place: reading it says so
        tighten(key, 0o600)


def _read_key(path: Path) -> bytes:
    # Another process may have created the file a moment ago and be writing it still.
    for _ in range(100):
        try:
            material = path.read_bytes().strip()
        except IsADirectoryError as exc:
            raise KeyProblem(
                f"the key file {path} is a directory; restore the key file from backup"
            ) from exc
        except OSError as exc:
            raise KeyProblem(f"cannot read the key file {path}: {exc.strerror}") from exc
        if len(material) >= MIN_KEY_CHARS:
            return material
        time.sleep(0.01)
    raise KeyProblem(
        f"the key file {path} is empty or shorter than {MIN_KEY_CHARS} characters; "
        "restore it from backup"
    )


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
