"""On SQLite, the quote writes of one process take turns on an asyncio lock instead of meeting
in SQLite's busy handler (``infra.driver_writes._writer_turn``): a second write waits for the
first to end, a failed write hands the turn on, and many at once all land. And the engine hands
out the connection returned last, whose page cache is the warmest (``infra.database``)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import func, select

from accelerator.infra.database import Database
from accelerator.infra.driver_writes import sqlite_transaction, write_connection
from accelerator.quoting.models import InsurerOutcomeRow, QuoteRequestRow
from accelerator.quoting.repository import store_results
from tests.quoting.storage import ask, declined, offered

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


async def test_a_second_write_gets_its_connection_only_after_the_first_write_ends(
    database: Database,
) -> None:
    order: list[str] = []
    first_began, release_first = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with write_connection(database) as driver, sqlite_transaction(driver):
            order.append("first began")
            first_began.set()
            await release_first.wait()
        order.append("first ended")

    async def second() -> None:
        async with write_connection(database) as driver:
            order.append("second has its connection")
            async with sqlite_transaction(driver):
                order.append("second began")

    holding = asyncio.create_task(first())
    await first_began.wait()
    waiting = asyncio.create_task(second())
    # Long enough for the second write to be handed its connection if nothing made it wait
    # (it would then wait in SQLite's busy handler, in BEGIN IMMEDIATE); with the turn it
    # cannot have it before the first ends.
    await asyncio.sleep(0.2)
    release_first.set()
    await asyncio.gather(holding, waiting)

    assert order == ["first began", "first ended", "second has its connection", "second began"]


async def test_a_write_that_fails_hands_the_turn_to_the_next(
    database: Database, seller: str
) -> None:
    with pytest.raises(sqlite3.OperationalError):
        async with write_connection(database) as driver, sqlite_transaction(driver):
            await driver.execute("INSERT INTO no_such_table VALUES (1)")

    await ask(database, "req-1", "harbor")

    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(QuoteRequestRow)) == 1


async def test_many_requests_and_their_results_written_at_once_all_land(
    database: Database, seller: str
) -> None:
    requests = [f"req-{n}" for n in range(40)]
    await asyncio.gather(*(ask(database, request_id, "harbor", "acorn") for request_id in requests))

    await asyncio.gather(
        *(
            store_results(
                database,
                [(request_id, offered("harbor")), (request_id, declined("acorn"))],
                [request_id],
            )
            for request_id in requests
        )
    )

    async with database.reading() as session:
        statuses = (await session.scalars(select(QuoteRequestRow.status))).all()
        outcomes = (await session.scalars(select(InsurerOutcomeRow.status))).all()
    assert sorted(statuses) == ["complete"] * 40
    assert sorted(outcomes) == ["declined"] * 40 + ["offered"] * 40


async def test_the_next_write_gets_the_connection_the_last_write_returned(
    database: Database, seller: str
) -> None:
    # Two connections open, one returned before the other: first in, first out would hand
    # out the one returned first next, whose page cache the other's write may have made stale.
    async with database.write_engine.connect() as returned_last:
        async with database.write_engine.connect() as returned_first:
            earlier = (await returned_first.get_raw_connection()).driver_connection
        later = (await returned_last.get_raw_connection()).driver_connection
    assert earlier is not later

    async with write_connection(database) as driver:
        assert driver is later
