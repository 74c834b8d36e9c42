"""``GET /health/status``: every process's heartbeat, the queues' backlog and each insurer's
breaker in every live process. Readiness (``/health/ready``) stays about the database alone,
so a stale worker or a stuck inbox shows here without taking the API out of rotation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from accelerator.health import repository
from accelerator.health.backlog import BacklogSnapshot, Snapshot
from accelerator.health.models import WorkerHeartbeatRow
from accelerator.infra.database import Database
from schemas import (
    BreakerState,
    InsurerBreakers,
    OperationsStatus,
    ProcessHeartbeat,
    QueueBacklog,
)

#: Missed beats after which a process is reported stale: one late beat (a slow database, a
#: busy loop) is not a dead process.
STALE_AFTER_BEATS: Final = 3


def _now() -> datetime:
    return datetime.now(UTC)


def process_view(row: WorkerHeartbeatRow, now: datetime) -> ProcessHeartbeat:
    silent = (now - row.beat_at).total_seconds()
    state: Literal["alive", "stale"] = (
        "stale" if silent > STALE_AFTER_BEATS * row.interval_seconds else "alive"
    )
    return ProcessHeartbeat(
        id=row.id,
        role="worker" if row.role == "worker" else "api",
        host=row.host,
        pid=row.pid,
        runs=list(row.runs),
        started_at=row.started_at,
        last_beat_at=row.beat_at,
        interval_seconds=row.interval_seconds,
        state=state,
        breakers={name: BreakerState(value) for name, value in sorted(row.breakers.items())},
    )


def queue_view(snapshot: Snapshot) -> list[QueueBacklog]:
    views = []
    for backlog in snapshot.backlogs:
        oldest = backlog.oldest_at
        views.append(
            QueueBacklog(
                queue="outbox" if backlog.queue == "outbox" else "inbox",
                waiting=backlog.waiting,
                oldest_age_seconds=(
                    None
                    if oldest is None
                    else round(max((snapshot.taken_at - oldest).total_seconds(), 0.0), 3)
                ),
                by_status=dict(backlog.counts),
            )
        )
    return views


def judge(
    rows: Sequence[WorkerHeartbeatRow], snapshot: Snapshot, now: datetime
) -> OperationsStatus:
    """The status from the heartbeat rows and the latest backlog snapshot (pure)."""
    processes = [process_view(row, now) for row in rows]
    by_insurer: dict[str, dict[str, BreakerState]] = {}
    for process in processes:
        if process.state == "alive":
            for provider_id, state in process.breakers.items():
                by_insurer.setdefault(provider_id, {})[process.id] = state
    insurers = [
        InsurerBreakers(
            provider_id=provider_id,
            states=states,
            open_in=sum(state is BreakerState.OPEN for state in states.values()),
        )
        for provider_id, states in sorted(by_insurer.items())
    ]
    degraded = any(p.state == "stale" for p in processes) or any(i.open_in for i in insurers)
    return OperationsStatus(
        status="degraded" if degraded else "ok",
        checked_at=now,
        backlog_taken_at=snapshot.taken_at,
        processes=processes,
        backlogs=queue_view(snapshot),
        insurers=insurers,
    )


@dataclass(frozen=True)
class StatusService:
    db: Database
    snapshot: BacklogSnapshot
    clock: Callable[[], datetime] = _now

    async def status(self) -> OperationsStatus:
        rows = await repository.heartbeats(self.db)
        return judge(rows, await self.snapshot.current(), self.clock())
