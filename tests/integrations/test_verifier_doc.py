"""The synchronous ``Verifier`` as docs/integrations.md shows it: its snippet, run as written
against a real ``tokenward serve``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.server import Server
from tests.integrations.support import Issue

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def snippet() -> str:
    section = DOC.read_text().split("## Any other framework: `Verifier`", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "docs/integrations.md has no Verifier snippet"
    return found.group(1)


def test_the_documented_verifier_snippet_runs_and_prints_what_it_says(
    server: Server,
    issue: Issue,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = snippet()
    monkeypatch.setenv("TOKENWARD_URL", server.url)
    monkeypatch.delenv("TOKENWARD_TOKEN", raising=False)
    monkeypatch.setenv("SECRET", issue().secret)
    exec(compile(code, str(DOC), "exec"), {"__name__": "snippet"})
    printed = capsys.readouterr().out.splitlines()
    # Each print line's comment is what it prints.
    promised = [line.split("  # ", 1)[1] for line in code.splitlines() if line.startswith("print(")]
    assert printed == promised
