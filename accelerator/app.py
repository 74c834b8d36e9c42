"""The Litestar application factory: routes, OpenAPI, errors, middleware and the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from accelerator import __version__
from accelerator.auth.controller import MeController
from accelerator.auth.guards import api_key_auth
from accelerator.binding.controller import BindController
from accelerator.binding.service import BindingService
from accelerator.coverage.controller import (
    CoverageController,
    PolicyController,
    SellerPolicyController,
)
from accelerator.coverage.service import CoverageService
from accelerator.health.controller import HealthController
from accelerator.infra.database import Database, open_database
from accelerator.infra.errors import EXCEPTION_HANDLERS
from accelerator.infra.logging import configure_logging, request_id_middleware
from accelerator.quoting.controller import ProviderController, QuoteRequestController
from accelerator.quoting.fanout import FanOutPolicy
from accelerator.quoting.partners import close_partners, open_partners, provider_settings
from accelerator.quoting.runner import QuoteRunner, finish_abandoned
from accelerator.quoting.service import QuotingService
from accelerator.ranking.score import RankingWeights, WeightedScore
from accelerator.risk.taxonomy import load_taxonomy
from accelerator.rulesets.loader import load_rulesets
from accelerator.sellers.controller import SellerController
from accelerator.sellers.service import SellerService
from accelerator.settings import Settings, load_settings
from accelerator.web import SELLER_PAGES
from accelerator.webhooks.controller import InboxController, WebhookController
from accelerator.webhooks.service import WebhookService
from accelerator.webhooks.turns import ReceivesFirst
from accelerator.webhooks.worker import InboxWorker

logger = logging.getLogger("accelerator.app")
SWEEP_INTERVAL_SECONDS = 5.0


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Insurance Accelerator",
        version=__version__,
        description=(
            "Quote matching for marketplace product-liability insurance: risk profiles, quotes "
            "from many insurers, ranked offers, binding, and coverage checks for claims. "
            "Errors are RFC 9457 problem documents."
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


async def _sweep(db: Database) -> None:
    """Now and then: finish quote requests abandoned by another process that died mid fan-out."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
        try:
            await finish_abandoned(db)
        except Exception:  # a failed sweep is retried at the next tick
            logger.exception("sweep failed")


def create_app(
    settings: Settings | None = None, *, insurer_transport: httpx.AsyncBaseTransport | None = None
) -> Litestar:
    """Build the service; with no settings, read them from the environment.

    ``insurer_transport`` replaces the network under every insurer client (tests pass respx).
    """
    settings = settings or load_settings()
    configure_logging(settings.log_level, json_logs=settings.json_logs)
    # Loaded (and validated) once at start-up: a bad data file stops the service here.
    rulebook = load_rulesets(settings.ruleset_overrides)
    taxonomy = load_taxonomy()
    configured = provider_settings(settings.providers)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = open_database(settings.database_url)
        partners = open_partners(
            configured,
            default_timeout_seconds=settings.insurer_timeout_seconds,
            transport=insurer_transport,
        )
        runner = QuoteRunner(
            db,
            partners,
            FanOutPolicy(
                deadline_seconds=settings.quote_deadline_seconds,
                insurer_timeout_seconds=settings.insurer_timeout_seconds,
            ),
        )
        sellers = SellerService(db, rulebook, taxonomy)
        in_process = settings.inbox_worker == "in_process"
        # This process's worker takes turns with its receives (accelerator.webhooks.turns).
        turns = ReceivesFirst(one_writer=db.is_sqlite)
        inbox_worker = InboxWorker(db, partners, turns=turns)
        webhooks = WebhookService(db, partners, turns=turns)
        if in_process:  # a stored delivery wakes this process's worker at once
            webhooks = WebhookService(db, partners, on_stored=inbox_worker.wake, turns=turns)
        app.state.update(
            db=db,
            partners=partners,
            runner=runner,
            sellers=sellers,
            coverage=CoverageService(db, rulebook, taxonomy),
            binding=BindingService(db, partners, rulebook, settings.additional_insured_name),
            inbox_worker=inbox_worker,
            webhooks=webhooks,
            quoting=QuotingService(
                db,
                sellers,
                runner,
                default_deadline_seconds=settings.quote_deadline_seconds,
                max_deadline_seconds=settings.quote_deadline_max_seconds,
            ),
        )
        # Requests a previous process left `collecting` are finished before we serve anything
        # (unless the database is not ready yet: /health/ready says why, the sweep retries).
        try:
            await finish_abandoned(db)
        except Exception:
            logger.exception("could not finish abandoned quote requests at start-up")
        background = [asyncio.create_task(_sweep(db), name="sweeper")]
        if in_process:
            background.append(asyncio.create_task(inbox_worker.run(), name="inbox-worker"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await runner.close()
            await webhooks.close()
            await close_partners(partners)
            await db.dispose()

    return Litestar(
        route_handlers=[
            HealthController,
            MeController,
            SellerController,
            QuoteRequestController,
            ProviderController,
            BindController,
            CoverageController,
            SellerPolicyController,
            PolicyController,
            WebhookController,
            InboxController,
            *SELLER_PAGES,
        ],
        state=State(
            {
                "settings": settings,
                "rulebook": rulebook,
                "taxonomy": taxonomy,
                "ranking": WeightedScore(RankingWeights(**settings.ranking_weights)),
            }
        ),
        lifespan=[lifespan],
        middleware=[request_id_middleware, api_key_auth],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=_openapi(),
        logging_config=None,
    )
