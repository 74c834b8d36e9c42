"""Worker heartbeats: one row per live API process and ``accelerator worker``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime


class WorkerHeartbeatRow(Base):
    """A process's last heartbeat: who it is, what it runs, and its breakers' states (breakers
    are per process, so each process reports its own view)."""

    __tablename__ = "worker_heartbeats"
    # The old rows are pruned by their last beat.
    __table_args__ = (Index("ix_worker_heartbeats_beat_at", "beat_at"),)

    # host:pid:token, the name the process's inbox and outbox leases carry.
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    runs: Mapped[list[str]] = mapped_column(JSON)
    breakers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Its own interval: a process is stale after three of its beats are missed, whatever the
    # reader's setting.
    interval_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    beat_at: Mapped[datetime] = mapped_column(UtcDateTime())
