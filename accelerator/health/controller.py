"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from accelerator.infra.database import Database
from accelerator.infra.migrations import current_revision, head_revision
from schemas import Health


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="getLiveness", summary="The process is up")
    async def live(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="Database reachable, migrations current",
        responses={
            503: ResponseSpec(Health, description="Not ready: the database or its migrations")
        },
    )
    async def ready(self, db: NamedDependency[Database]) -> Response[Health]:
        head = head_revision()
        try:
            async with db.read_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            current = await current_revision(db.read_engine)
        except Exception as exc:  # any failure to reach the database means "not ready"
            return Response(
                Health(status="unavailable", database="unreachable", reason=type(exc).__name__),
                status_code=503,
            )
        if current != head:
            return Response(
                Health(
                    status="unavailable",
                    database="reachable",
                    migration=current,
                    reason=f"schema at {current}, code expects {head}: run `accelerator migrate`",
                ),
                status_code=503,
            )
        return Response(Health(status="ok", database="reachable", migration=current))
