"""Boomerang Flow's web UIs on tokenward's answers: their requests, and their rendering in Node.

The requests are the ones the UIs' create forms build (each test names the file); the answers
are read by ``ui/render_tokens.mjs``, a transcription of the UIs' token pages (the permission
rendering included), run by Node. Node is required: without it these tests fail, they do not
skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.faces.boomerang.support import create, query

RENDERER = Path(__file__).parent / "ui" / "render_tokens.mjs"

#: `parseInt(moment.utc(values.date).startOf("day").format("x"), 10)` of 2031/01/02.
START_OF_DAY_MS = int(datetime(2031, 1, 2, tzinfo=UTC).timestamp() * 1000)


def render(ui: str, data: Any) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.fail("these tests run the Boomerang UIs' code in Node: install nodejs")
    done = subprocess.run(
        [node, str(RENDERER)],
        input=json.dumps({"ui": ui, "data": data}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def current_ui_request(kind: str, principal: str | None, permissions: list[str]) -> Any:
    """boomerang-io/flow.web src/Components/CreateToken/Form/index.tsx ``createToken``."""
    request: dict[str, Any] = {
        "name": f"{kind}-token",
        "type": kind,
        "expirationDate": START_OF_DAY_MS,
        "description": "",
        "principal": principal,
    }
    if kind != "user":
        request["permissions"] = permissions
    return request


def ui_2024_request(kind: str, principal: str | None, permissions: list[str]) -> Any:
    """boomerang-io/flow.client.web (release-4.0.0) src/Components/CreateToken/Form/index.tsx
    ``createToken``: ``teams`` for a user token, else ``**/${principal}/Read`` and the like."""
    request: dict[str, Any] = {
        "name": f"{kind}-token-2024",
        "type": kind,
        "expirationDate": None,
        "description": "",
        "principal": principal,
    }
    if kind == "user":
        request["teams"] = []
    else:
        request["permissions"] = permissions
    return request


def made(client: TestClient, request: Any) -> Any:
    answer = create(client, **request)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # CreateToken: `saveValues(response.data)`; the result step shows the token.
    assert body["token"].startswith("bf")
    return body


def test_the_current_ui_creates_and_renders_team_tokens(client: TestClient) -> None:
    made(client, current_ui_request("team", "t1", ["**/read", "**/write"]))
    # TokenSection: `queryString.stringify({ types: type, principals: principal })`
    page = query(client, types="team", principals="t1")
    [row] = render("flow.web/TokenSection", page)
    assert row["cells"] == [
        "team-token",
        "Active",
        "---",
        datetime.now(UTC).strftime("%B %d, %Y"),
        "January 02, 2031",
        f"DeleteToken({page['content'][0]['id']})",
    ]
    assert row["expanded"] == [
        {"scope": "team", "principal": "t1", "actions": ["**/read", "**/write"]}
    ]


def test_the_current_ui_renders_workflow_and_user_tokens(client: TestClient) -> None:
    made(client, current_ui_request("workflow", "w1", ["**/action"]))
    made(client, current_ui_request("user", "u1", []))
    [workflow] = render("flow.web/TokenSection", query(client, types="workflow", principals="w1"))
    assert workflow["expanded"] == [
        {"scope": "workflow", "principal": "w1", "actions": ["**/action"]}
    ]
    [user] = render("flow.web/TokenSection", query(client, types="user", principals="u1"))
    assert user["expanded"] == "Permissions detail unavailable"


def test_the_current_ui_renders_global_tokens(client: TestClient) -> None:
    assert render("flow.web/GlobalTokens", query(client, types="global")) == (
        "EmptyState(No tokens found)"
    )
    # GlobalTokens: `<CreateToken type={TokenType.Global} ... principal="**" />`
    made(client, current_ui_request("global", "**", ["**/read", "**/delete"]))
    [row] = render("flow.web/GlobalTokens", query(client, types="global"))
    assert row["cells"][:2] == ["global-token", "Active"]
    assert row["expanded"] == [
        {"scope": "global", "principal": "**", "actions": ["**/read", "**/delete"]}
    ]


def test_the_2024_ui_creates_and_renders_its_tokens(client: TestClient) -> None:
    made(client, ui_2024_request("team", "t1", ["**/t1/Read", "**/t1/Write"]))
    made(client, ui_2024_request("workflow", "w1", ["**/w1/Read"]))
    made(client, ui_2024_request("global", "**", ["**/**/Read"]))
    made(client, ui_2024_request("user", "u1", []))
    for types, principals in (("team", "t1"), ("workflow", "w1"), ("user", "u1")):
        [row] = render(
            "flow.client.web/TokenSection", query(client, types=types, principals=principals)
        )
        assert row["cells"][1:4] == ["Active", datetime.now(UTC).strftime("%B %d, %Y"), "---"]
    # The current UI renders what the 2024 UI made, permissions included.
    [team] = render("flow.web/TokenSection", query(client, types="team", principals="t1"))
    assert team["expanded"] == [
        {"scope": "team", "principal": "t1", "actions": ["**/read", "**/write"]}
    ]
    [row] = render("flow.web/GlobalTokens", query(client, types="global"))
    assert row["expanded"] == [{"scope": "global", "principal": "**", "actions": ["**/read"]}]


def test_the_2024_ui_joins_permission_objects(client: TestClient) -> None:
    """The 2024 UI writes ``permissions.join(", ")``: on the product's current shape (objects)
    that is ``[object Object]``, not an error; docs/compat/boomerang.md says so."""
    made(client, ui_2024_request("team", "t1", ["**/t1/Read"]))
    [row] = render("flow.client.web/TokenSection", query(client, types="team", principals="t1"))
    assert row["cells"][4] == "[object Object]"


def test_the_renderer_fails_on_the_old_string_answer() -> None:
    """The failure the face used to cause: the current UI calls ``actions.map`` on every
    permission, and a string permission has no ``actions``."""
    old = {
        "content": [
            {
                "id": "1",
                "name": "x",
                "valid": True,
                "description": None,
                "creationDate": "2023-07-05T04:08:52.880+00:00",
                "expirationDate": None,
                "permissions": ["**/read"],
            }
        ]
    }
    node = shutil.which("node")
    if node is None:
        pytest.fail("these tests run the Boomerang UIs' code in Node: install nodejs")
    done = subprocess.run(
        [node, str(RENDERER)],
        input=json.dumps({"ui": "flow.web/TokenSection", "data": old}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "reading 'map'" in done.stderr
