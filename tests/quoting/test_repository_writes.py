"""Storing quote requests and results on the driver (``quoting.repository``): failures."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from accelerator.admin.models import InsurerSwitchRow
from accelerator.admin.switches import skip_reason
from accelerator.infra.database import Database
from accelerator.infra.driver_writes import run_batch, sqlite_transaction, write_connection
from accelerator.infra.statements import BatchWrite, Part, Statement
from accelerator.quoting.models import InsurerOutcomeRow
from accelerator.quoting.repository import store_request, store_results
from tests.quoting.fakes import make_request
from tests.quoting.storage import ask, declined

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_write_after_the_server_dropped_the_pooled_connection_gets_a_fresh_one(
    database: Database, database_url: str, seller: str
) -> None:
    await ask(database, "req-1", "harbor", "acorn")
    pool: QueuePool = database.write_engine.pool  # type: ignore[assignment]
    assert pool.checkedin() == 1  # every write so far went through this one connection
    async with database.write_engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))

    # As a server restart (or an administrator) ends it, from another connection.
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    admin = await asyncpg.connect(dsn)
    try:
        # With a timeout, it waits for the backend to have exited (PostgreSQL 14 and later).
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
    finally:
        await admin.close()

    # The first write finds the connection dead (nothing checks it on checkout)...
    with pytest.raises((asyncpg.InterfaceError, asyncpg.PostgresError)):
        await store_results(database, [("req-1", declined("harbor"))])
    # ...and is not handed it again: the next one gets a new connection and succeeds.
    await store_results(database, [("req-1", declined("acorn"))])
    await store_results(database, [("req-1", declined("harbor"))], ["req-1"])

    async with database.reading() as session:
        statuses = (
            await session.scalars(
                select(InsurerOutcomeRow.status).where(InsurerOutcomeRow.request_id == "req-1")
            )
        ).all()
    assert statuses == ["declined", "declined"]


async def test_an_error_after_which_sqlite_rolled_back_itself_is_raised_as_it_is(
    tmp_path: Path,
) -> None:
    # INSERT OR ROLLBACK ends the transaction itself on a conflict, as SQLite does on a full
    # disk or an I/O error: what fails is the insert, not a ROLLBACK with nothing to roll back.
    async with aiosqlite.connect(tmp_path / "t.db", isolation_level=None) as driver:
        await driver.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        await driver.execute("INSERT INTO t VALUES (1)")
        conflict = Statement.text(
            "conflict", sqlite="INSERT OR ROLLBACK INTO t VALUES (:id)", register=False
        )
        batch = BatchWrite(
            "conflict",
            [Part("t", ("id",), conflict)],
            postgresql="SELECT CAST(:t_id AS int[])",
            register=False,
        )
        with pytest.raises(sqlite3.IntegrityError):
            async with sqlite_transaction(driver):
                await run_batch(driver, batch, [[(2,), (1,)]], sqlite=True)
        assert not driver.in_transaction
        assert list(await driver.execute_fetchall("SELECT id FROM t")) == [(1,)]


async def test_storing_a_request_reads_the_insurers_switched_off_with_it(
    database: Database, seller: str
) -> None:
    now = datetime.now(UTC)
    async with database.writing() as session:
        session.add(
            InsurerSwitchRow(
                provider_id="harbor",
                reason="maintenance",
                switched_off_at=now,
                key_id="k-1",
                key_name="ops",
            )
        )

    switched_off = await store_request(
        database, make_request("req-1"), {"harbor": "Harbor", "acorn": "Acorn"}, now, now
    )

    assert switched_off == {"harbor": skip_reason("maintenance")}
    async with database.reading() as session:
        stored = (
            await session.scalars(
                select(InsurerOutcomeRow.provider_id).where(InsurerOutcomeRow.request_id == "req-1")
            )
        ).all()
    assert sorted(stored) == ["acorn", "harbor"]  # stored for every insurer, asked or not


async def test_a_write_whose_caller_is_cancelled_gives_its_connection_back(
    database: Database, seller: str
) -> None:
    pool: QueuePool = database.write_engine.pool  # type: ignore[assignment]
    entered = asyncio.Event()

    async def held_until_cancelled() -> None:
        async with write_connection(database):
            entered.set()
            await asyncio.Event().wait()

    holder = asyncio.create_task(held_until_cancelled())
    await entered.wait()
    assert pool.checkedout() == 1
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    # Returned (dropped, as a connection a cancelled statement may have left mid-way), and the
    # next write gets one of its own.
    assert pool.checkedout() == 0
    await ask(database, "req-1", "harbor")
    assert pool.checkedout() == 0


async def test_a_caller_cancelled_as_its_connection_goes_back_goes_on_only_once_it_is_back(
    database: Database,
) -> None:
    pool: QueuePool = database.write_engine.pool  # type: ignore[assignment]

    async def cancelled_on_the_way_out() -> None:
        async with write_connection(database):
            # Cancelled while the connection is being returned (on SQLite the return rolls
            # back on the driver's thread, a few turns of the loop).
            asyncio.get_running_loop().call_soon(asyncio.current_task().cancel)  # type: ignore[union-attr]

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(cancelled_on_the_way_out())
    assert pool.checkedout() == 0
