"""notification claim index: the delivery worker's claim walks the due messages in claim order

Revision ID: 20261209_01
Revises: 20261208_04
Create Date: 2026-12-09 01:00:00

``ix_notification_messages_due`` gains the message id, the claim's tie-break
(``ORDER BY next_attempt_at, id``): a claim is then a range scan that stops after its batch, where
it had sorted every due message (a backlog's events often share one instant) for each batch of 50
(docs/performance.md, "What notification delivery costs").
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261209_01"
down_revision: str | None = "20261208_04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_notification_messages_due", table_name="notification_messages")
    op.create_index(
        "ix_notification_messages_due",
        "notification_messages",
        ["status", "next_attempt_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_notification_messages_due", table_name="notification_messages")
    op.create_index(
        "ix_notification_messages_due", "notification_messages", ["status", "next_attempt_at"]
    )
