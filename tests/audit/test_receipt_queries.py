"""How the receipts' listing reads the table: ``affected=true`` starts from the marks, so a page
costs what the marked receipts cost, not a walk over every receipt (the service never analyzes
the receipts or their marks, so this is the plan SQLite makes without statistics)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from accelerator.audit import receipts
from accelerator.infra.database import Database

pytestmark = pytest.mark.anyio


async def test_the_affected_listing_reads_only_marked_receipts(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite's plan without statistics; PostgreSQL plans from its own")
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

    listing, parameters = next(
        (sql, params) for sql, params in issued if "FROM decision_receipts" in sql
    )
    with sqlite3.connect(str(make_url(database.url).database)) as connection:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {listing}", parameters).fetchall()
    steps = [row[3] for row in plan]
    assert not any(step.startswith("SCAN decision_receipts") for step in steps), steps
    assert any(step.startswith("SEARCH decision_receipts") for step in steps), steps
