"""certificate links: the token of each policy's live-verification URL

Revision ID: 20261207_03
Revises: 20261207_02
Create Date: 2026-12-07 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from accelerator.infra.database import UtcDateTime

revision: str = "20261207_03"
down_revision: str | None = "20261207_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificate_links",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token"),
    )
    op.create_index("ix_certificate_links_policy_id", "certificate_links", ["policy_id"])


def downgrade() -> None:
    op.drop_index("ix_certificate_links_policy_id", table_name="certificate_links")
    op.drop_table("certificate_links")
