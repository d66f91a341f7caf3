"""``GET /metrics``: Prometheus text exposition of tokenward's metrics."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tokenward.api.dependencies import CoreDep, CredentialDep, EngineDep, client_address
from tokenward.api.native.errors import translate
from tokenward.api.native.schemas import ErrorBody
from tokenward.api.routing import face_route
from tokenward.service import auth, statistics
from tokenward.verification import Engine

router = APIRouter(route_class=face_route(translate), tags=["operations"])


class _Snapshot(Collector):
    """Gauges read at scrape time: tokens by tenant and state, and the cache's fill."""

    def __init__(self, engine: Engine, census: statistics.Census) -> None:
        self._engine = engine
        self._census = census

    def collect(self) -> Iterator[Metric]:
        tokens = GaugeMetricFamily(
            "tokenward_tokens",
            "Tokens by tenant and state (active, disabled, expired); refreshed every 30 s",
            labels=["tenant", "state"],
        )
        for tenant, state, count in self._census.rows():
            tokens.add_metric([tenant, state], count)
        yield tokens
        positive, negative = self._engine.cache.sizes()
        entries = GaugeMetricFamily(
            "tokenward_cache_entries", "Verification cache entries", labels=["kind"]
        )
        entries.add_metric(["token"], positive)
        entries.add_metric(["unknown_hash"], negative)
        yield entries


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    description="This process's counters and a census of the tokens, in the Prometheus text "
    "format. Root only, unless the server sets `TOKENWARD_METRICS_PUBLIC`.",
    responses={
        200: {"content": {"text/plain": {}}},
        **{
            status: {"model": ErrorBody, "description": text}
            for status, text in (
                (401, "`UNAUTHENTICATED`: no credential, or one that identifies no caller"),
                (403, "`FORBIDDEN`: only root reads the metrics"),
                (429, "`RATE_LIMITED`: too many failed authentications from this address"),
                (503, "`UNAVAILABLE`: the database cannot be reached"),
            )
        },
    },
)
def metrics(
    request: Request, core: CoreDep, engine: EngineDep, credentials: CredentialDep
) -> Response:
    """Counters of this process, and a census of the tokens. Root only unless
    ``TOKENWARD_METRICS_PUBLIC`` is set."""
    if not core.metrics_public:
        presented = credentials.credentials if credentials else None
        actor = auth.authenticate(core, presented, client=client_address(request))
        statistics.check_metrics_reader(actor)
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(engine, request.state.census))
    body = generate_latest(REGISTRY) + generate_latest(snapshot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
