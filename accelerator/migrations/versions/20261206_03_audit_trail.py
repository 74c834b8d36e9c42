"""audit trail: decision receipts and their marks, per-seller hash chains, append-only tables,
anchors where a retention purge left a chain and the permit it deletes under

Revision ID: 20261206_03
Revises: 20261206_02
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from accelerator.audit import guard
from accelerator.audit.chain import GENESIS, Chain, event_content, link
from accelerator.infra.database import UtcDateTime

revision: str = "20261206_03"
down_revision: str | None = "20261206_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("claim_reference", sa.String(length=200), nullable=True),
        sa.Column("incident_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("chain_position", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_receipts")),
    )
    op.create_index(
        "uq_decision_receipts_chain",
        "decision_receipts",
        ["seller_id", "chain_position"],
        unique=True,
    )
    op.create_index(
        "ix_decision_receipts_claim_reference",
        "decision_receipts",
        ["claim_reference"],
        postgresql_where=sa.text("claim_reference IS NOT NULL"),
        sqlite_where=sa.text("claim_reference IS NOT NULL"),
    )
    op.create_index("ix_decision_receipts_evaluated", "decision_receipts", ["evaluated_at", "id"])
    op.create_table(
        "decision_effects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("receipt_id", sa.String(length=36), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("detected_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["decision_receipts.id"],
            name=op.f("fk_decision_effects_receipt_id_decision_receipts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_effects")),
    )
    op.create_index(
        op.f("ix_decision_effects_receipt_id"), "decision_effects", ["receipt_id"], unique=False
    )
    op.create_index(
        op.f("ix_decision_effects_seller_id"), "decision_effects", ["seller_id"], unique=False
    )
    op.create_table(
        "audit_pending_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_pending_events")),
    )
    op.create_table(
        "audit_heads",
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", "seller_id", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("cutoff", UtcDateTime(timezone=True), nullable=False),
        sa.Column("purged_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    op.create_index("ix_audit_anchors_chain", "audit_anchors", ["chain", "seller_id", "position"])
    op.create_table(
        "audit_purge_permits",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("granted_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_purge_permits")),
    )
    with op.batch_alter_table("policy_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    _chain_recorded_events()
    with op.batch_alter_table("policy_events", schema=None) as batch_op:
        for column, type_ in (
            ("chain_position", sa.Integer()),
            ("prev_hash", sa.String(length=64)),
            ("row_hash", sa.String(length=64)),
        ):
            batch_op.alter_column(column, existing_type=type_, nullable=False)
        batch_op.create_index(
            "uq_policy_events_chain", ["seller_id", "chain_position"], unique=True
        )
    dialect = op.get_bind().dialect.name
    for statement in guard.create_statements("postgresql" if dialect == "postgresql" else "sqlite"):
        op.execute(statement)


def _chain_recorded_events() -> None:
    """Chain the events recorded before this version, per seller in the order they were
    stored (their ids): the chain then vouches for them as they stand at this upgrade."""
    events = sa.table(
        "policy_events",
        sa.column("id", sa.Integer),
        sa.column("event_id", sa.String),
        sa.column("policy_id", sa.String),
        sa.column("seller_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("effective_at", UtcDateTime()),
        sa.column("recorded_at", UtcDateTime()),
        sa.column("data", sa.JSON),
    )
    connection = op.get_bind()
    heads: dict[str, tuple[int, str]] = {}
    rows = connection.execute(sa.select(events).order_by(events.c.seller_id, events.c.id))
    for row in rows.all():
        position, prev = heads.get(row.seller_id, (0, GENESIS))
        content = event_content(
            event_id=row.event_id,
            policy_id=row.policy_id,
            seller_id=row.seller_id,
            kind=row.kind,
            effective_at=row.effective_at,
            recorded_at=row.recorded_at,
            data=row.data,
        )
        row_hash = link(prev, content)
        connection.execute(
            sa.text(
                "UPDATE policy_events SET chain_position = :position, prev_hash = :prev, "
                "row_hash = :hash WHERE id = :id"
            ),
            {"position": position + 1, "prev": prev, "hash": row_hash, "id": row.id},
        )
        heads[row.seller_id] = (position + 1, row_hash)
    heads_table = sa.table(
        "audit_heads",
        sa.column("chain", sa.String),
        sa.column("seller_id", sa.String),
        sa.column("position", sa.Integer),
        sa.column("row_hash", sa.String),
    )
    if heads:
        connection.execute(
            heads_table.insert(),
            [
                {"chain": Chain.EVENTS.value, "seller_id": s, "position": p, "row_hash": h}
                for s, (p, h) in heads.items()
            ],
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in guard.drop_statements("postgresql" if dialect == "postgresql" else "sqlite"):
        op.execute(statement)
    with op.batch_alter_table("policy_events", schema=None) as batch_op:
        batch_op.drop_index("uq_policy_events_chain")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chain_position")
    op.drop_table("audit_purge_permits")
    op.drop_index("ix_audit_anchors_chain", table_name="audit_anchors")
    op.drop_table("audit_anchors")
    op.drop_table("audit_heads")
    op.drop_table("audit_pending_events")
    op.drop_index(op.f("ix_decision_effects_seller_id"), table_name="decision_effects")
    op.drop_index(op.f("ix_decision_effects_receipt_id"), table_name="decision_effects")
    op.drop_table("decision_effects")
    op.drop_index("ix_decision_receipts_evaluated", table_name="decision_receipts")
    op.drop_index("ix_decision_receipts_claim_reference", table_name="decision_receipts")
    op.drop_index("uq_decision_receipts_chain", table_name="decision_receipts")
    op.drop_table("decision_receipts")
