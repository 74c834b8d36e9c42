"""Each API process and each ``accelerator worker`` writes a heartbeat row every few seconds,
with what it runs and its breakers' states, so that ``GET /health/status`` shows a process that
died (its beat goes stale) and every process's view of each insurer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from accelerator.health import repository
from accelerator.health.models import WorkerHeartbeatRow
from accelerator.infra.database import Database
from accelerator.infra.metrics import NO_METRICS, Metrics
from accelerator.insurers.partners import Partner
from schemas import BreakerState

logger = logging.getLogger("accelerator.health")

#: A process whose rows have not been renewed for this long is forgotten (a day of "stale").
FORGET_AFTER: Final = timedelta(days=1)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Heartbeat:
    """One process's heartbeat. ``process_id`` is the name its leases carry."""

    db: Database
    process_id: str
    role: Literal["api", "worker"]
    runs: list[str]
    partners: Mapping[str, Partner]
    interval_seconds: float
    metrics: Metrics = NO_METRICS
    clock: Callable[[], datetime] = _now
    started_at: datetime = field(default_factory=_now)

    def breakers(self) -> dict[str, BreakerState]:
        return {
            provider_id: partner.breaker.state for provider_id, partner in self.partners.items()
        }

    async def beat(self) -> None:
        """Write this process's row now (and set its breaker gauges)."""
        states = self.breakers()
        self.metrics.breakers(states)
        now = self.clock()
        row = WorkerHeartbeatRow(
            id=self.process_id,
            role=self.role,
            host=socket.gethostname(),
            pid=os.getpid(),
            runs=list(self.runs),
            breakers={provider_id: state.value for provider_id, state in states.items()},
            interval_seconds=self.interval_seconds,
            started_at=self.started_at,
            beat_at=now,
        )
        await repository.beat(self.db, row, forget_before=now - FORGET_AFTER)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Beat every ``interval_seconds`` until ``stop`` is set or the task is cancelled; a
        failed beat is logged and the next one tried (a stale row is what it shows)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.beat()
            except Exception:
                logger.exception("heartbeat of %s failed", self.process_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_seconds)

    async def forget(self) -> None:
        """Remove this process's row as it stops cleanly (only a dead process turns stale)."""
        try:
            await repository.forget(self.db, self.process_id)
        except Exception:  # the row turns stale, then is forgotten a day later
            logger.exception("heartbeat row of %s not removed", self.process_id)
