"""Schemathesis against the native API's own OpenAPI document, through the ASGI app, on both
backends, authenticated as root and as a viewer: no 5xx, and every response conforms to the
document (status code declared, content type, body schema).

Only the native ``/v1`` paths: the compatible faces declare their products' looser schemas
and are covered by the malformed-request corpus (test_malformed.py). Bounded per operation.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.bounds import scaled
from tests.helpers import ROOT_HEADERS, bearer, issue, manager

EXAMPLES = scaled(10, 100)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("role", ["root", "viewer"])
def test_native_api_conforms_to_its_schema(client: TestClient, role: str) -> None:
    issue(client, name="existing", recoverable=True)
    headers = ROOT_HEADERS if role == "root" else bearer(manager(client, role="viewer")["secret"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app).include(
        path_regex=r"^/v1/"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    failures: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # collect every operation's first failure, then fail
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
