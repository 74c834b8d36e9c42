"""The audit trail's tables: decision receipts, the marks of affected decisions, the events
waiting to be examined for them, where each seller's chains end, where they begin after a
retention purge (anchors), and the permit a purge holds while it deletes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from accelerator.infra.database import Base, UtcDateTime

_HAS_REFERENCE = text("claim_reference IS NOT NULL")


class DecisionReceiptRow(Base):
    """One coverage decision as given: ``document`` is its canonical content (schemas
    ``ReceiptContent``), the columns beside it what the decisions are looked up by.
    Append-only (``audit.guard``) and chained per seller (``audit.chain``)."""

    __tablename__ = "decision_receipts"
    __table_args__ = (
        Index("uq_decision_receipts_chain", "seller_id", "chain_position", unique=True),
        # Most checks carry no reference: those are left out of its index.
        Index(
            "ix_decision_receipts_claim_reference",
            "claim_reference",
            postgresql_where=_HAS_REFERENCE,
            sqlite_where=_HAS_REFERENCE,
        ),
        Index("ix_decision_receipts_evaluated", "evaluated_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(64))
    claim_reference: Mapped[str | None] = mapped_column(String(200))
    incident_at: Mapped[datetime] = mapped_column(UtcDateTime())
    evaluated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decision: Mapped[str] = mapped_column(String(32))  # a schemas.Decision
    document: Mapped[str] = mapped_column(Text)
    chain_position: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class DecisionEffectRow(Base):
    """A receipt's decision would now be another: the event recorded later that changes it and
    the decision it would get with that event known (``document``, a CoverageDecision).
    ``changed`` is false on the mark of a later event that brings the decision back to the
    receipt's own (a reinstatement after a cancellation). Append-only: a receipt is never
    changed, only marked; its latest mark says whether it is affected now."""

    __tablename__ = "decision_effects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("decision_receipts.id"), index=True)
    seller_id: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(32))
    changed: Mapped[bool] = mapped_column(Boolean)
    document: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PendingEventRow(Base):
    """A policy event recorded but not yet examined for the receipts it affects: written in the
    event's own transaction, removed once examined (``audit.affected``)."""

    __tablename__ = "audit_pending_events"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seller_id: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditHeadRow(Base):
    """Where one of a seller's chains ends: the position and hash of its last row. Only a
    writer's shortcut, locked while a transaction extends the chain; verification never trusts
    it, but reports a head the rows do not reach (rows removed from the end)."""

    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(16), primary_key=True)  # an audit.chain.Chain
    seller_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditAnchorRow(Base):
    """Where one of a seller's chains begins after a retention purge removed its positions 1
    to ``position``: the hash of the row that was there, so the next row still links to it.
    Append-only (``audit.guard``); the latest anchor of a chain is where verification starts."""

    __tablename__ = "audit_anchors"
    __table_args__ = (Index("ix_audit_anchors_chain", "chain", "seller_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(16))  # an audit.chain.Chain
    seller_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    row_hash: Mapped[str] = mapped_column(String(64))
    cutoff: Mapped[datetime] = mapped_column(UtcDateTime())
    purged_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PurgePermitRow(Base):
    """A retention purge's permit to delete from the append-only tables: inserted at the start
    of the purge's transaction and deleted before it commits, so no other session ever sees
    one (``audit.guard.purge_permit``)."""

    __tablename__ = "audit_purge_permits"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())
