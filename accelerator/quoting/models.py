"""Quote requests, each insurer's outcome, the offers, and the captured attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime
from schemas import OfferStatus


class QuoteRequestRow(Base):
    __tablename__ = "quote_requests"
    # A policy is renewed by one request at most: the last guard of the renewal sweep's
    # once-only promise (accelerator/renewals/sweep.py), whatever processes sweep at once.
    __table_args__ = (Index("ux_quote_requests_renews_policy_id", "renews_policy_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.id"), index=True)
    # A schemas.QuoteRequestStatus: collecting, complete, binding, bind_pending, bound.
    status: Mapped[str] = mapped_column(String(16), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Set atomically by the one bind that wins; the rest are refused.
    bound_offer_id: Mapped[str | None] = mapped_column(String(36))
    bind_reference: Mapped[str | None] = mapped_column(String(200), index=True)
    # The bind under way, so that one a dead process left ``binding`` can be told from a live one
    # and finished (binding/reconcile.py): when it was claimed (moved forward by each process that
    # takes it over), how many times it has been sent to the insurer, and whose Idempotency-Key
    # (binding's ``bind_records``) waits for its answer.
    bind_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    bind_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    bind_principal_id: Mapped[str | None] = mapped_column(String(64))
    bind_idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Why the latest bind failed, as the seller sees it (a schemas.BindFailure); cleared by the
    # next claim.
    bind_failure: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # The policy this request renews (its cover starts when that policy's ends); None for a
    # request a seller made. No foreign key: policies belong to the coverage domain.
    renews_policy_id: Mapped[str | None] = mapped_column(String(36))


class InsurerOutcomeRow(Base):
    __tablename__ = "insurer_outcomes"
    # A partner reads its own outcomes by (provider_id, id), newest first.
    __table_args__ = (
        UniqueConstraint("request_id", "provider_id"),
        Index("ix_insurer_outcomes_partner", "provider_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("quote_requests.id"))
    provider_id: Mapped[str] = mapped_column(String(64))
    insurer_name: Mapped[str] = mapped_column(String(200))
    # A schemas.OutcomeStatus: awaiting (being asked) until one of the others.
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    quote_reference: Mapped[str | None] = mapped_column(String(200), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    elapsed_ms: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # When the latest insurer event applied to this outcome happened (and its sequence): an
    # event that happened earlier arrives late and changes nothing.
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Partners number events as they like (epoch milliseconds, say): 64 bits.
    last_event_sequence: Mapped[int | None] = mapped_column(BigInteger)


class OfferRow(Base):
    __tablename__ = "offers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("quote_requests.id"), index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    quote_reference: Mapped[str] = mapped_column(String(200))
    offer: Mapped[dict[str, Any]] = mapped_column(JSON)
    bindable: Mapped[bool] = mapped_column(Boolean)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime())
    # A schemas.OfferStatus: open, bound, superseded, withdrawn (never expired: that is shown).
    status: Mapped[str] = mapped_column(String(16), default=OfferStatus.OPEN)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AttemptRow(Base):
    """A redacted capture of one HTTP attempt to an insurer (admins read these)."""

    __tablename__ = "insurer_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("quote_requests.id"), index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    capture: Mapped[dict[str, Any]] = mapped_column(JSON)
