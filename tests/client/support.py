"""What the client tests share besides fixtures: the server's root credential."""

from __future__ import annotations

ROOT = "client-tests-root-credential-0123456789abcdef"
