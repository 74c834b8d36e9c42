"""Emptying a test database between cases, append-only tables included."""

from __future__ import annotations

from sqlalchemy import text

from accelerator.audit import guard
from accelerator.infra.database import Database
from accelerator.models import metadata


async def empty_all_tables(db: Database) -> None:
    """Every row removed. The audited tables refuse DELETE (accelerator.audit.guard): their
    triggers are dropped for it and created again, in the same transaction."""
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    async with db.writing() as session:
        for statement in guard.drop_statements(dialect):
            await session.execute(text(statement))
        for table in reversed(metadata.sorted_tables):
            await session.execute(table.delete())
        for statement in guard.create_statements(dialect):
            await session.execute(text(statement))
