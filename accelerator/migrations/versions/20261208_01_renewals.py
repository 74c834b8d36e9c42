"""renewals: the policy a quote request renews, one request per policy at most

Revision ID: 20261208_01
Revises: 20261207_05
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261208_01"
down_revision: str | None = "20261207_05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "quote_requests", sa.Column("renews_policy_id", sa.String(length=36), nullable=True)
    )
    op.create_index(
        "ux_quote_requests_renews_policy_id", "quote_requests", ["renews_policy_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_quote_requests_renews_policy_id", table_name="quote_requests")
    op.drop_column("quote_requests", "renews_policy_id")
