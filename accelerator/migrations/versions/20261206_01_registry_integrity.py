"""registry integrity: numbers unique among bound policies only, insurer links, review

Revision ID: 20261206_01
Revises: 20261126_05
Create Date: 2026-12-06 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from accelerator.coverage.linking import insurer_key

revision: str = "20261206_01"
down_revision: str | None = "20261126_05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BOUND_ONLY = sa.text("source = 'bound'")


def upgrade() -> None:
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("insurer_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("review_reason", sa.String(length=32), nullable=True))
    # The normalised name is Python's (coverage.linking), not SQL's: computed row by row.
    policies = sa.table(
        "policies", sa.column("id", sa.String), sa.column("insurer_name", sa.String)
    )
    connection = op.get_bind()
    for policy_id, name in connection.execute(sa.select(policies.c.id, policies.c.insurer_name)):
        connection.execute(
            sa.text("UPDATE policies SET insurer_key = :key WHERE id = :id"),
            {"key": insurer_key(name), "id": policy_id},
        )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.alter_column("insurer_key", existing_type=sa.String(length=200), nullable=False)
        # A seller's certificate may carry any number: only the insurer's own are unique.
        batch_op.drop_constraint("uq_policies_insurer_name_policy_number", type_="unique")
        batch_op.create_index(
            "ix_policies_provider_number", ["provider_id", "policy_number"], unique=False
        )
        batch_op.create_index(
            "ix_policies_insurer_number", ["insurer_key", "policy_number"], unique=False
        )
    op.create_index(
        "uq_policies_bound_number",
        "policies",
        ["provider_id", "policy_number"],
        unique=True,
        postgresql_where=_BOUND_ONLY,
        sqlite_where=_BOUND_ONLY,
    )


def downgrade() -> None:
    op.drop_index("uq_policies_bound_number", table_name="policies")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index("ix_policies_insurer_number")
        batch_op.drop_index("ix_policies_provider_number")
        batch_op.create_unique_constraint(
            "uq_policies_insurer_name_policy_number", ["insurer_name", "policy_number"]
        )
        batch_op.drop_column("review_reason")
        batch_op.drop_column("insurer_key")
