"""The session lifetimes come from the settings (``TOKENWARD_CONSOLE_IDLE_SECONDS``,
``TOKENWARD_CONSOLE_MAX_AGE_SECONDS``): a session two minutes idle, or two minutes old, ends
under a one-minute limit and lives on under the default."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from tests.console.support import sign_in
from tests.helpers import ROOT_TOKEN
from tokenward.app import create_app
from tokenward.domain import clock
from tokenward.settings import Settings
from tokenward.store.tables import console_sessions


@pytest.mark.parametrize(
    ("setting", "column"),
    [("console_idle_seconds", "last_seen_at"), ("console_max_age_seconds", "created_at")],
)
@pytest.mark.parametrize("limit", [60, None])
def test_a_session_ends_after_the_configured_time(
    settings: Settings, database: Engine, setting: str, column: str, limit: int | None
) -> None:
    configured = settings if limit is None else settings.model_copy(update={setting: limit})
    with TestClient(create_app(configured)) as client:
        sign_in(client, ROOT_TOKEN)
        assert client.get("/console/t/default/", follow_redirects=False).status_code == 200
        with database.begin() as conn:
            conn.execute(
                update(console_sessions).values({column: clock.utcnow() - timedelta(minutes=2)})
            )
        answer = client.get("/console/t/default/", follow_redirects=False)
    if limit is None:
        assert answer.status_code == 200
    else:
        assert answer.status_code == 303
        assert answer.headers["location"].endswith("/console/sign-in")
