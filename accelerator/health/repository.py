"""The ``worker_heartbeats`` table: written by each process's heartbeat, read by the status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from accelerator.health.models import WorkerHeartbeatRow
from accelerator.infra.database import Database


async def beat(db: Database, row: WorkerHeartbeatRow, *, forget_before: datetime) -> None:
    """Record ``row`` as its process's latest beat (the first one inserts it), and forget the
    rows of processes silent since ``forget_before``."""
    values: dict[str, Any] = {
        "runs": row.runs,
        "breakers": row.breakers,
        "interval_seconds": row.interval_seconds,
        "beat_at": row.beat_at,
    }
    async with db.writing() as session:
        updated = await session.execute(
            update(WorkerHeartbeatRow).where(WorkerHeartbeatRow.id == row.id).values(**values)
        )
        if not getattr(updated, "rowcount", 0):
            session.add(row)
        await session.execute(
            delete(WorkerHeartbeatRow).where(WorkerHeartbeatRow.beat_at < forget_before)
        )


async def forget(db: Database, process_id: str) -> None:
    """A process stopping cleanly removes its row: only a dead one is left to turn stale."""
    async with db.writing() as session:
        await session.execute(delete(WorkerHeartbeatRow).where(WorkerHeartbeatRow.id == process_id))


async def heartbeats(db: Database) -> list[WorkerHeartbeatRow]:
    """Every process's last beat, API processes first, then by when each started."""
    async with db.reading() as session:
        rows = await session.scalars(
            select(WorkerHeartbeatRow).order_by(
                WorkerHeartbeatRow.role, WorkerHeartbeatRow.started_at, WorkerHeartbeatRow.id
            )
        )
        return list(rows.all())
