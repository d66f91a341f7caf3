"""The key-encryption key: from ``TOKENWARD_SECRET_KEY``, or a key file made on first start."""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path

KEY_FILE_NAME = "secret.key"


def load_key_material(secret_key: str | None, data_dir: Path) -> bytes:
    if secret_key is not None:
        if len(secret_key) < 32:
            raise ValueError("TOKENWARD_SECRET_KEY must be at least 32 characters long")
        return secret_key.encode("utf-8")
    return _key_file(data_dir)


def _key_file(data_dir: Path) -> bytes:
    """Created with mode 0600 and O_EXCL, so concurrent first starts agree on one key."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    # Another process may have created the file a moment ago and be writing it still.
    for _ in range(100):
        material = path.read_text(encoding="ascii").strip().encode("ascii")
        if len(material) >= 32:
            return material
        time.sleep(0.01)
    raise ValueError(f"the key file {path} is empty or too short; restore it from backup")
