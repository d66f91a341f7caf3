"""Sealed secrets (AES-GCM) and the key-encryption key's origin."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tokenward.keys import KEY_FILE_NAME, load_key_material
from tokenward.service.sealing import Sealer, SealError


def test_seal_round_trip_and_no_plaintext() -> None:
    sealer = Sealer(b"k" * 32)
    sealed = sealer.seal("tw_secretvalue", bound_to="abc")
    assert b"tw_secretvalue" not in sealed
    assert sealer.open(sealed, bound_to="abc") == "tw_secretvalue"


def test_sealed_secret_does_not_open_elsewhere() -> None:
    sealer = Sealer(b"k" * 32)
    sealed = sealer.seal("tw_secretvalue", bound_to="abc")
    with pytest.raises(SealError):
        sealer.open(sealed, bound_to="other record")
    with pytest.raises(SealError):
        Sealer(b"j" * 32).open(sealed, bound_to="abc")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        sealer.open(tampered, bound_to="abc")


def test_two_seals_of_one_secret_differ() -> None:
    sealer = Sealer(b"k" * 32)
    assert sealer.seal("s", bound_to="a") != sealer.seal("s", bound_to="a")


def test_key_file_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_key_material(None, tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_material(None, tmp_path / "data") == first
    assert len(first) >= 32


def test_key_from_environment_wins_and_must_be_long(tmp_path: Path) -> None:
    assert load_key_material("x" * 40, tmp_path) == b"x" * 40
    assert not (tmp_path / KEY_FILE_NAME).exists()
    with pytest.raises(ValueError, match="32"):
        load_key_material("short", tmp_path)
