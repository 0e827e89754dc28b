"""``create_app``: wires routers, the error envelope, rate limits and metrics."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import generate_latest
from sqlalchemy import text

from wowsino import __version__
from wowsino.bonuses.endpoints import router as bonuses_router
from wowsino.compliance.endpoints import kyc_router
from wowsino.compliance.endpoints import router as compliance_router
from wowsino.console.auth import end_sessions_of_other_tokens
from wowsino.console.routes import install_console
from wowsino.crm.endpoints import router as crm_router
from wowsino.engines.jackpots.endpoints import router as jackpots_router
from wowsino.engines.journeys.endpoints import router as journeys_router
from wowsino.engines.lootbox.endpoints import router as lootbox_router
from wowsino.engines.minigames.endpoints import router as minigames_router
from wowsino.engines.raffles.endpoints import router as raffles_router
from wowsino.engines.tournaments.endpoints import router as tournaments_router
from wowsino.events.endpoints import router as events_router
from wowsino.fairness.endpoints import router as fairness_router
from wowsino.fairness.page import install_verifier
from wowsino.games.callbacks import router as aggregator_router
from wowsino.games.endpoints import router as games_router
from wowsino.kernel.admin import check_admin_token_strength
from wowsino.kernel.auth import Principal, authenticate
from wowsino.kernel.body_limit import BodyLimitMiddleware
from wowsino.kernel.clock import Clock, SystemClock
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine, current_revision, head_revision
from wowsino.kernel.direct import DirectRoute, DirectRoutes, plan_direct_routes
from wowsino.kernel.http import (
    Metrics,
    RequestContextMiddleware,
    declare_errors,
    index_route_templates,
    install_error_handlers,
)
from wowsino.kernel.jsonio import DecimalRoute, MoneyJSONResponse
from wowsino.kernel.logs import configure_logging, log_failure
from wowsino.kernel.platform import Platform
from wowsino.kernel.replicas import ReadRouting
from wowsino.kyc.endpoints import callback_router as kyc_callback_router
from wowsino.kyc.endpoints import player_router as player_kyc_router
from wowsino.kyc.endpoints import router as kyc_vendor_router
from wowsino.pam.endpoints import player_router as player_sessions_router
from wowsino.pam.endpoints import router as auth_router
from wowsino.pam.engagement_endpoints import router as player_engagement_router
from wowsino.pam.player_endpoints import router as player_router
from wowsino.platform_api import router as platform_router
from wowsino.players.endpoints import router as players_router
from wowsino.tenants.endpoints import router as tenants_router
from wowsino.vip.endpoints import router as vip_router
from wowsino.wallet.endpoints import callback_router as psp_callback_router
from wowsino.wallet.endpoints import router as wallet_router
from wowsino.wallet.player_endpoints import router as player_wallet_router
from wowsino.webhooks.endpoints import router as webhooks_router

log = structlog.get_logger("wowsino.api")

DESCRIPTION = """The WOWsino API: players, the ledger, engagement engines.

