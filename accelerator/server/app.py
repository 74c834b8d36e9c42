"""The Litestar application factory: routes, OpenAPI, errors, middleware, dependencies and the
lifespan that opens and closes the services."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import httpx
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import PluginProtocol
from litestar.types import ControllerRouterHandler, Middleware

from accelerator import __version__
from accelerator.audit.controller import AuditAdminController
from accelerator.audit.export_controller import AuditExportController
from accelerator.auth.controller import MeController
from accelerator.auth.guards import api_key_middleware
from accelerator.auth.keys import resolve_key
from accelerator.auth.principal import Principal
from accelerator.binding.controller import BindController
from accelerator.certificates.controller import (
    PolicyCertificateController,
    SellerCertificateController,
)
from accelerator.compliance.controller import ComplianceController
from accelerator.coverage.controller import (
    CoverageController,
    DecisionController,
    PolicyAdminController,
    PolicyController,
    SellerPolicyController,
)
from accelerator.health.controller import HealthController
from accelerator.infra.bodies import BATCH_BODY_MAX_BYTES, JSON_BODY_MAX_BYTES, ApiRequest
from accelerator.infra.errors import EXCEPTION_HANDLERS
from accelerator.infra.logging import configure_logging, request_id_middleware
from accelerator.infra.metrics import process_stopped
from accelerator.infra.prometheus import MetricsController, prometheus_config
from accelerator.infra.tracing import start_tracing
from accelerator.notifications.controller import WebhookEndpointController
from accelerator.partners.controller import PartnerController
from accelerator.quoting.controller import ProviderController, QuoteRequestController
from accelerator.quoting.runner import finish_abandoned
from accelerator.renewals.controller import PolicyRenewalController
from accelerator.risk.controller import CategoryController
from accelerator.sellers.controller import SellerController
from accelerator.server.openapi import document_operations
from accelerator.server.schema_plugins import (
    ClosedStructSchema,
    DecodedAsSchema,
    MetaConstraintsSchema,
)
from accelerator.server.services import Runtime, Services, configure, open_services
from accelerator.settings import Settings, load_settings
from accelerator.web import seller_pages
from accelerator.web.admin import admin_pages
from accelerator.web.session import ADMINS, WebSession, resolve_session
from accelerator.web.verification import VerificationController
from accelerator.webhooks.controller import InboxController, WebhookController

if TYPE_CHECKING:
    from accelerator.infra.tracing import Tracing

logger = logging.getLogger("accelerator.server")

#: How long shutdown waits for the heartbeat, the backlog count and the in-process workers to
#: finish what they are doing (then they are cancelled).
OPERATIONS_STOP_SECONDS: Final = 5.0
#: The least time between two retention purges of one process.
RETENTION_INTERVAL_SECONDS: Final = 3600.0

ROUTES: list[ControllerRouterHandler] = [
    HealthController,
    MeController,
    SellerController,
    CategoryController,
    ComplianceController,
    QuoteRequestController,
    ProviderController,
    BindController,
    CoverageController,
    DecisionController,
    SellerPolicyController,
    SellerCertificateController,
    PolicyCertificateController,
    PolicyRenewalController,
    VerificationController,
    AuditExportController,
    PolicyAdminController,
    PolicyController,
    WebhookController,
    InboxController,
    WebhookEndpointController,
    PartnerController,
    AuditAdminController,
]


def create_app(
    settings: Settings | None = None,
    *,
    insurer_transport: httpx.AsyncBaseTransport | None = None,
    tracing: Tracing | None = None,
) -> Litestar:
    """Build the service; with no settings, read them from the environment.

    ``insurer_transport`` replaces the network under every insurer client (tests pass respx).
    ``tracing`` traces into a given provider (tests); without it the ``OTEL_*`` variables
    decide, and tracing is off unless one asks for it (infra.tracing).
    """
    settings = settings or load_settings()
    logs = configure_logging(settings.log_level, json_logs=settings.json_logs)
    configured = configure(settings)
    tracing = tracing or start_tracing()
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        logs.start()  # again, if an earlier run of this app stopped it
        services = open_services(configured, insurer_transport=insurer_transport, tracing=tracing)
        runtime.start(services)
        background = await _start_background_work(services)
        # The heartbeat, the backlog count and the in-process workers stop between two
        # transactions rather than being cancelled inside one: a query cancelled at shutdown may
        # still be running in the SQLite driver's thread when the engine is disposed, and an
        # inbox claim cancelled there kept SQLite's write lock past the app's end, until a
        # garbage collection closed its connection (the heartbeat's removal and the next
        # writer waited out the busy timeout; docs/performance.md, "The test suite's time").
        stopping = asyncio.Event()
        operations = [
            asyncio.create_task(services.heartbeat.run(stopping), name="heartbeat"),
            asyncio.create_task(
                services.backlog.run(settings.backlog_snapshot_seconds, stopping),
                name="backlog-snapshot",
            ),
        ]
        if services.in_process_worker:
            operations += [
                asyncio.create_task(services.inbox_worker.run(stopping), name="inbox-worker"),
                asyncio.create_task(services.delivery_worker.run(stopping), name="delivery-worker"),
            ]
        # What is built by now lives as long as the app: frozen, the collector's full passes
        # stop walking it again and again (they were a fifth of a batch check's CPU,
        # docs/performance.md). Unfrozen at the end, so that an app that stops (a test's) can
        # still be collected; no collection first, which would cost each test's app a pass
        # over the whole test process.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            stopping.set()
            await asyncio.wait(operations, timeout=OPERATIONS_STOP_SECONDS)
            background += operations
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.heartbeat.forget()
            runtime.stop()
            await services.close()
            process_stopped()
            if tracing is not None:
                tracing.shutdown()  # exports the spans still queued
            logs.flush()  # every line logged so far is written before the app is gone

    async def resolve(secret: str) -> Principal | None:
        services = runtime.services
        return await resolve_key(services.keys, secret, settings.bootstrap_admin_key)

    async def find_session(cookie: str) -> WebSession | None:
        return await resolve_session(runtime.services.db, cookie)

    async def find_admin_session(cookie: str) -> WebSession | None:
        return await resolve_session(
            runtime.services.db,
            cookie,
            audience=ADMINS,
            bootstrap_key=settings.bootstrap_admin_key,
        )

    # Metrics first: a request refused by the key middleware is counted too.
    metrics: list[Any] = [prometheus_config().middleware] if settings.metrics_enabled else []
    middleware: list[Middleware] = [*metrics, request_id_middleware, api_key_middleware(resolve)]
    plugins: list[PluginProtocol] = [
        DecodedAsSchema(),
        MetaConstraintsSchema(),
        ClosedStructSchema(),
    ]
    if tracing is not None:
        # A server span per request around everything, named for its route once routed.
        plugins.append(tracing.asgi_plugin())
        middleware.insert(len(metrics) + 1, tracing.route_names)
    app = Litestar(
        route_handlers=[
            *ROUTES,
            *([MetricsController] if settings.metrics_enabled else []),
            *seller_pages(find_session),
            admin_pages(find_admin_session),
        ],
        dependencies=_dependencies(runtime),
        lifespan=[lifespan],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=_openapi(),
        plugins=plugins,
        request_class=ApiRequest,
        request_max_body_size=JSON_BODY_MAX_BYTES,
        logging_config=None,
    )
    document_operations(app)
    app.state.runtime = runtime
    return app


def runtime_of(app: Litestar) -> Runtime:
    """The services of an app that :func:`create_app` built (tests and benchmarks use them)."""
    runtime = app.state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


def _dependencies(runtime: Runtime) -> dict[str, Provide]:
    """What handlers may ask for by parameter name: the configuration and each service."""

    def provide(pick: Callable[[Services], Any]) -> Provide:
        # Synchronous and not in a thread: each is an attribute read.
        return Provide(lambda: pick(runtime.services), sync_to_thread=False)

    return {
        "settings": provide(lambda s: s.configured.settings),
        "rulebook": provide(lambda s: s.configured.rulebook),
        "taxonomy": provide(lambda s: s.configured.taxonomy),
        "db": provide(lambda s: s.db),
        "partners": provide(lambda s: s.partners),
        "sellers": provide(lambda s: s.sellers),
        "quoting": provide(lambda s: s.quoting),
        "coverage": provide(lambda s: s.coverage),
        "certificates": provide(lambda s: s.certificates),
        "renewals": provide(lambda s: s.renewals),
        "decisions": provide(lambda s: s.decisions),
        "policy_admin": provide(lambda s: s.policy_admin),
        "compliance": provide(lambda s: s.compliance),
        "binding": provide(lambda s: s.binding),
        "webhooks": provide(lambda s: s.webhooks),
        "notifications": provide(lambda s: s.notifications),
        "audit_export": provide(lambda s: s.audit_export),
        "chain_verifier": provide(lambda s: s.chain_verifier),
        "operations_status": provide(lambda s: s.status),
    }


async def _start_background_work(services: Services) -> list[asyncio.Task[None]]:
    # Requests a previous process left `collecting` are finished before we serve anything
    # (unless the database is not ready yet: /health/ready says why, the sweep retries).
    try:
        await _finish_abandoned(services)
        binds_waiting = await services.bind_reconciler.any_waiting()
        if linked := await services.policy_admin.link_submissions():
            logger.info("linked %d submitted policies to the insurers they name", linked)
    except Exception:
        # The sweeps retry abandoned requests and binds; submissions are linked at next start.
        logger.exception("start-up housekeeping failed")
        binds_waiting = False  # the first sweep looks again
    background = [
        asyncio.create_task(_sweep(services), name="sweeper"),
        # Binds ask insurers (up to a bind timeout each): in a task of their own, at once if any
        # may wait, so that neither serving nor the quote sweep waits for them.
        asyncio.create_task(
            _reconcile_binds(services, at_once=binds_waiting), name="bind-reconciler"
        ),
        # Each process purges old captures and audit prefixes at most hourly; several at once
        # skip each other's capture rows and wait for each other on a chain's head.
        asyncio.create_task(_purge_expired(services), name="retention"),
        # Reminders (policy.expiring, compliance.deadline): every process tries, one sweeps.
        asyncio.create_task(_sweep_reminders(services), name="reminders"),
    ]
    # Revocations drop the keys this process remembers (see auth.cache).
    background.append(asyncio.create_task(services.keys.watch(), name="key-revocations"))
    return background


async def _finish_abandoned(services: Services) -> None:
    if finished := await finish_abandoned(services.db):
        services.metrics.quote_finished("abandoned", finished)


async def _sweep(services: Services) -> None:
    """Now and then: finish quote requests abandoned by another process that died mid fan-out,
    and mark the decisions that events recorded since would change (audit.affected)."""
    while True:
        await asyncio.sleep(services.configured.settings.sweep_interval_seconds)
        try:
            await _finish_abandoned(services)
        except Exception:  # a failed sweep is retried at the next tick
            logger.exception("sweep failed")
        try:
            await services.affected.run_until_idle()
        except Exception:  # the events stay queued for the next tick
            logger.exception("marking affected decisions failed")


async def _sweep_reminders(services: Services) -> None:
    """Every ``reminder_sweep_seconds``: open the renewals due (renewals.sweep), then announce
    the reminders due (notifications.sweep); a process that finds another sweeping skips its
    turn. A failed sweep is retried at the next tick, and catches up then."""
    while True:
        await asyncio.sleep(services.configured.settings.reminder_sweep_seconds)
        # Renewals first: the 60-day policy.expiring event names the renewal opened for it.
        try:
            opened = await services.renewal_sweep.run()
        except Exception:  # retried at the next tick
            logger.exception("renewal sweep failed")
        else:
            if opened:
                logger.info("opened %d renewal quote request(s)", len(opened))
        try:
            result = await services.reminders.run()
        except Exception:  # retried at the next tick
            logger.exception("reminder sweep failed")
        else:
            if result is not None and (result.expiring or result.deadlines):
                logger.info(
                    "announced %d expiring policies and %d deadlines",
                    result.expiring,
                    result.deadlines,
                )


async def _purge_expired(services: Services) -> None:
    """At the first sweep tick and then at most once an hour: purge captures and webhook bodies,
    and the prefixes of the audit trail's chains, past their retention (audit/retention.py). A
    failed purge is retried at the next tick."""
    next_due = 0.0
    while True:
        await asyncio.sleep(services.configured.settings.sweep_interval_seconds)
        if time.monotonic() < next_due:
            continue
        try:
            await services.retention.purge(datetime.now(UTC))
        except Exception:  # retried at the next tick
            logger.exception("retention purge failed")
        else:
            next_due = time.monotonic() + RETENTION_INTERVAL_SECONDS


async def _reconcile_binds(services: Services, *, at_once: bool) -> None:
    """Now and then, and at start-up when a bind may wait: finish binds whose process died
    while the insurer was binding (binding/reconcile.py)."""
    if not at_once:
        await asyncio.sleep(services.configured.settings.sweep_interval_seconds)
    while True:
        try:
            await services.bind_reconciler.run_once()
        except Exception:  # retried at the next tick
            logger.exception("bind reconciliation failed")
        await asyncio.sleep(services.configured.settings.sweep_interval_seconds)


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Insurance Accelerator",
        version=__version__,
        description=(
            "Quote matching for marketplace product-liability insurance: risk profiles, quotes "
            "from many insurers, ranked offers, binding, and coverage checks for claims. "
            "Errors are RFC 9457 problem documents (`application/problem+json`): each "
            "operation lists the statuses and `code` values it can answer with. JSON bodies must "
            f"be sent as `application/json`, at most {JSON_BODY_MAX_BYTES:,} bytes "
            f"({BATCH_BODY_MAX_BYTES:,} for a batch of coverage checks; an insurer webhook's "
            "limit is in its description); larger ones get a 413."
        ),
        path="/schema",
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API key from `accelerator keys create`.",
                )
            }
        ),
        security=[{"apiKey": []}],
        use_handler_docstrings=True,
    )
