"""compliance announcements: each seller's standing as last announced (compliance.changed)

Revision ID: 20261207_05
Revises: 20261207_04
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from accelerator.infra.database import UtcDateTime

revision: str = "20261207_05"
down_revision: str | None = "20261207_04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_announcements",
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("compliant", sa.Boolean(), nullable=True),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("judged_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seller_id"),
    )


def downgrade() -> None:
    op.drop_table("compliance_announcements")
