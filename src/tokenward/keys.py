"""The key-encryption keys: a ring of key files in the data directory's ``keys/`` (added by
``tokenward keys rotate``), beside the legacy key from ``TOKENWARD_SECRET_KEY`` or the key file
``secret.key`` made on first start."""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path

from tokenward.domain.secrets import MIN_OPERATOR_SECRET as MIN_KEY_CHARS
from tokenward.files import tighten
from tokenward.service.ports import UnitOfWorkFactory
from tokenward.service.sealing import KEY_ID_CHARS, LEGACY, KeySource, Sealer, opens, valid_key_id

KEY_FILE_NAME = "secret.key"
#: The ring's directory in the data directory: one ``<key id>.key`` file per key.
RING_DIR_NAME = "keys"
#: Where a rotation moves the keys it retired: kept for backups taken before it, never loaded.
RETIRED_DIR_NAME = "retired"


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
    ring = ring_dir(data_dir)
    if ring.is_dir():
        tighten(ring, 0o700)
        for path in ring_files(data_dir).values():
            tighten(path, 0o600)


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


def ring_dir(data_dir: Path) -> Path:
    return data_dir / RING_DIR_NAME


def ring_files(data_dir: Path) -> dict[str, Path]:
    """The ring's key files by key id (files of other names are not keys and are left be)."""
    directory = ring_dir(data_dir)
    if not directory.is_dir():
        return {}
    found = {}
    for path in directory.iterdir():
        if path.suffix == ".key" and valid_key_id(path.stem) and path.is_file():
            found[path.stem] = path
    return found


class FileKeys(KeySource):
    """The ring as the data directory holds it now, with the legacy key when it is there."""

    def __init__(self, secret_key: str | None, data_dir: Path) -> None:
        self._secret_key = secret_key
        self._data_dir = data_dir

    def stamp(self) -> tuple[int, bool]:
        try:
            changed = ring_dir(self._data_dir).stat().st_mtime_ns
        except OSError:
            changed = 0
        return changed, (self._data_dir / KEY_FILE_NAME).exists()

    def load(self) -> dict[str, bytes]:
        ring = {key_id: _read_key(path) for key_id, path in ring_files(self._data_dir).items()}
        if self._secret_key is not None or (self._data_dir / KEY_FILE_NAME).exists():
            ring[LEGACY] = load_key_material(self._secret_key, self._data_dir, create=False)
        return ring


def add_key(data_dir: Path) -> str:
    """A new key file in the ring, 0600 and made with O_EXCL; its id sorts after every key
    made before it, so that it is the one the ring seals under."""
    secure_data_dir(data_dir)
    directory = ring_dir(data_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    tighten(directory, 0o700)
    newest = max(ring_files(data_dir), default="")
    # Milliseconds in 11 hex digits (until the year 2527), then 5 random ones.
    stamp = format(time.time_ns() // 1_000_000, "x").rjust(KEY_ID_CHARS - 5, "0")
    key_id = (stamp + secrets.token_hex(3))[:KEY_ID_CHARS]
    if key_id <= newest:  # a clock set back: still after the newest
        key_id = format(int(newest, 16) + 1, "x").rjust(KEY_ID_CHARS, "0")
    path = directory / f"{key_id}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    _sync_dir(directory)
    return key_id


def retire(data_dir: Path, key_id: str) -> Path | None:
    """Moves a key file out of the ring into ``keys/retired/``; returns where it went, or
    None when the key is not a file here (``TOKENWARD_SECRET_KEY``: the operator unsets it)."""
    source = data_dir / KEY_FILE_NAME if key_id == LEGACY else ring_files(data_dir).get(key_id)
    if source is None or not source.is_file():
        return None
    retired = ring_dir(data_dir) / RETIRED_DIR_NAME
    retired.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{key_id}.key" if key_id != LEGACY else f"legacy-{time.time_ns()}-{KEY_FILE_NAME}"
    target = retired / name
    source.rename(target)
    _sync_dir(source.parent)
    # Touch the ring so that running servers reload it even when only secret.key went.
    os.utime(ring_dir(data_dir))
    return target


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_ring(sealer: Sealer | None, samples: dict[str, tuple[str, bytes]], source: str) -> None:
    """Raises ``KeyProblem`` unless ``sealer`` opens one stored blob of every key that sealed
    any: a missing or wrong key stops the start, not a reveal later."""
    for key_id, sample in sorted(samples.items()):
        if key_id.startswith("unknown format"):
            raise KeyProblem(f"the database holds sealed secrets of an {key_id}: upgrade tokenward")
        if sealer is None or key_id not in sealer.key_ids:
            if key_id == LEGACY:
                raise KeyProblem(
                    "the database holds secrets sealed with the legacy key, which is neither "
                    f"TOKENWARD_SECRET_KEY nor the key file {KEY_FILE_NAME} in the data "
                    "directory: restore it from backup, or set TOKENWARD_SECRET_KEY to it"
                )
            raise KeyProblem(
                f"the database holds secrets sealed with key {key_id}, but the data "
                f"directory's key ring has no {RING_DIR_NAME}/{key_id}.key: restore it "
                "from backup"
            )
        if not opens(sealer, sample):
            which = source if key_id == LEGACY else f"the key file {key_id}.key"
            raise KeyProblem(
                f"{which} does not open the secrets sealed in the database: "
                "start with the key that sealed them (TOKENWARD_SECRET_KEY, or the key file "
                "restored from backup)"
            )


def sealer_for_store(uow: UnitOfWorkFactory, *, secret_key: str | None, data_dir: Path) -> Sealer:
    """The ring of the configured keys, checked against the store.

    A key is generated only for a store that holds no sealed secret and a data directory
    without a ring; otherwise every key that sealed a stored secret must be there and open
    it, or recoverable secrets would be lost without a word. Raises ``KeyProblem`` saying
    which key and what to do. The ring reloads from the data directory when a rotation adds
    a key while the server runs.
    """
    with uow() as reading:
        samples = reading.sealed.samples()
    files = FileKeys(secret_key, data_dir)
    ring = files.load()
    if not ring:
        if set(samples) == {LEGACY}:
            load_key_material(secret_key, data_dir, create=False)  # raises: the key is missing
        check_ring(None, samples, key_source(secret_key, data_dir))  # raises: names the key
        load_key_material(secret_key, data_dir, create=True)
        ring = files.load()
    sealer = Sealer(keys=ring, source=files)
    check_ring(sealer, samples, key_source(secret_key, data_dir))
    return sealer
