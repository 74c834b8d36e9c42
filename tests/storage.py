"""Emptying a test database between cases, append-only tables included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import String, delete, exists, literal, select, union_all

from accelerator.audit import guard
from accelerator.audit.models import PurgePermitRow
from accelerator.infra.database import Database
from accelerator.models import metadata

#: Children before parents, so that no foreign key is in the way.
_TABLES: Final = tuple(reversed(metadata.sorted_tables))
#: The names of the tables holding at least one row, in one statement (both dialects).
_FILLED: Final = union_all(
    *(
        select(literal(str(table.name), String())).where(exists().select_from(table))
        for table in _TABLES
    )
)
_PERMITS: Final = PurgePermitRow.__tablename__


async def empty_all_tables(db: Database) -> None:
    """Every row removed, in one transaction.

    Only the tables holding rows are emptied: one query finds them, and most tests leave a
    few (a DELETE per table, twice per test, was a third of a short API test on SQLite). The
    audited tables refuse DELETE (accelerator.audit.guard) unless the transaction holds a purge
    permit, as the retention purge does: we take one rather than dropping their triggers,
    whose DDL also made every other connection prepare its statements again.
    """
    async with db.writing() as session:
        filled = set((await session.execute(_FILLED)).scalars())
        if not filled:
            return
        others = [table for table in _TABLES if table.name in filled and table.name != _PERMITS]
        if filled.intersection(guard.APPEND_ONLY_TABLES):
            async with guard.purge_permit(session, datetime.now(UTC)):
                for table in others:
                    await session.execute(table.delete())
        else:
            for table in others:
                await session.execute(table.delete())
        if _PERMITS in filled:  # none is ever left; but if one were, it would be removed too
            await session.execute(delete(PurgePermitRow))
