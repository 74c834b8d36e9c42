"""The admin console's tables: every operator action, and the insurers switched off."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime


class AdminActionRow(Base):
    """One thing an operator did in the console: who (the admin key's id and its name then),
    when, what and to what."""

    __tablename__ = "admin_actions"
    # The audit log page reads newest first.
    __table_args__ = (Index("ix_admin_actions_at", "at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    key_id: Mapped[str] = mapped_column(String(64))
    # Kept as it was: a key renamed or revoked later must not rewrite who did this.
    key_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")


class InsurerSwitchRow(Base):
    """An insurer an operator switched off: while its row exists, no process asks it for quotes."""

    __tablename__ = "insurer_switches"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    switched_off_at: Mapped[datetime] = mapped_column(UtcDateTime())
    key_id: Mapped[str] = mapped_column(String(64))
    key_name: Mapped[str] = mapped_column(String(200))
