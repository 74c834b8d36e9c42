"""bind reconciliation: who claimed a bind and when, how often it was sent, why it failed

Revision ID: 20261206_02
Revises: 20261206_01
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accelerator.infra.database

revision: str = "20261206_02"
down_revision: str | None = "20261206_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Requests a process of an earlier version left `binding` keep a null claim time: the
    # reconciler stamps it when it first sees them, and takes them over once that is old enough.
    with op.batch_alter_table("quote_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "bind_claimed_at",
                accelerator.infra.database.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("bind_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("bind_principal_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("bind_idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("bind_failure", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quote_requests", schema=None) as batch_op:
        batch_op.drop_column("bind_failure")
        batch_op.drop_column("bind_idempotency_key")
        batch_op.drop_column("bind_principal_id")
        batch_op.drop_column("bind_attempts")
        batch_op.drop_column("bind_claimed_at")
