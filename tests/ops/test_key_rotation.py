"""``tokenward keys rotate`` on a store a real server reads and writes while it runs."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import httpx
import pytest

from tests.ops._servers import Load, Server, create, environment, reveal, run, valid
from tokenward.service.sealing import LEGACY, Sealer, SealError, key_id_of


# Issue 21's soak of the operator tool: make test-long. Resealing under a new key, with the
# running app following, keeps its test in make test (tests/ops/test_reseal.py), and so does
# a ring that opens older keys' blobs (below).
@pytest.mark.long
def test_rotation_under_load_then_the_old_key_file_goes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = environment(data)
    server = Server(env, tmp_path / "serve.log", workers=2)
    try:
        made: dict[int, str] = {}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for n in range(40):
                token_id, secret = create(http, f"before-{n}")
                made[token_id] = secret
        assert (data / "secret.key").is_file()
        load = Load(server.url, made, prefix="during")
        load.start()
        rotated = run(
            *("keys", "rotate", "--batch-size", "7", "--settle-seconds", "1", "--json"), env=env
        )
        load.stop()
        assert load.failures == []
        assert load.rounds > 1  # the load ran while the rotation did
        report = json.loads(rotated.stdout)
        assert report["resealed"] >= 40
        new_key = data / "keys" / f"{report['key_id']}.key"
        assert stat.S_IMODE(new_key.stat().st_mode) == 0o600
        # The legacy key was retired: moved out of the ring, then the operator deletes it.
        assert not (data / "secret.key").exists()
        assert report["retired"]["legacy"] is not None
        shutil.rmtree(data / "keys" / "retired")

        with httpx.Client(base_url=server.url, timeout=30) as http:
            for token_id, secret in made.items():
                shown = reveal(http, token_id)
                assert shown.status_code == 200, shown.text
                assert shown.json()["secret"] == secret
            after_id, after_secret = create(http, "after")
            assert reveal(http, after_id).json()["secret"] == after_secret
            made[after_id] = after_secret
    finally:
        server.stop()

    listed = json.loads(run("keys", "list", "--json", env=env).stdout)
    assert listed == {
        "keys": [{"key_id": report["key_id"], "active": True, "seals_stored_secrets": True}],
        "missing": [],
    }
    again = Server(env, tmp_path / "again.log")
    try:
        with httpx.Client(base_url=again.url, timeout=30) as http:
            for token_id, secret in made.items():
                assert reveal(http, token_id).json()["secret"] == secret
                assert valid(http, secret)
    finally:
        again.stop()


def test_a_missing_or_wrong_ring_key_stops_the_start_and_doctor_says_which(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    env = environment(data)
    server = Server(env, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            create(http, "sealed")
    finally:
        server.stop()
    key_id = json.loads(run("keys", "rotate", "--settle-seconds", "0", "--json", env=env).stdout)[
        "key_id"
    ]
    key_file = data / "keys" / f"{key_id}.key"
    material = key_file.read_bytes()

    key_file.unlink()
    refused = run("serve", "--port", "1", env=env, check=False)
    assert refused.returncode == 2
    assert f"sealed with key {key_id}" in refused.stderr
    assert "Traceback" not in refused.stderr
    doctor = run("doctor", env=env, check=False)
    assert doctor.returncode != 0
    assert f"keys/{key_id}.key" in doctor.stdout + doctor.stderr

    key_file.write_bytes(b"another-key-of-enough-length-000000000000000\n")
    key_file.chmod(0o600)
    wrong = run("serve", "--port", "1", env=env, check=False)
    assert wrong.returncode == 2
    assert "does not open the secrets sealed in the database" in wrong.stderr
    assert material.decode().strip() not in wrong.stderr + wrong.stdout

    key_file.write_bytes(material)
    key_file.chmod(0o644)  # loosened by hand: the next command that opens the store tightens it
    assert run("doctor", env=env, check=False).returncode == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_ring_opens_legacy_blobs_and_seals_under_its_newest_key() -> None:
    legacy = Sealer(b"legacy-key-material-of-enough-length-0123")
    old_blob = legacy.seal("tw_secret", bound_to="hash")
    assert key_id_of(old_blob) == LEGACY  # a store nobody rotated reads as before

    ring = Sealer(
        keys={
            LEGACY: b"legacy-key-material-of-enough-length-0123",
            "0000018c00000001": b"a-newer-key-material-of-enough-length-01",
        }
    )
    assert ring.open(old_blob, bound_to="hash") == "tw_secret"
    new_blob = ring.seal("tw_secret", bound_to="hash")
    assert key_id_of(new_blob) == "0000018c00000001"
    with pytest.raises(SealError, match="lacks"):
        legacy.open(new_blob, bound_to="hash")
    with pytest.raises(SealError):
        ring.open(new_blob, bound_to="another hash")
