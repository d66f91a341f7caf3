"""The composition root: ``create_app(settings)`` builds everything; importing does nothing."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine as DatabaseEngine
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from tokenward import __version__, console, metrics
from tokenward.api import docs
from tokenward.api.dialects.boomerang.router import router as boomerang_router
from tokenward.api.dialects.cedalo.router import router as cedalo_router
from tokenward.api.dialects.devo.router import router as devo_router
from tokenward.api.dialects.query.router import router as query_router
from tokenward.api.middleware import BodyLimitMiddleware
from tokenward.api.native import draining
from tokenward.api.native.errors import install_error_handlers
from tokenward.api.native.fast_verify import VerifyFastPath
from tokenward.api.native.leaks import router as leaks_router
from tokenward.api.native.metrics import router as metrics_router
from tokenward.api.native.policies import router as policies_router
from tokenward.api.native.router import router as native_router
from tokenward.api.native.webhooks import router as webhooks_router
from tokenward.api.oauth2.exchange import router as exchange_router
from tokenward.api.oauth2.router import router as oauth2_router
from tokenward.api.observability import RequestObservation
from tokenward.domain import secrets as secret_format
from tokenward.domain.errors import Unavailable
from tokenward.keys import sealer_for_store, secure_data_dir
from tokenward.lifecycle import Dispatcher, DispatchSettings
from tokenward.log_config import configure_logging
from tokenward.service import exchange, reuse, signing_keys, usage
from tokenward.service.core import Core
from tokenward.service.ratelimit import AuthFailureLimiter
from tokenward.service.statistics import Census
from tokenward.settings import Settings
from tokenward.signing.ring import KeyRing
from tokenward.signing.schedule import Schedule
from tokenward.store.console_sessions import SqlConsoleSessions
from tokenward.store.dispatch_lock import dispatch_lock
from tokenward.store.engine import ensure_sqlite_dir, make_engine, secure_sqlite_files
from tokenward.store.lookup import SqlSecretLookup
from tokenward.store.notifications import ChangeListener
from tokenward.store.replica import Replica, ReplicaLookup
from tokenward.store.unit_of_work import SqlUnitOfWorkFactory
from tokenward.verification import Engine
from tokenward.verification.cache import VerificationCache
from tokenward.verification.controls import Controls
from tokenward.verification.controls.redis_counters import RedisCounters
from tokenward.verification.controls.shared_counters import SharedCounters
from tokenward.verification.credits import StoreCreditLedger

log = logging.getLogger("tokenward")

#: Longer than the cache's time-to-live: older entries of the change log can matter to no one.
CHANGE_LOG_KEEP_SECONDS = 600.0
#: How often the secrets that verifications queued as probable reuses are reported: a
#: reuse's report comes within about this of the replay (docs/lifecycle.md).
REUSE_REPORT_SECONDS = 0.5
#: The change-log poll's interval while a PostgreSQL listener is connected (``_sync_due``):
#: what bounds a revocation's reach if a notification's connection died without a word,
#: until TCP keepalive (``ChangeListener``) notices and the poll resumes its own interval.
LISTENING_POLL_SECONDS = 1.0
#: A server worker's garbage-collection thresholds: Python's defaults (700, 10) for the young
#: generations, whose collections are short; a full collection only after 100 collections of
#: the middle one, not 10 (measured in bench/RESULTS.md, "tail").
GC_THRESHOLDS = (700, 10, 100)


def build_verifier(
    settings: Settings, database: DatabaseEngine, reads: ReplicaLookup | None = None
) -> Engine:
    """The verification engine on ``database``, its lookups on a read replica with ``reads``:
    one per process, closed by its builder."""
    return Engine(
        uow=SqlUnitOfWorkFactory(database),
        lookup=reads or SqlSecretLookup(database),
        cache=VerificationCache(positive_size=settings.cache_size),
        observer=metrics.STATS,
        controls=_controls(settings, database),
    )


def _controls(settings: Settings, database: DatabaseEngine) -> Controls:
    """Rate limits counted in Redis when it is configured, shared by every worker and server;
    else in the file the workers of this server share (``rate_limit_dir``, which ``serve``
    sets for several workers); else in this process. Credits are the store's either way."""
    ledger = StoreCreditLedger(SqlUnitOfWorkFactory(database))
    if not settings.redis_url:
        if settings.rate_limit_dir is not None:
            return Controls(ledger, SharedCounters(settings.rate_limit_dir))
        return Controls(ledger)
    counters = RedisCounters(
        settings.redis_url, prefix=settings.redis_prefix, failure_mode=settings.redis_failure
    )
    metrics.watch_redis(counters)
    return Controls(ledger, counters)


