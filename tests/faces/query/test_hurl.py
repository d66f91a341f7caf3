"""Query's own tests of its token API (gc-victor/query, ``hurl/token/*.hurl``), replayed.

Each test below is one upstream hurl file, transcribed step by step into ``Step`` records and
run by a small runner against the Query face, on SQLite and PostgreSQL. The upstream files use
``{{host}}/token`` (older) or ``{{host}}/_/token`` (newer); both are ``/_/token`` here, and
``{{user_token}}`` is ``Bearer`` and an admin credential.

Steps that call ``/_/query`` (Query's SQL endpoint, which tokenward does not have) are not
run as written: where they observe a token (``SELECT ... WHERE name = ... AND active = 1``)
they are replaced by the same observation through ``GET /_/token`` (``Observe``); where they
set up a user or clean up, the test does the equivalent through the native API or nothing (each
test starts on an empty store). ``validate_token_creation_false.hurl`` needs the product's
"token creation disabled" option, which tokenward does not have; docs/compat/query.md lists
both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import bearer, manager

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres

PATH = "/_/token"


@dataclass(frozen=True)
class Step:
    """One hurl request: method, path, JSON body, the expected status and ``[Asserts]``."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    status: int = 200
    #: ``(jsonpath, value)``: ``...`` for hurl's ``exists``, anything else for ``==``.
    asserts: tuple[tuple[str, Any], ...] = ()
    #: Which credential ``Authorization`` carries: the admin (``user_token``) or the other.
    auth: str = "admin"


@dataclass(frozen=True)
class Observe:
    """A ``/_/query`` step ``SELECT token FROM _config_token WHERE name = ... AND active = ...
    AND write = ...`` with ``jsonpath "$.data[0].token" exists``, as a look at the list."""

    name: str
    fields: dict[str, int] = field(default_factory=dict)


_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z_0-9]*)|\[(\d+)\]|\['([^']*)'\]")
_MISSING = object()


