"""partner keys: the provider a partner key reads for, and indexes for a partner's own
deliveries and quote calls, newest first

Revision ID: 20261207_01
Revises: 20261206_03
Create Date: 2026-12-07 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261207_01"
down_revision: str | None = "20261206_03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_id", sa.String(length=64), nullable=True))
    op.create_index("ix_webhook_inbox_partner", "webhook_inbox", ["provider_id", "id"])
    op.create_index("ix_insurer_outcomes_partner", "insurer_outcomes", ["provider_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_insurer_outcomes_partner", table_name="insurer_outcomes")
    op.drop_index("ix_webhook_inbox_partner", table_name="webhook_inbox")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("provider_id")
