"""The coverage registry: policies and their append-only, bitemporal event log.

The current state of a policy is never stored: it is derived from its events (see
``coverage.state``), so any past answer can be reproduced from what was recorded by then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, Integer, String, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler

from accelerator.infra.database import Base, UtcDateTime

_BOUND_ONLY = text("source = 'bound'")


class PolicyRow(Base):
    """A policy: who holds it, whose it is, and (``provider_id``) which partner's events reach it.

    A number is unique only among policies bound here: the insurer confirmed those. A seller's
    certificate may name any number, so a submission can never block a bind; one that shares
    its number with another policy waits for an operator's review (``review_reason``).
    """

    __tablename__ = "policies"
    __table_args__ = (
        Index(
            "uq_policies_bound_number",
            "provider_id",
            "policy_number",
            unique=True,
            postgresql_where=_BOUND_ONLY,
            sqlite_where=_BOUND_ONLY,
        ),
        # A partner's event finds its policies by number; a submission finds its namesakes.
        Index("ix_policies_provider_number", "provider_id", "policy_number"),
        Index("ix_policies_insurer_number", "insurer_key", "policy_number"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seller_id: Mapped[str] = mapped_column(ForeignKey("sellers.id"), index=True)
    insurer_name: Mapped[str] = mapped_column(String(200))
    # The insurer's name normalised (coverage.linking.insurer_key), to match spellings.
    insurer_key: Mapped[str] = mapped_column(String(200))
    policy_number: Mapped[str] = mapped_column(String(100))
    # The partner whose events apply to it: the one that bound it, or for a submitted policy
    # the one whose insurer it names (or an operator's choice). None: no partner's events do.
    provider_id: Mapped[str | None] = mapped_column(String(64))
    # Why it waits for an operator (coverage.linking.ReviewReason); None when it does not.
    review_reason: Mapped[str | None] = mapped_column(String(32))
    # A schemas.PolicySource: bound (bought through us) or submitted (a seller's certificate).
    source: Mapped[str] = mapped_column(String(16))
    # The offer it was bound from (unique: one policy per offer, whatever the races).
    offer_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    quote_request_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PolicyEventRow(Base):
    """One change to a policy: when it takes effect in the world and when we learned it.

    Append-only (``audit.guard``), and each seller's events form a hash chain (``audit.chain``):
    ``chain_position``, ``prev_hash`` and ``row_hash`` are the chain's, over the other columns.
    """

    __tablename__ = "policy_events"
    __table_args__ = (
        # The coverage check reads every event of a seller's policies in one range scan.
        Index("ix_policy_events_seller_recorded", "seller_id", "recorded_at"),
        Index("uq_policy_events_chain", "seller_id", "chain_position", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id"), index=True)
    seller_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # a coverage.state.EventKind
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chain_position: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class PeriodEnd(ColumnElement[str]):
    """Where an ``issued`` or ``renewed`` event says the policy's period ends: the ISO text
    stored in its ``data`` (``terms.expires_at``, or ``expires_at`` for a renewal), NULL for the
    other kinds. Rendered with its JSON paths as literals, never bound: the reminder sweep's
    queries then name exactly the expression :data:`PERIOD_END_INDEX` holds, which the planners
    of both databases require before they use it."""

    inherit_cache = True
    type = String()


@compiles(PeriodEnd, "postgresql")
def _period_end_postgresql(element: PeriodEnd, compiler: SQLCompiler, **kw: Any) -> str:
    return "coalesce((data #>> '{terms,expires_at}'), (data ->> 'expires_at'))"


@compiles(PeriodEnd, "sqlite")
def _period_end_sqlite(element: PeriodEnd, compiler: SQLCompiler, **kw: Any) -> str:
    return "coalesce(json_extract(data, '$.terms.expires_at'), json_extract(data, '$.expires_at'))"


#: The reminder sweep pages through the policies whose period ends soon in (end, policy) order.
PERIOD_END_INDEX = Index(
    "ix_policy_events_period_end", PeriodEnd(), PolicyEventRow.__table__.c.policy_id
)