def jsonpath(document: Any, path: str) -> Any:
    """The subset of JSONPath the upstream files use: ``$``, ``.key``, ``[n]``, ``['key']``."""
    assert path.startswith("$"), path
    node, rest = document, path[1:]
    while rest:
        match = _PATH_PART.match(rest)
        assert match is not None, path
        key, index, quoted = match.groups()
        rest = rest[match.end() :]
        if index is not None:
            if not isinstance(node, list) or int(index) >= len(node):
                return _MISSING
            node = node[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(node, dict) or name not in node:
                return _MISSING
            node = node[name]
    return node


def same(found: Any, expected: Any) -> bool:
    """hurl's ``==``: a JSON number is not a boolean (in Python ``True == 1``)."""
    return type(found) is type(expected) and found == expected


def run(client: TestClient, steps: list[Step | Observe], credentials: dict[str, str]) -> None:
    for number, step in enumerate(steps, 1):
        where = f"step {number}: {step}"
        if isinstance(step, Observe):
            listed = client.get(PATH, headers=bearer(credentials["admin"]))
            assert listed.status_code == 200, where
            rows = [row for row in listed.json()["data"] if row["name"] == step.name]
            assert len(rows) == 1, where
            for name, expected in step.fields.items():
                assert same(rows[0][name], expected), f"{where}: {name} is {rows[0][name]!r}"
            continue
        response = client.request(
            step.method,
            step.path,
            json=step.body,
            headers=bearer(credentials[step.auth]),
        )
        assert response.status_code == step.status, f"{where}: {response.text}"
        for path, expected in step.asserts:
            found = jsonpath(response.json(), path)
            if expected is ...:
                assert found is not _MISSING, f"{where}: {path} exists"
            else:
                assert same(found, expected), f"{where}: {path} == {expected!r}, got {found!r}"


@pytest.fixture
def credentials(client: TestClient) -> dict[str, str]:
    """``admin``: the files' ``user_token``, an admin of the tenant; ``other``: a user that
    is not an admin (``validate_is_no_admin.hurl`` makes one through ``/_/query``)."""
    return {
        "admin": manager(client, role="admin", name="hurl admin")["secret"],
        "other": manager(client, role="editor", name="hurl editor")["secret"],
    }


# hurl/token/create.hurl
CREATE = [
    # Create token with active = default (true) and write = default (true)
    Step("POST", PATH, {"name": "token_create_name"}, 201),
    Observe("token_create_name", {"active": 1, "write": 1}),
    # Create token with active = false and write = false
    Step("POST", PATH, {"name": "token_create_name_0_0", "active": False, "write": False}, 201),
    Observe("token_create_name_0_0", {"active": 0, "write": 0}),
    # (the closing `/_/query` DELETE ... LIKE 'token_create_%' is cleanup)
]

# hurl/token/list.hurl
LIST = [
    Step("POST", PATH, {"name": "token_list_name_1"}, 201),
    Step(
        "POST",
        PATH,
        {"db_name": "config.sql", "name": "token_list_name_2", "active": False, "write": False},
        201,
    ),
    # (`/_/query` SELECT token ... LIKE 'token_list_name%': $.data[1].token exists)
    Observe("token_list_name_2"),
    Step(
        "GET",
        PATH,
        status=200,
        asserts=(
            ("$.data[0].name", ...),
            ("$.data[0].name", "token_list_name_1"),
            ("$.data[0].active", 1),
            ("$.data[0].write", 1),
            ("$.data[1].name", "token_list_name_2"),
            ("$.data[1].active", 0),
            ("$.data[1].write", 0),
        ),
    ),
    Step("DELETE", PATH, {"name": "token_list_name_1"}, 200),
    Step("DELETE", PATH, {"name": "token_list_name_2"}, 200),
]

# hurl/token/update.hurl
UPDATE = [
    Step("POST", PATH, {"name": "token_update_name"}, 201),
    Observe("token_update_name", {"active": 1, "write": 1}),
    Step("PUT", PATH, {"name": "token_update_name", "active": False}, 200),
    Observe("token_update_name", {"active": 0, "write": 1}),
    Step("PUT", PATH, {"name": "token_update_name", "write": False}, 200),
    Observe("token_update_name", {"active": 0, "write": 0}),
]

# hurl/token/delete.hurl
DELETE = [
    # Delete Token 1
    Step("POST", PATH, {"name": "token_delete_name_1"}, 201),
    Observe("token_delete_name_1"),
    Step("DELETE", PATH, {"name": "token_delete_name_1"}, 200),
    # Delete Token 2
    Step("POST", PATH, {"name": "token_delete_name_2"}, 201),
    Observe("token_delete_name_2"),
    Step("DELETE", PATH, {"name": "token_delete_name_2"}, 200),
]

# hurl/token/value.hurl
VALUE = [
    Step("DELETE", PATH, {"name": "token_value_name"}, 200),
    Step("POST", PATH, {"name": "token_value_name"}, 201),
    Observe("token_value_name", {"active": 1, "write": 1}),
    Step("GET", f"{PATH}/value?name=token_value_name", asserts=(("$.data[0].token", ...),)),
    Step("DELETE", PATH, {"name": "token_value_name"}, 200),
]

# hurl/token/validate_is_admin.hurl: an admin user's token (made through `/_/query` upstream)
VALIDATE_IS_ADMIN = [
    Step("POST", PATH, {"name": "token_validate_is_admin"}, 201),
    Step("GET", PATH, status=200),
    Step("PUT", PATH, {"name": "token_validate_is_admin", "active": False}, 200),
    Step("DELETE", PATH, {"name": "token_validate_is_admin"}, 200),
]

# hurl/token/validate_is_no_admin.hurl: a non-admin user's token, which writes
VALIDATE_IS_NO_ADMIN = [
    Step("POST", PATH, {"name": "token_validate_is_no_admin"}, 401, auth="other"),
    Step("GET", PATH, status=401, auth="other"),
    Step("PUT", PATH, {"name": "token_validate_is_no_admin", "active": False}, 401, auth="other"),
    Step("DELETE", PATH, {"name": "token_validate_is_no_admin"}, 401, auth="other"),
]

# hurl/token/validate_token_creation_true.hurl (its first step turns the product's
# `create_token` option on through `/_/query`; tokenward has no such option: always on)
VALIDATE_TOKEN_CREATION_TRUE = [
    Step("POST", PATH, {"name": "validate_token_creation"}, 201),
    Step("GET", PATH, status=200),
    Step("PUT", PATH, {"name": "validate_token_creation"}, 200),
    Step("DELETE", PATH, {"name": "validate_token_creation"}, 200),
]


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(CREATE, id="create.hurl"),
        pytest.param(LIST, id="list.hurl"),
        pytest.param(UPDATE, id="update.hurl"),
        pytest.param(DELETE, id="delete.hurl"),
        pytest.param(VALUE, id="value.hurl"),
        pytest.param(VALIDATE_IS_ADMIN, id="validate_is_admin.hurl"),
        pytest.param(VALIDATE_IS_NO_ADMIN, id="validate_is_no_admin.hurl"),
        pytest.param(VALIDATE_TOKEN_CREATION_TRUE, id="validate_token_creation_true.hurl"),
    ],
)
def test_querys_own_hurl_tests(
    client: TestClient, credentials: dict[str, str], steps: list[Step | Observe]
) -> None:
    run(client, steps, credentials)
    # The management tokens the run used were never in its reach: both still verify.
    for secret in credentials.values():
        assert client.post("/v1/verify", json={"token": secret}).json()["valid"] is True


def test_the_runner_reads_the_subset_of_jsonpath_the_files_use() -> None:
    document = {"data": [{"token": "t", "name": "n"}]}
    assert jsonpath(document, "$.data[0].token") == "t"
    assert jsonpath(document, "$['data'][0]['token']") == "t"
    assert jsonpath(document, "$.data[1].token") is _MISSING
    assert jsonpath(document, "$.nothing") is _MISSING