def _sync_due(verifier: Engine, listener: ChangeListener | None) -> Callable[[], bool]:
    """Whether the change-log poll should run now (asked on the event loop every
    ``TOKENWARD_CACHE_SYNC_SECONDS``).

    While a PostgreSQL listener is connected, a ``NOTIFY`` at commit already makes this
    process sync at once, so the poll is only a backstop, every ``LISTENING_POLL_SECONDS``:
    polling every 50 ms in every worker cost the processes and the database a share of a
    core for nothing (docs/operations.md). Without a listener, or while it reconnects, the
    poll runs at its own interval (on SQLite only when the store shows a commit)."""
    last = time.monotonic()

    def due() -> bool:
        nonlocal last
        if listener is None or not listener.connected.is_set():
            return verifier.changes_may_be_pending()
        now = time.monotonic()
        if now - last < LISTENING_POLL_SECONDS:
            return False
        last = now
        return True

    return due


def _on_notify(verifier: Engine) -> Callable[[list[int | None]], object]:
    """A notification's tokens are dropped from the cache at once, before the read of the
    change log that brings the rest (new secrets, the log's position) up to date."""

    def on_notify(token_ids: list[int | None]) -> None:
        if token_ids:
            verifier.changed(token_ids)
        verifier.sync()

    return on_notify


def signing_schedule(settings: Settings) -> Schedule:
    return Schedule(
        cache=timedelta(seconds=settings.jwks_cache_seconds),
        rotate_every=timedelta(days=settings.signing_rotation_days),
    )


def key_refresh_seconds(settings: Settings) -> float:
    """Well inside the notice a new key gets (one JWKS cache period), so that every process
    holds a key before it starts to sign."""
    return max(0.5, min(60.0, settings.jwks_cache_seconds / 4))


def build_dispatcher(settings: Settings, core: Core, database: DatabaseEngine) -> Dispatcher:
    """The webhook dispatcher and scheduler; every process runs one, the store's lock lets one
    work at a time."""
    return Dispatcher(
        core.uow,
        core.sealer,
        dispatch_lock(database),
        clock=core.clock,
        settings=DispatchSettings(
            allow_private=settings.webhook_allow_private,
            scheduler_seconds=settings.scheduler_interval_seconds,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            total_timeout=settings.webhook_timeout_seconds,
        ),
    )


def build_core(
    settings: Settings,
    database: DatabaseEngine,
    verifier: Engine | None = None,
    reads: ReplicaLookup | None = None,
) -> Core:
    """The management use cases' dependencies, shared by the HTTP app and the CLI's operator
    mode; ``verifier`` is told of their changes and reads their credentials. Without one, a
    verifier of its own: for a one-off command that verifies nothing, whose store reads open
    no connection until asked and end with ``database``. With ``reads`` (the verifier's
    replica lookup) the lists read from the replica; credentials stay on the primary, where
    a revoked one stops working at once."""
    if verifier is None:
        verifier = build_verifier(settings, database)
    uow = SqlUnitOfWorkFactory(database, replica=None if reads is None else reads.replica)
    return Core(
        uow=uow,
        sealer=sealer_for_store(uow, secret_key=settings.secret_key, data_dir=settings.data_dir),
        changes=verifier,
        secrets=verifier if reads is None else reads.primary,
        admin_token_hash=(
            secret_format.hash_secret(settings.admin_token) if settings.admin_token else None
        ),
        metrics_public=settings.metrics_public,
        auth_failures=AuthFailureLimiter(settings.auth_failure_limit),
    )


def open_engine(settings: Settings) -> DatabaseEngine:
    url = settings.resolved_database_url
    secure_data_dir(settings.data_dir)
    ensure_sqlite_dir(url)
    secure_sqlite_files(url)
    return make_engine(url)


