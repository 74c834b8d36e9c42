"""The Litestar application factory: routes, OpenAPI, errors, middleware and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from accelerator import __version__
from accelerator.auth.controller import MeController
from accelerator.auth.guards import api_key_auth
from accelerator.health.controller import HealthController
from accelerator.infra.database import open_database
from accelerator.infra.errors import EXCEPTION_HANDLERS
from accelerator.infra.logging import configure_logging, request_id_middleware
from accelerator.settings import Settings, load_settings

logger = logging.getLogger("accelerator.app")


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


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the service; with no settings, read them from the environment."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, json_logs=settings.json_logs)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = open_database(settings.database_url)
        app.state.db = db
        try:
            yield
        finally:
            await db.dispose()

    return Litestar(
        route_handlers=[HealthController, MeController],
        state=State({"settings": settings}),
        lifespan=[lifespan],
        middleware=[request_id_middleware, api_key_auth],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=_openapi(),
        logging_config=None,
    )
