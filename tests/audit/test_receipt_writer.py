"""The receipt writer (accelerator/audit/receipts.py): many callers' receipts group-committed,
each seller's chained in one unbroken line, a failure given to every caller of its flush and
to no other. Both databases."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from accelerator.audit.receipts import ReceiptWriter, receipts_in_chain_order
from accelerator.audit.verify import ChainVerifier
from accelerator.infra.database import Database
from tests.audit.trail import receipt_content

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
