"""The record of operators' actions in the admin console: written with each action, read newest
first by the audit log page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accelerator.admin.models import AdminActionRow
from accelerator.auth.principal import Principal
from accelerator.infra.database import Database

ACTIONS_PER_PAGE = 50


@dataclass(frozen=True)
class ActionPage:
    """One page of the log, newest first; ``total`` counts every action recorded."""

    actions: list[AdminActionRow]
    page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // ACTIONS_PER_PAGE))


def add_action(
    session: AsyncSession,
    who: Principal,
    action: str,
    target: str,
    detail: str = "",
    now: datetime | None = None,
) -> None:
    """Record, in ``session``'s transaction (so the action and its record commit together),
    that ``who`` did ``action`` to ``target``."""
    session.add(
        AdminActionRow(
            id=str(uuid.uuid4()),
            at=now or datetime.now(UTC),
            key_id=who.key_id,
            key_name=who.name,
            action=action,
            target=target[:200],
            detail=detail,
        )
    )


async def record_action(
    db: Database, who: Principal, action: str, target: str, detail: str = ""
) -> None:
    """Record an action whose own change was committed by another service."""
    async with db.writing() as session:
        add_action(session, who, action, target, detail)


async def actions_page(db: Database, page: int) -> ActionPage:
    """Page ``page`` (from 1) of the actions, newest first."""
    async with db.reading() as session:
        total = await session.scalar(select(func.count()).select_from(AdminActionRow)) or 0
        rows = (
            await session.scalars(
                select(AdminActionRow)
                .order_by(AdminActionRow.at.desc(), AdminActionRow.id.desc())
                .offset((page - 1) * ACTIONS_PER_PAGE)
                .limit(ACTIONS_PER_PAGE)
            )
        ).all()
    return ActionPage(list(rows), page, total)
