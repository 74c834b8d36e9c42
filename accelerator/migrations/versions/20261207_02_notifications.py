"""outbound notifications: subscriber endpoints, the outbox of messages, delivery attempts

Revision ID: 20261207_02
Revises: 20261207_01
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accelerator.infra.database

revision: str = "20261207_02"
down_revision: str | None = "20261207_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INSTANT = accelerator.infra.database.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_endpoints",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("seller_id", sa.String(length=64), nullable=True),
        sa.Column("marketplace", sa.String(length=2), nullable=True),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("failing_since", _INSTANT, nullable=True),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("updated_at", _INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_endpoints")),
    )
    op.create_index("ix_notification_endpoints_enabled", "notification_endpoints", ["enabled"])
    op.create_index("ix_notification_endpoints_seller", "notification_endpoints", ["seller_id"])
    op.create_table(
        "notification_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _INSTANT, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", _INSTANT, nullable=True),
        sa.Column("created_at", _INSTANT, nullable=False),
        sa.Column("delivered_at", _INSTANT, nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["notification_endpoints.id"],
            name=op.f("fk_notification_messages_endpoint_id_notification_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_messages")),
        sa.UniqueConstraint(
            "endpoint_id", "event_id", name=op.f("uq_notification_messages_endpoint_id_event_id")
        ),
    )
    op.create_index(
        "ix_notification_messages_due", "notification_messages", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_notification_messages_endpoint", "notification_messages", ["endpoint_id", "id"]
    )
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", _INSTANT, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["notification_messages.id"],
            name=op.f("fk_notification_attempts_message_id_notification_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attempts")),
    )
    op.create_index(
        "ix_notification_attempts_message", "notification_attempts", ["message_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_notification_attempts_message", table_name="notification_attempts")
    op.drop_table("notification_attempts")
    op.drop_index("ix_notification_messages_endpoint", table_name="notification_messages")
    op.drop_index("ix_notification_messages_due", table_name="notification_messages")
    op.drop_table("notification_messages")
    op.drop_index("ix_notification_endpoints_seller", table_name="notification_endpoints")
    op.drop_index("ix_notification_endpoints_enabled", table_name="notification_endpoints")
    op.drop_table("notification_endpoints")
