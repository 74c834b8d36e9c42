"""The webhook inbox: every authentic delivery, stored before we answer 2xx."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime


class InboxEvent(Base):
    __tablename__ = "webhook_inbox"
    # Dedupe on webhook_id, the delivery's key (providers.dedupe_key: the partner's webhook-id,
    # or one derived from what its scheme signs): a redelivery is acknowledged, never applied again.
    # Workers claim by (status, next_attempt_at), oldest first; a partner reads its own
    # deliveries by (provider_id, id), newest first.
    __table_args__ = (
        UniqueConstraint("provider_id", "webhook_id"),
        Index("ix_webhook_inbox_due", "status", "next_attempt_at"),
        Index("ix_webhook_inbox_partner", "provider_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[str] = mapped_column(String(200))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # A schemas.InboxStatus: received -> processing (claimed under a lease) -> applied, or back
    # to retrying / parked (due again at next_attempt_at), or failed for good (kept with its error).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Which worker holds the row and until when; an expired lease may be taken over.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