def serve_app() -> ASGIApp:
    """What ``tokenward serve`` runs in each worker: settings from the environment, and the
    process's logging configured (tests build apps with ``create_app`` and keep their own)."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, drain_on_sigterm=True)
    # The modules, the app and its models are objects that live as long as the process: a
    # full collection walking them all stalled every request in flight (bench/RESULTS.md).
    # Frozen, they are left out of every collection.
    gc.collect()
    gc.freeze()
    # What is left for a full collection is mostly the verification cache (about five
    # objects an entry), and a miss-heavy load replaces entries without end, so the default
    # thresholds ran one every few thousand requests. Full collections rarer, not disabled:
    # garbage in reference cycles is still freed, later.
    gc.set_threshold(*GC_THRESHOLDS)
    return app


def create_app(settings: Settings | None = None, *, drain_on_sigterm: bool = False) -> ASGIApp:
    """``drain_on_sigterm``: this process is a server's (``serve_app``), and a ``SIGTERM``
    drains it before it stops (``_drain_on_sigterm``); tests' apps leave signals alone."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        database = open_engine(settings)
        reads = None
        if settings.database_replica_url:
            reads = ReplicaLookup(database, Replica(settings.database_replica_url))
            metrics.watch_replica(reads.replica)
        verifier = build_verifier(settings, database, reads)
        core = build_core(settings, database, verifier, reads)
        await run_in_threadpool(verifier.start)
        ring = KeyRing(signing_schedule(settings), core.clock)
        algorithm = settings.signing_algorithm
        await run_in_threadpool(signing_keys.refresh, core, ring, algorithm=algorithm)
        issuance = exchange.Issuance(
            ring=ring,
            issuer=settings.resolved_issuer,
            lifetime=timedelta(seconds=settings.exchange_lifetime_seconds),
            requires_credential=settings.verify_requires_auth,
        )
        listener = None
        if database.dialect.name == "postgresql":
            listener = ChangeListener(settings.resolved_database_url, _on_notify(verifier))
            listener.start()
        tasks = [
            asyncio.create_task(
                _every(
                    settings.last_use_flush_seconds,
                    verifier.flush,
                    "write last-use times",
                    proves_store=False,  # with nothing to write it asks the store nothing
                )
            ),
            asyncio.create_task(
                _every(
                    settings.cache_sync_seconds,
                    verifier.sync,
                    "read the change log",
                    when=_sync_due(verifier, listener),
                )
            ),
            asyncio.create_task(
                _every(
                    60.0, lambda: verifier.prune_changes(CHANGE_LOG_KEEP_SECONDS), "prune changes"
                )
            ),
            asyncio.create_task(
                _every(
                    key_refresh_seconds(settings),
                    lambda: signing_keys.refresh(core, ring, algorithm=algorithm),
                    "refresh the signing keys",
                )
            ),
            asyncio.create_task(
                _every(60.0, lambda: exchange.prune(core), "prune the issued JWTs")
            ),
            asyncio.create_task(
                _every(
                    settings.usage_flush_seconds,
                    verifier.flush_usage,
                    "write usage counts",
                    proves_store=False,
                )
            ),
            asyncio.create_task(
                _every(
                    3600.0,
                    lambda: usage.prune(
                        core,
                        hourly_days=settings.usage_hourly_days,
                        daily_days=settings.usage_daily_days,
                    ),
                    "prune usage counts",
                )
            ),
        ]
        keep_retired = timedelta(days=settings.reuse_keep_days)
        tasks += [
            asyncio.create_task(
                _every(
                    REUSE_REPORT_SECONDS,
                    lambda: verifier.report_reuses(
                        lambda secret_hash: reuse.report_reuse(core, secret_hash, keep=keep_retired)
                    ),
                    "report reused secrets",
                    when=verifier.reuses_pending,
                )
            ),
            asyncio.create_task(
                _every(
                    3600.0, lambda: reuse.prune(core, keep=keep_retired), "prune retired secrets"
                )
            ),
        ]
        dispatcher = build_dispatcher(settings, core, database)
        tasks.append(asyncio.create_task(dispatcher.run()))
        shared = None
        if settings.metrics_dir is not None:
            shared = metrics.share_counts(settings.metrics_dir)
            tasks.append(asyncio.create_task(_every(1.0, shared.publish, "publish metrics")))
        if drain_on_sigterm:
            _drain_on_sigterm(settings.drain_seconds)
        try:
            yield {
                "core": core,
                "engine": verifier,
                "census": Census(core),
                "issuance": issuance,
                console.STATE_KEY: SqlConsoleSessions(database),
            }
        finally:
            if listener is not None:
                await run_in_threadpool(listener.stop)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(dispatcher.close)
            await run_in_threadpool(verifier.flush)
            if shared is not None:
                shared.publish()
            # The engine's connections first: the verifier's last act releases the WAL
            # index's descriptor, which must outlive this process's SQLite connections.
            database.dispose()
            if reads is not None:
                reads.replica.close()
            verifier.close()

    app = FastAPI(
        title="tokenward",
        version=__version__,
        description="Issue, manage and verify API tokens.",
        lifespan=lifespan,
        # Served by api.docs from the package instead of FastAPI's pages, which load a CDN.
        docs_url=None,
        redoc_url=None,
        middleware=[
            Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes),
        ],
    )
    faces = (
        native_router,
        webhooks_router,
        policies_router,
        leaks_router(settings.leak_public_keys),
        metrics_router,
        oauth2_router,
        exchange_router,
        boomerang_router,
        query_router,
        devo_router,
        cedalo_router,
    )
    for router in faces:
        app.include_router(router)
    # Open by configuration: the credential these take is optional, not required.
    open_operations = [] if settings.verify_requires_auth else [("post", "/v1/verify")]
    if settings.metrics_public:
        open_operations.append(("get", "/metrics"))
    docs.install(app, open_operations=open_operations)
    _mount_console(app, settings)
    install_error_handlers(app)
    observed = RequestObservation(app, public_url=settings.public_url)
    return VerifyFastPath(
        observed,
        max_body_bytes=settings.max_body_bytes,
        requires_credential=settings.verify_requires_auth,
    )


