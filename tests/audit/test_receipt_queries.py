"""How the receipts' listing reads the table: ``affected=true`` starts from the marks, so a page
costs what the marked receipts cost, not a walk over every receipt (the service never analyzes
the receipts or their marks, so this is the plan SQLite makes without statistics, on a database
as migrated)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from accelerator.audit import receipts
from accelerator.infra import migrations
from accelerator.infra.database import open_database

pytestmark = pytest.mark.anyio


async def test_the_affected_listing_reads_only_marked_receipts(tmp_path: Path) -> None:
    path = tmp_path / "unanalyzed.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrations.upgrade_async(url)
    database = open_database(url)
    issued: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        issued.append((statement, parameters))

    engine = database.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with database.reading() as session:
            await receipts.page(
                session, seller_id=None, claim_reference=None, affected=True, limit=50, offset=0
            )
    finally:
        event.remove(engine, "before_cursor_execute", record)
        await database.dispose()

    listing, parameters = next(
        (sql, params) for sql, params in issued if "FROM decision_receipts" in sql
    )
    with sqlite3.connect(path) as connection:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {listing}", parameters).fetchall()
    steps = [row[3] for row in plan]
    assert not any(step.startswith("SCAN decision_receipts") for step in steps), steps
    assert any(step.startswith("SEARCH decision_receipts") for step in steps), steps
