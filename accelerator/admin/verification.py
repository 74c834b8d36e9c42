"""The certificate verification queue: policies sellers submitted from a certificate that no
operator has verified or rejected yet, oldest first."""

from __future__ import annotations

from sqlalchemy import func, select

from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from schemas import PolicySource

POLICIES_PER_PAGE = 10

_DECIDED = select(PolicyEventRow.policy_id).where(
    PolicyEventRow.kind.in_((EventKind.VERIFIED.value, EventKind.VERIFICATION_REJECTED.value))
)
_WAITING = (PolicyRow.source == PolicySource.SUBMITTED.value) & PolicyRow.id.not_in(_DECIDED)


async def awaiting_verification(db: Database, page: int) -> tuple[list[str], int]:
    """The ids of page ``page`` (from 1) of the submitted policies waiting for a decision,
    oldest submission first, and how many wait in all."""
    async with db.reading() as session:
        total = await session.scalar(select(func.count()).select_from(PolicyRow).where(_WAITING))
        ids = (
            await session.scalars(
                select(PolicyRow.id)
                .where(_WAITING)
                .order_by(PolicyRow.created_at, PolicyRow.id)
                .offset((page - 1) * POLICIES_PER_PAGE)
                .limit(POLICIES_PER_PAGE)
            )
        ).all()
    return list(ids), total or 0


async def is_waiting(db: Database, policy_id: str) -> bool:
    """Whether this policy is in the queue (a second decision on it would be a stale form's)."""
    async with db.reading() as session:
        found = await session.scalar(
            select(PolicyRow.id).where(PolicyRow.id == policy_id, _WAITING)
        )
    return found is not None
