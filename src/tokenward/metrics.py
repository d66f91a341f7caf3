"""Prometheus metrics of tokenward, defined once; ``/metrics`` serves them.

Counters on the verification path are bound to their labels in advance: a lookup by label on
every request would cost more than the cached verification itself.

With several worker processes each worker counts its own requests. Set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before starting the server to have
``/metrics`` aggregate every worker (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from tokenward.domain.verification import VerifyCode

VERIFICATIONS = Counter(
    "tokenward_verifications",
    "Verifications answered, by outcome code",
    ["outcome"],
)
VERIFICATION_SECONDS = Histogram(
    "tokenward_verification_duration_seconds",
    "Time to verify a secret in the service, cache lookups and store reads included",
    buckets=(
        0.000005,
        0.00001,
        0.000025,
        0.00005,
        0.0001,
        0.00025,
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
    ),
)
CACHE_LOOKUPS = Counter(
    "tokenward_cache_lookups",
    "Verification cache lookups: hit (token or known-missing hash) or miss (store read)",
    ["result"],
)
HTTP_REQUESTS = Counter(
    "tokenward_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)

VERIFIED = {code: VERIFICATIONS.labels(code.value) for code in VerifyCode}
CACHE_HIT = CACHE_LOOKUPS.labels("hit")
CACHE_MISS = CACHE_LOOKUPS.labels("miss")
