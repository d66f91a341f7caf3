"""/metrics in the Prometheus text format, and one structured log line per request."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import ROOT_HEADERS, bearer, issue, manager, tenant
from tokenward.app import create_app
from tokenward.log_config import JsonFormatter, TextFormatter
from tokenward.settings import Settings


def scrape(client: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    answer = client.get("/metrics", headers=ROOT_HEADERS)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def test_metrics_parse_and_count(client: TestClient) -> None:
    tenant(client, "acme")
    good = issue(client, "acme")
    issue(client, "acme", active=False)
    before = scrape(client)
    valid_before = before.get("tokenward_verifications_total", {}).get((("outcome", "VALID"),), 0.0)
    verify_200 = (("method", "POST"), ("route", "/v1/verify"), ("status", "200"))
    verify_before = before.get("tokenward_http_requests_total", {}).get(verify_200, 0.0)
    for _ in range(3):
        client.post("/v1/verify", json={"token": good["secret"]})
    client.post("/v1/verify", json={"token": "junk"})
    after = scrape(client)
    verifications = after["tokenward_verifications_total"]
    assert verifications[(("outcome", "VALID"),)] == valid_before + 3
    assert verifications[(("outcome", "MALFORMED"),)] >= 1
    assert after["tokenward_verification_duration_seconds_count"][()] >= 4
    assert after["tokenward_cache_lookups_total"][(("result", "hit"),)] >= 2
    assert after["tokenward_cache_lookups_total"][(("result", "miss"),)] >= 1
    tokens = after["tokenward_tokens"]
    assert tokens[(("state", "active"), ("tenant", "acme"))] == 1
    assert tokens[(("state", "disabled"), ("tenant", "acme"))] == 1
    http = after["tokenward_http_requests_total"]
    assert http[verify_200] == verify_before + 4
    assert (
        http[(("method", "POST"), ("route", "/v1/tenants/{tenant}/tokens"), ("status", "201"))] >= 2
    )
    assert after["tokenward_cache_entries"][(("kind", "token"),)] >= 1


def test_metrics_need_root_unless_public(client: TestClient, settings: Settings) -> None:
    assert client.get("/metrics").status_code == 401
    admin = bearer(manager(client, role="admin")["secret"])
    assert client.get("/metrics", headers=admin).status_code == 403
    public = settings.model_copy(update={"metrics_public": True})
    with TestClient(create_app(public)) as open_client:
        assert open_client.get("/metrics").status_code == 200


def test_unknown_paths_share_one_label(client: TestClient) -> None:
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    http = scrape(client)["tokenward_http_requests_total"]
    assert not any("/no/such" in dict(labels)["route"] for labels in http)
    assert http[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] >= 2


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def test_one_log_line_per_request_never_a_secret(
    client: TestClient, request_log: pytest.LogCaptureFixture
) -> None:
    admin = manager(client, role="admin")
    made = client.post(
        "/v1/tenants/default/tokens",
        json={"name": "x", "recoverable": True},
        headers=bearer(admin["secret"]),
    ).json()
    request_log.clear()
    answer = client.get(
        f"/v1/tenants/default/tokens/{made['id']}/secret", headers=bearer(admin["secret"])
    )
    verified = client.post("/v1/verify", json={"token": made["secret"]})
    lines = [r for r in request_log.records if r.name == "tokenward.requests"]
    assert len(lines) == 2
    verify = lines[1]
    assert verify.route == "/v1/verify" and verify.status == 200  # type: ignore[attr-defined]
    assert verify.levelno == logging.DEBUG
    assert verify.request_id == verified.headers["x-request-id"]  # type: ignore[attr-defined]
    reveal = lines[0]
    assert reveal.route == "/v1/tenants/{tenant}/tokens/{token_id}/secret"  # type: ignore[attr-defined]
    assert reveal.status == 200 and reveal.method == "GET"  # type: ignore[attr-defined]
    assert reveal.request_id == answer.headers["x-request-id"]  # type: ignore[attr-defined]
    assert reveal.tenant == "default"  # type: ignore[attr-defined]
    assert reveal.actor == f"root#{admin['id']}"  # type: ignore[attr-defined]
    for record in request_log.records:
        for formatter in (JsonFormatter(), TextFormatter()):
            text = formatter.format(record)
            assert made["secret"] not in text and admin["secret"] not in text
    entry = json.loads(JsonFormatter().format(reveal))
    assert entry["route"] == reveal.route and entry["level"] == "info"  # type: ignore[attr-defined]
    assert isinstance(entry["duration_ms"], float)


def test_every_malformed_secret_is_counted(client: TestClient) -> None:
    """A short junk string and one too long to hash are both counted, once each."""
    key = (("outcome", "MALFORMED"),)
    before = scrape(client).get("tokenward_verifications_total", {}).get(key, 0.0)
    for junk in ("junk", "tw_" + "x" * 300):
        answer = client.post("/v1/verify", json={"token": junk})
        assert answer.json()["code"] == "MALFORMED"
    assert scrape(client)["tokenward_verifications_total"][key] == before + 2
