"""The receipt writer (accelerator/audit/receipts.py): many callers' receipts group-committed,
each seller's chained in one unbroken line, a failure given to every caller of its flush and
to no other; a seller whose head is held elsewhere holds up no other seller. Both databases
(the held head: PostgreSQL, where flushes run side by side)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs published
import msgspec
import pytest
from sqlalchemy import text

from accelerator.audit.receipts import (
    _ADVANCE_HEADS_POSTGRESQL,
    _APPEND_POSTGRESQL,
    _MOVE_HEADS_SQLITE,
    ReceiptWriter,
    receipts_in_chain_order,
)
from accelerator.audit.verify import ChainVerifier
from accelerator.infra import migrations
from accelerator.infra.codec import json_text
from accelerator.infra.database import Database
from accelerator.infra.lookups import asyncpg_dsn
from accelerator.infra.statements import Statement
from tests.audit.trail import receipt_content, tamper

pytestmark = pytest.mark.anyio


async def test_concurrent_callers_receipts_are_committed_and_chained_per_seller(
    database: Database,
) -> None:
    writer = ReceiptWriter(database)
    calls = [
        [receipt_content(f"s-{(call + i) % 3}") for i in range(call % 4 + 1)] for call in range(30)
    ]
    await asyncio.gather(*(writer.write(receipts) for receipts in calls))

    async with database.reading() as session:
        stored = {
            seller: await receipts_in_chain_order(session, seller, after_position=0, limit=1000)
            for seller in ("s-0", "s-1", "s-2")
        }
    written = {r.id for receipts in calls for r in receipts}
    assert {row.id for rows in stored.values() for row in rows} == written
    for rows in stored.values():
        assert [row.chain_position for row in rows] == list(range(1, len(rows) + 1))
    verified = await ChainVerifier(database).verify_page(after=None, limit=10)
    assert verified.broken == []
    assert verified.rows_checked == len(written)


async def test_a_failed_flush_fails_its_callers_and_the_next_write_succeeds(
    database: Database,
) -> None:
    writer = ReceiptWriter(database)
    good = receipt_content("s-1")
    # A receipt whose id is already stored cannot be inserted: its whole flush is refused.
    await writer.write([good])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await writer.write([receipt_content("s-2"), msgspec.structs.replace(good)])
    later = receipt_content("s-2")
    await writer.write([later])
    async with database.reading() as session:
        s2 = await receipts_in_chain_order(session, "s-2", after_position=0, limit=10)
    # Nothing of the refused flush was kept: s-2's chain starts with the later receipt.
    assert [(row.id, row.chain_position) for row in s2] == [(later.id, 1)]


async def test_two_writers_opening_the_same_new_sellers_at_once_chain_every_receipt(
    database: Database,
) -> None:
    # Two processes' writers, each taking the heads of sellers new to the chain, in opposite
    # orders: on PostgreSQL the heads are opened and locked in one statement in seller order,
    # so neither deadlocks nor loses a receipt.
    sellers = [f"new-{n}" for n in range(12)]
    writers = (ReceiptWriter(database), ReceiptWriter(database))
    calls = [
        (writers[call % 2], [receipt_content(s) for s in (sellers if call % 2 else sellers[::-1])])
        for call in range(8)
    ]
    await asyncio.gather(*(writer.write(receipts) for writer, receipts in calls))

    async with database.reading() as session:
        for seller in sellers:
            rows = await receipts_in_chain_order(session, seller, after_position=0, limit=100)
            assert [row.chain_position for row in rows] == list(range(1, 9))
    verified = await ChainVerifier(database).verify_page(after=None, limit=100)
    assert verified.broken == []
    assert verified.rows_checked == 8 * len(sellers)


async def _lock_waiters(database: Database) -> int:
    async with database.write_engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(waiting or 0)


async def test_a_seller_whose_head_is_held_holds_up_no_other_seller(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite takes one writer at a time: its flushes never run side by side")
    writer = ReceiptWriter(database)
    first = receipt_content("s-held")
    await writer.write([first])  # the seller's head now exists

    async with database.write_engine.connect() as holder:
        # Another process's flush holds s-held's head until this block ends.
        await holder.execute(
            text(
                "SELECT 1 FROM audit_heads WHERE chain = 'receipts' AND seller_id = 's-held' "
                "FOR UPDATE"
            )
        )
        held = receipt_content("s-held")
        waiting = asyncio.create_task(writer.write([held]))
        for _ in range(1000):  # until its flush waits on the lock (a guard, not a timing)
            if await _lock_waiters(database):
                break
            await asyncio.sleep(0.01)
        assert not waiting.done()

        # A second receipt of the held seller and one of another seller, queued together:
        # the other seller's is committed meanwhile, by a flush of its own, and the held
        # seller's waits for the first one's flush.
        after, free = receipt_content("s-held"), receipt_content("s-free")
        following = asyncio.create_task(writer.write([after]))
        await asyncio.wait_for(writer.write([free]), timeout=60)
        assert not waiting.done()
        assert not following.done()
        await holder.rollback()

    await asyncio.wait_for(asyncio.gather(waiting, following), timeout=60)
    async with database.reading() as session:
        held_chain = await receipts_in_chain_order(session, "s-held", after_position=0, limit=10)
    # The held seller's receipts in the order they came, unbroken.
    assert [row.id for row in held_chain] == [first.id, held.id, after.id]
    assert [row.chain_position for row in held_chain] == [1, 2, 3]


async def test_a_flush_of_hundreds_and_one_of_a_few_both_extend_the_chains(
    database: Database,
) -> None:
    # Hundreds of receipts go by COPY on PostgreSQL, a few by one statement: the chains read
    # the same whichever way a flush went.
    writer = ReceiptWriter(database)
    large = [receipt_content(f"s-{n % 3}") for n in range(150)]
    small = [receipt_content(f"s-{n}") for n in range(3)]
    await writer.write(large)
    await writer.write(small)

    async with database.reading() as session:
        for seller in ("s-0", "s-1", "s-2"):
            rows = await receipts_in_chain_order(session, seller, after_position=0, limit=100)
            expected = [r.id for r in large if r.seller_id == seller]
            expected += [r.id for r in small if r.seller_id == seller]
            assert [row.id for row in rows] == expected
            assert [row.chain_position for row in rows] == list(range(1, 52))
    verified = await ChainVerifier(database).verify_page(after=None, limit=10)
    assert verified.broken == []
    assert verified.rows_checked == 153


@pytest.mark.parametrize("size", [1, 100], ids=["one statement", "copy"])
async def test_a_writer_whose_known_heads_another_moved_still_chains_every_receipt(
    database: Database, size: int
) -> None:
    # Each writer remembers where its flushes left a chain and writes the next flush after it
    # without taking the head (PostgreSQL). Two processes' writers taking turns on the same
    # sellers each find, every other turn, that the other moved the heads: that flush is
    # refused whole and written again after the heads as they are.
    first, second = ReceiptWriter(database), ReceiptWriter(database)
    sellers = ("turns-a", "turns-b")
    written = []
    for turn in range(4):
        writer = (first, second)[turn % 2]
        receipts = [receipt_content(sellers[n % 2]) for n in range(size)] + [
            receipt_content(seller) for seller in sellers
        ]
        await writer.write(receipts)
        written += receipts

    async with database.reading() as session:
        for seller in sellers:
            rows = await receipts_in_chain_order(session, seller, after_position=0, limit=1000)
            assert [row.id for row in rows] == [r.id for r in written if r.seller_id == seller]
            assert [row.chain_position for row in rows] == list(range(1, len(rows) + 1))
    verified = await ChainVerifier(database).verify_page(after=None, limit=10)
    assert verified.broken == []
    assert verified.rows_checked == len(written)


@pytest.mark.parametrize("size", [1, 100], ids=["one statement", "copy"])
async def test_a_writer_continues_each_chain_where_a_restored_database_left_it(
    database: Database, size: int
) -> None:
    # A database restored from a backup goes back in time under the running processes: the
    # heads a writer remembers (PostgreSQL) are then ahead of the database's. Its next flush
    # must chain after the rows the database has, not after the rows it remembers.
    writer = ReceiptWriter(database)
    kept, lost = receipt_content("s-restored"), receipt_content("s-restored")
    await writer.write([kept])
    await writer.write([lost])
    async with database.reading() as session:
        [first, _] = await receipts_in_chain_order(
            session, "s-restored", after_position=0, limit=10
        )
    # The backup was taken between the two writes.
    await tamper(
        database,
        "DELETE FROM decision_receipts WHERE id = :lost",
        "UPDATE audit_heads SET position = 1, row_hash = :kept_hash "
        "WHERE chain = 'receipts' AND seller_id = 's-restored'",
        lost=lost.id,
        kept_hash=first.row_hash,
    )

    after = [receipt_content("s-restored") for _ in range(size)]
    await writer.write(after)
    async with database.reading() as session:
        chain = await receipts_in_chain_order(session, "s-restored", after_position=0, limit=200)
    assert [row.id for row in chain] == [kept.id, *(r.id for r in after)]
    assert [row.chain_position for row in chain] == list(range(1, size + 2))
    verified = await ChainVerifier(database).verify_page(after=None, limit=10)
    assert verified.broken == []


def test_sqlite_finds_each_moved_head_by_its_key_without_statistics(tmp_path: Path) -> None:
    # The service never analyzes the heads, and without statistics SQLite's planner ran the heads'
    # move (then an UPDATE ... FROM json_each) as a walk over every head of the chain for each
    # head moved: a flush's cost grew with the number of sellers. Every step of the plan that
    # touches the heads must find them by seller, on a database as migrated.
    path = tmp_path / "unanalyzed.db"
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")
    moving = _MOVE_HEADS_SQLITE.compiled("sqlite")
    with sqlite3.connect(path) as connection:
        plan = connection.execute(
            "EXPLAIN QUERY PLAN " + moving.sql, moving.args({"chain": "receipts", "heads": "[]"})
        ).fetchall()
    steps = [row[3] for row in plan]
    assert steps, "no plan"
    assert all("seller_id=?" in step for step in steps if "audit_heads" in step), steps
    assert not any(step.startswith("SCAN audit_heads") for step in steps), steps


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement", [_APPEND_POSTGRESQL, _ADVANCE_HEADS_POSTGRESQL], ids=lambda s: s.name
)
async def test_postgres_finds_each_head_of_a_flush_by_its_key(
    postgres_url: str, statement: Statement
) -> None:
    # A flush reads and moves its own sellers' heads only: reading them through a join, the
    # planner hashed every head of the chain for each flush, a cost that grew with the sellers.
    connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
    transaction = connection.transaction()  # rolled back: the database is the session's
    await transaction.start()
    try:
        await connection.execute(
            "INSERT INTO audit_heads (chain, seller_id, position, row_hash) "
            "SELECT 'receipts', 'plan-' || n, 1, repeat('a', 64) "
            "FROM generate_series(1, 5000) AS n"
        )
        await connection.execute("ANALYZE audit_heads")
        heads = json_text([("plan-1", 2, "b" * 64, 1), ("plan-2", 2, "c" * 64, 1)])
        compiled = statement.compiled("postgresql")
        given = {"chain": "receipts", "heads": heads, "rows": "[]", "documents": []}
        params = {name: given[name] for name in compiled.names}
        plan = await connection.fetch("EXPLAIN " + compiled.sql, *compiled.args(params))
    finally:
        await transaction.rollback()
        await connection.close()
    steps = [row[0] for row in plan]
    assert any("audit_heads" in step for step in steps), steps
    assert not any("Seq Scan on audit_heads" in step for step in steps), steps


async def test_a_caller_that_stops_waiting_stops_no_flush(database: Database) -> None:
    # Two callers' receipts go in one flush; the first caller is cancelled while it waits (a
    # client hung up). The flush still commits both, and the second caller is answered.
    writer = ReceiptWriter(database)
    first, second = receipt_content("s-gone"), receipt_content("s-stays")
    gone = asyncio.create_task(writer.write([first]))
    stays = asyncio.create_task(writer.write([second]))
    await asyncio.sleep(0)  # both queued, the flush under way
    gone.cancel()
    await asyncio.wait_for(stays, timeout=60)
    with pytest.raises(asyncio.CancelledError):
        await gone
    async with database.reading() as session:
        for receipt in (first, second):
            rows = await receipts_in_chain_order(
                session, receipt.seller_id, after_position=0, limit=10
            )
            assert [row.id for row in rows] == [receipt.id]
