"""What each seller was last told about its compliance (``compliance.announce``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime


class ComplianceAnnouncementRow(Base):
    """A seller's standing as last judged for ``compliance.changed``: compliant or not, with
    the gaps' codes, and when. ``compliant`` is NULL until the seller is first judged (the row
    is created to be locked: one judgement of a seller at a time)."""

    __tablename__ = "compliance_announcements"

    seller_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    compliant: Mapped[bool | None] = mapped_column(Boolean)
    gaps: Mapped[list[str]] = mapped_column(JSON)
    judged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True))
