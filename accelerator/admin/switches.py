"""Operators' switches of insurers: an insurer switched off is skipped by every process's
fan-out until it is switched on again.

The switch is a row in the database rather than a setting, so that it reaches every worker
process at once and outlives restarts; the quote runner reads the switches once per quote
request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from accelerator.admin.actions import add_action
from accelerator.admin.models import InsurerSwitchRow
from accelerator.auth.principal import Principal
from accelerator.infra.database import Database
from accelerator.infra.statements import Statement

#: The reason code an insurer switched off is skipped with.
SWITCHED_OFF = "switched_off"


# Read by every quote request: a plain statement on the driver (infra.lookups), as the other
# per-request reads are, or with the request's own write (quoting.repository.store_request).
SKIP_REASONS = Statement(
    "insurer_switches", select(InsurerSwitchRow.provider_id, InsurerSwitchRow.reason)
)


async def skip_reasons(db: Database) -> dict[str, str]:
    """What a quote request says of each insurer switched off now, by provider id."""
    return skip_reasons_of(await db.lookups.fetch(SKIP_REASONS))


def skip_reasons_of(rows: Iterable[Sequence[str]]) -> dict[str, str]:
    """:func:`skip_reasons` from the rows of ``SKIP_REASONS`` (provider id, reason), read by
    whoever ran it."""
    return {provider_id: skip_reason(reason) for provider_id, reason in rows}


async def switched_off(db: Database) -> dict[str, InsurerSwitchRow]:
    """The insurers switched off now, by provider id."""
    async with db.reading() as session:
        rows = (await session.scalars(select(InsurerSwitchRow))).all()
    return {row.provider_id: row for row in rows}


async def switch_off(db: Database, who: Principal, provider_id: str, reason: str) -> bool:
    """Switch an insurer off, recorded as ``who``'s action; False if it already was off."""
    now = datetime.now(UTC)
    async with db.writing() as session:
        # One statement, not "look, then add": two operators switching the same insurer off at
        # once must not both insert (the loser's commit would fail on the primary key).
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        inserted = await session.scalar(
            insert(InsurerSwitchRow)
            .values(
                provider_id=provider_id,
                reason=reason,
                switched_off_at=now,
                key_id=who.key_id,
                key_name=who.name,
            )
            .on_conflict_do_nothing(index_elements=[InsurerSwitchRow.provider_id])
            .returning(InsurerSwitchRow.provider_id)
        )
        if inserted is None:
            return False
        add_action(session, who, "insurer.switched_off", provider_id, reason, now)
    return True


async def switch_on(db: Database, who: Principal, provider_id: str) -> bool:
    """Switch an insurer on again, recorded as ``who``'s action; False if it was not off."""
    async with db.writing() as session:
        removed = await session.execute(
            delete(InsurerSwitchRow).where(InsurerSwitchRow.provider_id == provider_id)
        )
        if not getattr(removed, "rowcount", 0):
            return False
        add_action(session, who, "insurer.switched_on", provider_id)
    return True


def skip_reason(reason: str) -> str:
    """What a quote request says of an insurer an operator switched off for ``reason``."""
    because = f": {reason}" if reason else ""
    return f"an operator switched this insurer off{because}"
