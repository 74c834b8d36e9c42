"""The coverage registry: policies and their append-only, bitemporal event log.

The current state of a policy is never stored: it is derived from its events (see
``coverage.state``), so any past answer can be reproduced from what was recorded by then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime


class PolicyRow(Base):
    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("insurer_name", "policy_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.id"), index=True)
    insurer_name: Mapped[str] = mapped_column(String(200))
    policy_number: Mapped[str] = mapped_column(String(100))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    # A schemas.PolicySource: bound (bought through us) or submitted (a seller's certificate).
    source: Mapped[str] = mapped_column(String(16))
    # The offer it was bound from (unique: one policy per offer, whatever the races).
    offer_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    quote_request_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PolicyEventRow(Base):
    """One change to a policy: when it takes effect in the world and when we learned it."""

    __tablename__ = "policy_events"
    __table_args__ = (
        # The coverage check reads every event of a seller's policies in one range scan.
        Index("ix_policy_events_seller_recorded", "seller_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"), index=True)
    seller_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # a coverage.state.EventKind
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
