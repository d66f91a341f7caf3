"""Jinja2 with autoescaping on for every template: whatever a user typed (a token's name,
description, metadata) reaches the page as text, never as markup."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from tokenward.console.assets import Assets
from tokenward.domain import clock
from tokenward.domain.tokens import Token

TEMPLATES_DIR = Path(__file__).parent / "templates"


class Renderer:
    def __init__(self, assets: Assets, *, prefix: str = "/console") -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,  # every template, whatever its file name
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals["asset"] = lambda name: f"{prefix}/static/{assets.hashed_name(name)}"
        self._env.filters["when"] = when
        self._env.filters["json"] = pretty_json
        self._env.filters["state"] = state

    def render(self, template: str, **values: Any) -> str:
        values.setdefault("actor", None)
        values.setdefault("error", None)
        values.setdefault("tenant", None)
        return self._env.get_template(template).render(**values)


def when(moment: datetime | None, empty: str = "never") -> str:
    if moment is None:
        return empty
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def state(token: Token) -> str:
    if not token.active:
        return "disabled"
    return "expired" if token.is_expired(clock.utcnow()) else "active"


def pretty_json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), indent=2, sort_keys=True, ensure_ascii=False, default=str)
