"""reminders: one row per time-based reminder dealt with, so each is sent at most once

Revision ID: 20261207_04
Revises: 20261207_03
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from accelerator.infra.database import UtcDateTime

revision: str = "20261207_04"
down_revision: str | None = "20261207_03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=120), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_reminders")),
        sa.UniqueConstraint(
            "kind",
            "subject_id",
            "threshold",
            name=op.f("uq_notification_reminders_kind_subject_id_threshold"),
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_reminders")
