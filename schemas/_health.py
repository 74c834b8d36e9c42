"""``GET /health/live`` and ``GET /health/ready``: whether the service can serve; and
``GET /health/status``: what its processes and queues are doing."""

from typing import Literal

import msgspec

from schemas._bounds import Instant
from schemas._providers import BreakerState


class Health(msgspec.Struct, omit_defaults=True):
    """``status`` is ``ok`` or ``unavailable``; readiness adds whether the database is
    ``reachable``, the schema's ``migration``, and the ``reason`` it is not ready."""

    status: str
    database: str | None = None
    migration: str | None = None
    reason: str | None = None


class ProcessHeartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """One API process (``role`` ``api``) or ``accelerator worker`` (``worker``), as its last
    heartbeat row tells: ``id`` (host, pid and a token; the name its leases carry), what it
    ``runs``, and this process's own view of each insurer's breaker. ``state`` is ``stale``
    when the last beat is older than three of its ``interval_seconds``: the process died or
    hangs (one that stops cleanly removes its row)."""

    id: str
    role: Literal["api", "worker"]
    host: str
    pid: int
    runs: list[str]
    started_at: Instant
    last_beat_at: Instant
    interval_seconds: float
    state: Literal["alive", "stale"]
    breakers: dict[str, BreakerState]


class QueueBacklog(msgspec.Struct, frozen=True, kw_only=True):
    """A queue (``inbox``: insurer webhooks to apply; ``outbox``: notifications to send) as the
    latest periodic snapshot counted it: ``waiting`` messages still to be processed, the age
    of the oldest of them in seconds (null when none waits), and the count in each unfinished
    status (``failed`` ones were given up and wait for an operator)."""

    queue: Literal["inbox", "outbox"]
    waiting: int
    oldest_age_seconds: float | None
    by_status: dict[str, int]


class InsurerBreakers(msgspec.Struct, frozen=True, kw_only=True):
    """One insurer's breaker in each live process (breakers are per process): ``states`` by
    process id, and in how many of them it is ``open``."""

    provider_id: str
    states: dict[str, BreakerState]
    open_in: int


class OperationsStatus(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /health/status``. ``status`` is ``degraded`` when a process is stale or an
    insurer's breaker is open in some process, else ``ok``; it never changes readiness.
    ``backlog_taken_at`` is when the backlogs were counted (each API process counts them
    periodically)."""

    status: Literal["ok", "degraded"]
    checked_at: Instant
    backlog_taken_at: Instant
    processes: list[ProcessHeartbeat]
    backlogs: list[QueueBacklog]
    insurers: list[InsurerBreakers]


__all__ = ["Health", "InsurerBreakers", "OperationsStatus", "ProcessHeartbeat", "QueueBacklog"]
