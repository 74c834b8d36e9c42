"""inbox leases and backoff; insurer event order on quote outcomes

Revision ID: 20261126_05
Revises: 20261126_04
Create Date: 2026-11-26 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accelerator.infra.database

revision: str = "20261126_05"
down_revision: str | None = "20261126_04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "next_attempt_at",
                accelerator.infra.database.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column(
                "lease_expires_at",
                accelerator.infra.database.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
    # Deliveries stored before this revision are due at once.
    op.execute("UPDATE webhook_inbox SET next_attempt_at = received_at")
    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.alter_column(
            "next_attempt_at",
            existing_type=accelerator.infra.database.UtcDateTime(timezone=True),
            nullable=False,
        )
        batch_op.drop_index(batch_op.f("ix_webhook_inbox_status"))
        batch_op.create_index("ix_webhook_inbox_due", ["status", "next_attempt_at"], unique=False)

    with op.batch_alter_table("insurer_outcomes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_event_at",
                accelerator.infra.database.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("last_event_sequence", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("insurer_outcomes", schema=None) as batch_op:
        batch_op.drop_column("last_event_sequence")
        batch_op.drop_column("last_event_at")

    with op.batch_alter_table("webhook_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_inbox_due")
        batch_op.create_index(batch_op.f("ix_webhook_inbox_status"), ["status"], unique=False)
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("next_attempt_at")
