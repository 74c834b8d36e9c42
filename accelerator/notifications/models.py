"""Outbound notifications: subscriber endpoints, the outbox of messages, and every attempt.

One message per event per endpoint subscribed to it (``outbox.emit`` writes them in the
transaction of the fact that causes the event): each message then has its own schedule, and
disabling, retrying and replaying an endpoint touch its rows alone. The message holds the event's
body as sent, encoded once, so every attempt and replay sends the same bytes under the same
``webhook-id`` (the event's id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime


class EndpointRow(Base):
    """A subscriber endpoint. ``secrets`` are ``[{"secret": "whsec_…", "expires_at": iso|None}]``,
    newest first: every one not expired signs each delivery (two during a rotation). They are
    kept as they are, not hashed: the service signs with them."""

    __tablename__ = "notification_endpoints"
    # emit() reads the enabled endpoints on every event; a seller reads its own.
    __table_args__ = (
        Index("ix_notification_endpoints_enabled", "enabled"),
        Index("ix_notification_endpoints_seller", "seller_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    # The NotificationType values wanted; empty: every type.
    event_types: Mapped[list[str]] = mapped_column(JSON)
    seller_id: Mapped[str | None] = mapped_column(String(64))
    marketplace: Mapped[str | None] = mapped_column(String(2))
    secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The first failure of an unbroken run of them; None after a success.
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MessageRow(Base):
    """One event for one endpoint, and where its delivery is (a schemas.MessageStatus)."""

    __tablename__ = "notification_messages"
    # Workers claim by (status, next_attempt_at, id), in that order; an admin pages an
    # endpoint's by (endpoint, id).
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_notification_messages_due", "status", "next_attempt_at", "id"),
        Index("ix_notification_messages_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("notification_endpoints.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AttemptRow(Base):
    """One try at delivering a message: the status code answered, or the network error."""

    __tablename__ = "notification_attempts"
    __table_args__ = (Index("ix_notification_attempts_message", "message_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("notification_messages.id"))
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)


class ReminderRow(Base):
    """A time-based reminder that has been dealt with: written in the transaction that emits it
    (or, when a sweep catches up, that skips it for a more urgent one), so each (kind, subject,
    threshold) produces at most one event ever. ``subject_id`` names what the reminder is about
    and the date it counts to (``<policy id>@<expiry date>``, ``<seller id>@<comply-by date>``),
    so a renewal or a new deadline starts its own reminders. ``event_id`` is None for a
    threshold skipped on catching up."""

    __tablename__ = "notification_reminders"
    __table_args__ = (UniqueConstraint("kind", "subject_id", "threshold"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(120))
    threshold: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
