"""policy period end index: the reminder sweep pages through the policies whose period ends soon

Revision ID: 20261208_04
Revises: 20261208_03
Create Date: 2026-12-08 04:00:00

An expression index on where each ``issued`` or ``renewed`` event says the period ends (the text
``coverage.models.PeriodEnd`` renders, the same on each database as the sweep's queries), then the
policy id: each page of the sweep is one range scan from where the last one stopped, instead of a
scan of every event per page (docs/performance.md, "What the reminder sweep costs").
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261208_04"
down_revision: str | None = "20261208_03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EXPRESSION = {
    "postgresql": "coalesce((data #>> '{terms,expires_at}'), (data ->> 'expires_at'))",
    "sqlite": (
        "coalesce(json_extract(data, '$.terms.expires_at'), json_extract(data, '$.expires_at'))"
    ),
}


def upgrade() -> None:
    expression = _EXPRESSION[op.get_bind().dialect.name]
    op.execute(
        f"CREATE INDEX ix_policy_events_period_end ON policy_events ({expression}, policy_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_policy_events_period_end")