def _mount_console(app: FastAPI, settings: Settings) -> None:
    """The web console at ``/console``; ``/`` leads there."""
    app.mount(
        console.PREFIX,
        console.create_console(
            console.ConsoleConfig(
                idle_seconds=settings.console_idle_seconds,
                max_age_seconds=settings.console_max_age_seconds,
                https_only=(settings.public_url or "").startswith("https://"),
            )
        ),
    )

    @app.get("/", include_in_schema=False)
    @app.get(console.PREFIX, include_in_schema=False)
    async def to_console() -> RedirectResponse:
        return RedirectResponse(f"{console.PREFIX}/", status_code=307)


def _drain_on_sigterm(seconds: float) -> None:
    """Puts a drain in front of the server's own ``SIGTERM`` handler (uvicorn's, which stops
    taking connections, waits for the requests in flight, then runs the lifespan's shutdown
    that writes the buffers): for ``seconds`` the process keeps serving while ``/readyz``
    says 503, so that the load balancer stops sending before connections are refused.

    Installed from the lifespan, after uvicorn installed its handler in this worker and on the
    main thread. A repeated ``SIGTERM`` changes nothing: with several workers the parent sends
    one to each, and a service manager may send its own to every process as well. ``SIGINT``
    (Ctrl-C) still stops at once."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return
    stop = signal.getsignal(signal.SIGTERM)
    if not callable(stop):
        return

    def wait_then_stop(sig: int) -> None:
        log.info("draining: /readyz answers 503 for %.1f s, then the server stops", seconds)
        time.sleep(seconds)
        log.info("drained: no new connections; finishing the requests in flight")
        stop(sig, None)

    def on_sigterm(sig: int, frame: object) -> None:
        # Only what is safe in a signal handler here: set a flag, start a thread.
        if draining.active():
            return
        draining.begin()
        threading.Thread(target=wait_then_stop, args=(sig,), name="drain", daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)


async def _every(
    interval: float,
    job: Callable[[], object],
    doing: str,
    when: Callable[[], bool] = lambda: True,
    *,
    proves_store: bool = True,
) -> None:
    """Runs ``job`` in a thread every ``interval`` seconds; ``when``, asked on the event loop,
    can spare it a run. A job that ``proves_store`` has used the database when it returns,
    so its success ends an outage."""
    while True:
        await asyncio.sleep(interval)
        try:
            if when():
                await run_in_threadpool(job)
                if proves_store:
                    metrics.STORE_OUTAGES.succeeded()
        except Unavailable as exc:  # logged once per outage, not once per tick
            metrics.STORE_OUTAGES.failed(doing, exc.message)
        except Exception:  # the next tick retries; serving must not stop for this
            log.exception("could not %s", doing)