Authenticate with `Authorization: Bearer wsk_live_…` or `wsk_test_…`. Every error is
`{"error", "code"}`; every write is idempotent (`idempotency_key` in the body or the
`Idempotency-Key` header)."""


async def save_usage(platform: Platform) -> None:
    """Flush the usage counts on the way out. With the database down the shutdown still
    completes: one log line says how many counted calls could not be saved."""
    try:
        await platform.usage.flush(platform.engine)
    except Exception as exc:
        log.warning("usage counts not saved at shutdown", unsaved_calls=platform.usage.pending,
                    error=type(exc).__name__)


# net allocations of tracked objects before the young generation is collected (see the
# lifespan; bench/README.md has the measurement)
YOUNG_GC_THRESHOLD = 100_000
WORKER_STOP_SECONDS = 10  # an in-process worker's job at hand, at shutdown, then cancelled
# how often an API process without a worker of its own saves its usage counts
USAGE_FLUSH_SECONDS = 1.0


async def flush_usage_forever(platform: Platform, every: float = USAGE_FLUSH_SECONDS) -> None:
    """Save the usage counts every ``every`` seconds, in an API process that runs no
    worker (the worker's ``flush_usage`` job does it otherwise): counts from every process
    reach ``usage_counters`` while they run, not only when they stop. A failed flush keeps
    its counts for the next one and logs one line."""
    while True:
        await asyncio.sleep(every)
        try:
            await platform.usage.flush(platform.engine)
        except Exception as exc:
            log_failure(log, "usage flush failed", exc, unsaved_calls=platform.usage.pending)


def app_from_env() -> FastAPI:
    """The app of each of ``wowsino serve --workers N``'s processes (uvicorn calls this
    factory in each): settings from the environment, the database at
    ``WOWSINO_DATABASE_URL`` (the parent started and migrated it), no in-process worker
    (the parent runs one ``wowsino worker`` beside them), so each process saves its own
    usage counts every second."""
    from wowsino.processes import die_with_parent

    settings = Settings.from_env()
    if not settings.database_url:
        raise RuntimeError("WOWSINO_DATABASE_URL is not set: start the API with wowsino serve")
    die_with_parent()
    return create_app(settings, database_url=settings.database_url)


def create_app(
    settings: Settings,
    *,
    database_url: str,
    clock: Clock | None = None,
    run_worker: bool = False,
    usage_flush_seconds: float | None = USAGE_FLUSH_SECONDS,
) -> FastAPI:
    """Build the ASGI app on ``database_url`` (migrations are the caller's job).

    Without the worker the app saves its usage counts every ``usage_flush_seconds``
    (None: only at shutdown, for tests that count what reaches the database).

    Raises ``WeakAdminToken`` for a production admin token shorter than 32 characters.
    """
    check_admin_token_strength(settings)
    configure_logging(json_logs=settings.log_json)
    engine = create_engine(database_url, pool_size=settings.db_pool_size)
    platform = Platform.build(settings, engine, clock or SystemClock())
    metrics = Metrics()
    metrics.registry.register(platform.reads.collector())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await end_sessions_of_other_tokens(platform)  # a changed admin token signs all out
        app.state.console_sessions_swept = True
        worker_task = worker = None
        if run_worker:
            from wowsino.worker import Worker

            worker = Worker(platform)
            worker_task = asyncio.create_task(worker.run_forever())
        elif usage_flush_seconds is not None:
            worker_task = asyncio.create_task(
                flush_usage_forever(platform, usage_flush_seconds))
        await platform.keys.start()
        await platform.reads.start()
        # what start-up built lives as long as the process: out of the collector's way
        gc.collect()
        gc.freeze()
        # a request's objects are freed by reference counting as it ends; at the default
        # threshold (700) the young generation was collected every few requests, walking
        # what the requests in flight hold (3-4% of the API's CPU), and at 7,000 a batch of
        # wager events (tens of thousands of objects alive until it answers) still set
        # off a collection, and every tenth one a middle one, several times per batch
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            await platform.keys.close()
            await platform.reads.close()
            if worker_task is not None:
                if worker is not None:  # the job at hand finishes; unsent deliveries go back
                    worker.stop()
                    await asyncio.wait([worker_task], timeout=WORKER_STOP_SECONDS)
                worker_task.cancel()
                with suppress(asyncio.CancelledError):
                    await worker_task
            await save_usage(platform)
            await platform.rate_limiter.close()
            await engine.dispose()

    app = FastAPI(
        title="WOWsino API", version=__version__, description=DESCRIPTION,
        openapi_url="/v1/openapi.json", docs_url="/docs", redoc_url=None,
        default_response_class=MoneyJSONResponse, lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.metrics = metrics
    install_error_handlers(app)
    direct_routes: list[DirectRoute] = []  # planned once every route is in, below
    app.state.direct_routes = direct_routes
    app.add_middleware(DirectRoutes, routes=direct_routes)  # innermost of ours
    app.add_middleware(ReadRouting, router=platform.reads)  # inside: sees the routed answer
    # added last, so outermost: the request id and the failure answer cover the limit's 413
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    ops = APIRouter(route_class=DecimalRoute, tags=["operations"])

    @ops.get("/healthz", summary="The process is up")
    async def healthz() -> MoneyJSONResponse:
        return MoneyJSONResponse({"status": "ok", "version": __version__})

    @ops.get("/readyz", summary="The database answers and migrations are current",
             responses={503: {"description": "SERVICE_UNAVAILABLE: the database is down "
                                             "or a migration is pending"}})
    async def readyz() -> MoneyJSONResponse:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                revision = await current_revision(conn)
        except Exception:
            return MoneyJSONResponse(
                {"error": "database unreachable", "code": "SERVICE_UNAVAILABLE"}, status_code=503
            )
        head = head_revision()
        if revision != head:
            return MoneyJSONResponse(
                {"error": f"migrations pending: at {revision}, head {head}",
                 "code": "SERVICE_UNAVAILABLE"}, status_code=503)
        return MoneyJSONResponse({"status": "ready", "migration": revision})

    @ops.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics_endpoint() -> PlainTextResponse:
        body = generate_latest(metrics.registry).decode()
        if settings.nats_url:  # the event stream's lag, from the database
            from wowsino.stream.relay import lag_metrics

            body += await lag_metrics(engine, platform.clock.now())
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4")

    v1 = APIRouter(prefix="/v1", route_class=DecimalRoute)

    @v1.get("/me", tags=["keys"], summary="The calling key: tenant, mode, scopes, brand")
    async def me(request: Request) -> MoneyJSONResponse:
        principal: Principal = await authenticate(request)
        if principal.publishable:  # it allows /v1/auth/* and the public listings only
            principal.require("*")
        return MoneyJSONResponse({
            "tenant": {"slug": principal.tenant_slug, "service_mode": principal.service_mode,
                       "key_mode": principal.realm.mode.value,
                       "scopes": sorted(principal.scopes)},
            "brand": {"slug": principal.brand_slug},
        })

    # routes are matched in order: the hottest writes (the spine, players) come first
    for router in (events_router, players_router, fairness_router, lootbox_router,
                   raffles_router, jackpots_router, minigames_router, webhooks_router,
                   bonuses_router, compliance_router, crm_router, vip_router,
                   journeys_router, tournaments_router, auth_router, player_sessions_router,
                   player_engagement_router, player_router, kyc_router, wallet_router,
                   player_wallet_router, psp_callback_router, games_router, aggregator_router,
                   kyc_vendor_router, player_kyc_router, kyc_callback_router):
        v1.include_router(router)
    v1.include_router(platform_router)
    app.include_router(ops)
    app.include_router(v1)
    app.include_router(tenants_router)
    install_console(app)
    install_verifier(app)
    declare_errors(app)
    index_route_templates(app)
    direct_routes.extend(plan_direct_routes(app))
    return app
