"""``tokenward scan``: secrets found by format and checksum in real files, their liveness
asked by hash of a real server (remote mode) or the database (operator mode)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.cli.support import ModeCli
from tokenward.domain import secrets as secret_format


def _tree(root: Path, live: str, dead: str) -> dict[str, Path]:
    typo = live[:-1] + ("A" if live[-1] != "A" else "B")  # the checksum no longer holds
    files = {
        "config": root / "deploy" / "config.yml",
        "notes": root / "notes.md",
        "clean": root / "clean.txt",
    }
    files["config"].parent.mkdir(parents=True)
    files["config"].write_text(f"url: https://api\n# the key\napi_key: {live}\n")
    files["notes"].write_text(f"old one {dead}, typo {typo}\nnot one: tw_short\n")
    files["clean"].write_text("nothing here but x" * 100)
    (root / ".git").mkdir()
    (root / ".git" / "objects").write_text(live)  # version control's own files are skipped
    (root / "blob.bin").write_bytes(b"\0\1" + live.encode())  # binary: skipped
    return files


def test_a_live_secret_fails_the_scan_and_is_never_printed(
    remote: ModeCli, local: ModeCli, tenant: str, tmp_path: Path
) -> None:
    remote.ok("tenant", "create", tenant)
    live = remote.create("--tenant", tenant, name="committed")
    dead = remote.create("--tenant", tenant, name="disabled")
    remote.ok("token", "disable", str(dead["id"]), "--tenant", tenant)
    files = _tree(tmp_path, live["secret"], dead["secret"])

    for mode in (remote, local):
        result = mode.fails(1, "scan", str(tmp_path))
        lines = result.stdout.splitlines()
        # A directory's own files first, then its subdirectories, each in name order.
        assert lines == [
            f"{files['notes']}:1:9: {secret_format.hint(dead['secret'])} not live",
            f"{files['config']}:3:10: {secret_format.hint(live['secret'])} LIVE",
        ]
        assert "2 secret(s) found, 1 live" in result.stderr
        assert live["secret"] not in result.output and dead["secret"] not in result.output

    found = json.loads(remote.fails(1, "scan", str(files["config"]), "--json").stdout)
    assert found == [
        {
            "path": str(files["config"]),
            "line": 3,
            "column": 10,
            "hint": secret_format.hint(live["secret"]),
            "hash": hashlib.sha256(live["secret"].encode()).hexdigest(),
            "live": True,
        }
    ]


def test_no_live_secret_passes(remote: ModeCli, tenant: str, tmp_path: Path) -> None:
    remote.ok("tenant", "create", tenant)
    dead = remote.create("--tenant", tenant, name="gone")
    remote.ok("token", "delete", str(dead["id"]), "--tenant", tenant, "--yes")
    (tmp_path / "a.env").write_text(f"TOKEN={dead['secret']}\n")
    (tmp_path / "b.txt").write_text(f"unknown {secret_format.generate('ci')}\n")
    result = remote.ok("scan", str(tmp_path))
    assert result.stdout.count("not live") == 2
    assert remote.ok("scan", str(tmp_path / "b.txt"), "--json").stdout.strip() != "[]"


def test_offline_fails_on_any_secret_without_asking(
    remote: ModeCli, tenant: str, tmp_path: Path
) -> None:
    (tmp_path / "clean.py").write_text("print('hello')\n")
    offline = ModeCli(remote.runner, prefix=("--url", "http://127.0.0.1:9"))  # nothing there
    assert offline.ok("scan", "--offline", str(tmp_path)).stdout == ""
    (tmp_path / "leak.py").write_text(f"KEY = '{secret_format.generate()}'\n")
    result = offline.fails(1, "scan", "--offline", str(tmp_path))
    assert result.stdout.endswith(" found\n")
    # Without --offline it must ask, and an unreachable server is exit code 3.
    assert offline.fails(3, "scan", str(tmp_path)).stderr.startswith("error: cannot reach")
