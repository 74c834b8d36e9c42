"""The periodic snapshot of the webhook inbox and the notification outbox: each API process
counts them every ``backlog_snapshot_seconds``, and the backlog gauges and the status endpoint
read the latest count, so a scrape or a status call never queries the queues."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from accelerator.infra.metrics import NO_METRICS, Backlog, Metrics

logger = logging.getLogger("accelerator.health")

BacklogSource = Callable[[], Awaitable[Backlog]]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    backlogs: Sequence[Backlog]


@dataclass
class BacklogSnapshot:
    """Counts each queue through its repository (``sources``) and keeps the latest count."""

    sources: Sequence[BacklogSource]
    metrics: Metrics = NO_METRICS
    clock: Callable[[], datetime] = _now
    latest: Snapshot | None = field(default=None, init=False)

    async def take(self) -> Snapshot:
        """Count every queue now; the new snapshot."""
        backlogs = [await source() for source in self.sources]
        snapshot = Snapshot(self.clock(), backlogs)
        self.metrics.backlogs(backlogs, snapshot.taken_at)
        self.latest = snapshot
        return snapshot

    async def current(self) -> Snapshot:
        """The latest snapshot (taken now if this process has none yet)."""
        return self.latest or await self.take()

    async def run(self, interval_seconds: float, stop: asyncio.Event | None = None) -> None:
        """Take a snapshot every ``interval_seconds`` until ``stop`` is set (or the task is
        cancelled); a failed one is logged and the last one kept."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.take()
            except Exception:
                logger.exception("backlog snapshot failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
