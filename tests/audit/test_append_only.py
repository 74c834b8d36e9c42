"""The audited tables refuse UPDATE and DELETE in the database itself, whoever connects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from accelerator.audit.models import DecisionEffectRow
from accelerator.infra.database import Database
from tests.audit.trail import seller_trail

pytestmark = pytest.mark.anyio

CHANGES = [
    "UPDATE policy_events SET kind = 'lapsed'",
    "DELETE FROM policy_events",
    "UPDATE decision_receipts SET decision = 'not_exempt'",
    "DELETE FROM decision_receipts",
    "UPDATE decision_effects SET decision = 'exempt'",
    "DELETE FROM decision_effects",
]


@pytest.mark.parametrize("statement", CHANGES)
async def test_plain_sql_cannot_change_or_remove_an_audited_row(
    database: Database, statement: str
) -> None:
    trail = await seller_trail(database, "s-1", receipts=1)
    async with database.writing() as session:
        session.add(
            DecisionEffectRow(
                receipt_id=trail.receipts[0],
                seller_id="s-1",
                event_id=trail.events[-1],
                decision="not_exempt",
                changed=True,
                document="{}",
                detected_at=datetime.now(UTC),
            )
        )
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.writing() as session:
            await session.execute(text(statement))
    table = statement.split()[1 if statement.startswith("UPDATE") else 2]
    async with database.reading() as session:
        assert await session.scalar(text(f"SELECT count(*) FROM {table}")) >= 1  # noqa: S608
