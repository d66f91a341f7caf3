"""export and import: metadata as JSON Lines, never a secret; imported secrets still verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import tenant
from tokenward.app import build_core, build_verifier, open_engine
from tokenward.cli import app
from tokenward.domain.actors import Actor
from tokenward.domain.tokens import Credits, RateLimit, Refill, RefillInterval, TokenSpec
from tokenward.domain.verification import VerifyCode
from tokenward.service import tokens
from tokenward.service.core import Core
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.engine import make_engine
from tokenward.verification import Engine

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres

ROOT = Actor.root()


def test_export_then_import_elsewhere(
    core: Core, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant(core, "acme")
    kept = tokens.issue(
        core,
        ROOT,
        tenant="acme",
        spec=TokenSpec(name="kept", scopes=("r",), recoverable=True, ttl_seconds=3600),
    )
    plain = tokens.issue(core, ROOT, tenant="default", spec=TokenSpec(name="plain"))
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    out = tmp_path / "tokens.jsonl"

    result = runner.invoke(app, ["export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert kept.secret not in text and plain.secret not in text
    records = [r for r in map(json.loads, text.splitlines()) if r["kind"] == "token"]
    assert {r["name"] for r in records} == {"kept", "plain"}
    assert all("sealed_secret" not in r for r in records)

    sealed = tmp_path / "sealed.jsonl"
    result = runner.invoke(app, ["export", "-t", "acme", "--include-sealed", "-o", str(sealed)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in sealed.read_text().splitlines()]
    assert lines[0]["kind"] == "tenant" and lines[0]["name"] == "acme"
    (record,) = lines[1:]
    assert record["sealed_secret"] and kept.secret not in sealed.read_text()

    # A second installation with the same key: the data directory (and its key file) is shared.
    target_db = tmp_path / "target.db"
    engine = make_engine(f"sqlite:///{target_db}")
    migrate.upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", f"sqlite:///{target_db}")
    assert runner.invoke(app, ["tenant", "create", "acme"]).exit_code == 0
    result = runner.invoke(app, ["import", str(sealed)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["import", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 1 token(s); 1 already stored" in result.output

    target = Settings(database_url=f"sqlite:///{target_db}", data_dir=settings.data_dir)
    engine = open_engine(target)
    verifier = build_verifier(target, engine)
    try:
        other = build_core(target, engine, verifier)
        assert verifier.verify(kept.secret, scopes=["r"]).code is VerifyCode.VALID
        assert verifier.verify(plain.secret).code is VerifyCode.VALID
        moved = verifier.verify(kept.secret).token
        assert moved is not None and moved.expires_at == kept.token.expires_at
        assert tokens.reveal(other, ROOT, tenant="acme", token_id=moved.id) == kept.secret
    finally:
        engine.dispose()
        verifier.close()


def test_export_then_import_keeps_the_controls_and_the_credit_balance(
    core: Core,
    verifier: Engine,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rate limits, IP allowlist and credits (the balance left after spending, and the refill)
    come back as they were exported: the imported token is no looser than the exported one."""
    limited = tokens.issue(
        core,
        ROOT,
        tenant="default",
        spec=TokenSpec(
            name="limited",
            rate_limits=(RateLimit("second", 5, 1), RateLimit("day", 1000, 86400)),
            credits=Credits(5),
            ip_allowlist=("10.0.0.0/24", "2001:db8::/32"),
        ),
    )
    refilled = tokens.issue(
        core,
        ROOT,
        tenant="default",
        spec=TokenSpec(name="refilled", credits=Credits(7, Refill(100, RefillInterval.MONTHLY))),
    )
    for _ in range(2):
        assert verifier.verify(limited.secret, client_ip="10.0.0.5").code is VerifyCode.VALID
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    out = tmp_path / "tokens.jsonl"
    result = runner.invoke(app, ["export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    records = {r["name"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["limited"]["credits"] == {"remaining": 3, "refill": None}

    target_db = tmp_path / "target.db"
    engine = make_engine(f"sqlite:///{target_db}")
    migrate.upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", f"sqlite:///{target_db}")
    result = runner.invoke(app, ["import", str(out)])
    assert result.exit_code == 0, result.output

    target = Settings(database_url=f"sqlite:///{target_db}", data_dir=settings.data_dir)
    engine = open_engine(target)
    target_verifier = build_verifier(target, engine)
    try:
        other = build_core(target, engine, target_verifier)
        moved = tokens.get(other, ROOT, tenant="default", token_id=limited.token.id)
        assert moved.rate_limits == limited.token.rate_limits
        assert moved.ip_allowlist == ("10.0.0.0/24", "2001:db8::/32")
        assert moved.credits == Credits(3)
        moved_refill = tokens.get(other, ROOT, tenant="default", token_id=refilled.token.id)
        assert moved_refill.credits is not None
        assert moved_refill.credits.refill == Refill(100, RefillInterval.MONTHLY)
        check = target_verifier.verify
        assert check(limited.secret, client_ip="198.51.100.9").code is VerifyCode.IP_DENIED
        assert check(limited.secret).code is VerifyCode.IP_DENIED
        codes = [check(limited.secret, client_ip="2001:db8::1").code for _ in range(4)]
        assert codes == [VerifyCode.VALID] * 3 + [VerifyCode.USAGE_EXCEEDED]
    finally:
        engine.dispose()
        target_verifier.close()


def test_import_refuses_bad_input(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad line, a missing file, a file that is not UTF-8: a message and exit 2."""
    monkeypatch.setenv("TOKENWARD_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("TOKENWARD_DATA_DIR", str(settings.data_dir))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tenant": "default", "name": "x"}\n')
    result = CliRunner().invoke(app, ["import", str(bad)])
    assert result.exit_code == 2 and "line 1" in result.output
    # Controls the file cannot hold: an unknown refill interval, a rate limit of no window.
    record = {
        "tenant": "default",
        "name": "x",
        "type": "global",
        "owner": "root",
        "user": "root",
        "role": "viewer",
        "created_at": "2026-01-01T00:00:00+00:00",
        "secret_hash": "ab" * 32,
        "secret_hint": "tw_...abcd",
    }
    for controls in (
        {"credits": {"remaining": 1, "refill": {"amount": 5, "interval": "hourly"}}},
        {"rate_limits": [{"name": "r", "limit": 1, "window_seconds": 0}]},
        {"ip_allowlist": ["10.0.0.0/33"]},
    ):
        bad.write_text(json.dumps(record | controls) + "\n")
        result = CliRunner().invoke(app, ["import", str(bad)])
        assert result.exit_code == 2 and "line 1" in result.output, (controls, result.output)
    not_text = tmp_path / "binary.jsonl"
    not_text.write_bytes(b"\xff\xfe\x00")
    for source in (tmp_path / "missing.jsonl", not_text):
        result = CliRunner().invoke(app, ["import", str(source)])
        assert result.exit_code == 2 and "cannot read" in result.output, result.output
