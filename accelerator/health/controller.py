"""Liveness and readiness probes, and the operator's status of processes and queues."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from accelerator.auth.guards import requires
from accelerator.health.status import StatusService
from accelerator.infra.database import Database
from schemas import Health, OperationsStatus


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
        # Alembic is imported at the first probe, not with the app: `serve` has loaded it to
        # migrate by then, and a process that never probes saves 0.07-0.1 s of CPU (importing
        # it and reading the migrations' head; docs/performance.md).
        from accelerator.infra.migrations import current_revision, head_revision

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

    @get(
        "/status",
        operation_id="getOperationsStatus",
        summary="Processes' heartbeats, queue backlogs and insurers' breakers (admin)",
        guards=[requires()],
    )
    async def status(self, operations_status: NamedDependency[StatusService]) -> OperationsStatus:
        """Every API process and `accelerator worker` by its last heartbeat (`stale` when it
        missed three beats: dead or hung), the webhook inbox's and the notification outbox's
        backlog as last counted, and each insurer's breaker in every live process. Always
        200: readiness (`/health/ready`) is what a load balancer should watch."""
        return await operations_status.status()
