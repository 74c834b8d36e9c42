"""Verifying the hash chains: intact after normal use, and each kind of edit made behind the
triggers' back is named at the first link it breaks (seller, chain, position, problem)."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from accelerator.audit.chain import GENESIS, Chain, event_content, link
from accelerator.audit.models import AuditHeadRow, DecisionReceiptRow
from accelerator.audit.verify import (
    ChainRow,
    ChainVerifier,
    ChainWalk,
    ReceiptColumns,
    receipt_disagreement,
)
from accelerator.coverage.models import PolicyEventRow
from accelerator.infra.database import Database
from schemas import AuditVerification
from tests.audit.trail import SellerTrail, receipt_content, seller_trail, tamper

pytestmark = pytest.mark.anyio

SELLERS = ("s-1", "s-2", "s-3")


@pytest.fixture
async def trails(database: Database) -> dict[str, SellerTrail]:
    """Three sellers, each with four chained events and three receipts."""
    return {seller_id: await seller_trail(database, seller_id) for seller_id in SELLERS}


def broken(verification: AuditVerification) -> list[tuple[str, str, int, str | None, str]]:
    return [
        (link.seller_id, link.chain, link.position, link.row_id, link.problem)
        for link in verification.broken
    ]


async def test_every_chain_is_intact_after_normal_use(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    verifier = ChainVerifier(database)
    everyone = await verifier.verify_page(after=None, limit=100)
    assert everyone == AuditVerification(
        intact=True, sellers_checked=3, rows_checked=3 * (4 + 3), broken=[], next_after=None
    )
    one = await verifier.verify_seller("s-2")
    assert (one.intact, one.sellers_checked, one.rows_checked) == (True, 1, 7)


async def test_sellers_are_verified_a_page_at_a_time(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    verifier = ChainVerifier(database)
    first = await verifier.verify_page(after=None, limit=2)
    assert (first.sellers_checked, first.rows_checked, first.next_after) == (2, 14, "s-2")
    last = await verifier.verify_page(after=first.next_after, limit=2)
    assert (last.sellers_checked, last.rows_checked, last.next_after) == (1, 7, None)


async def test_a_seller_without_chains_is_intact(database: Database) -> None:
    verified = await ChainVerifier(database).verify_seller("s-nobody")
    assert (verified.intact, verified.rows_checked) == (True, 0)


async def test_a_cancellation_moved_in_time_is_named_at_its_event(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    cancellation = trails["s-2"].events[2]
    row = await _event(database, cancellation)
    await tamper(
        database,
        update(PolicyEventRow)
        .where(PolicyEventRow.event_id == cancellation)
        .values(effective_at=row.effective_at + timedelta(days=30)),
    )
    verified = await ChainVerifier(database).verify_page(after=None, limit=100)
    assert not verified.intact
    assert broken(verified) == [("s-2", "events", 3, cancellation, "content_altered")]
    assert verified.broken[0].message.startswith("seller s-2, events chain, position 3: event ")


async def test_a_limit_raised_inside_the_terms_is_named_at_the_issued_event(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    issued = trails["s-1"].events[0]
    data = (await _event(database, issued)).data
    data["terms"]["per_occurrence_limit"]["amount"] = "5000000"
    await tamper(
        database, update(PolicyEventRow).where(PolicyEventRow.event_id == issued).values(data=data)
    )
    verified = await ChainVerifier(database).verify_seller("s-1")
    assert broken(verified) == [("s-1", "events", 1, issued, "content_altered")]


async def test_a_receipt_s_document_changed_from_exempt_to_not_exempt_is_named(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    receipt = trails["s-3"].receipts[0]  # an exempt decision
    await tamper(
        database,
        "UPDATE decision_receipts "
        "SET document = replace(document, '\"exempt\"', '\"not_exempt\"') WHERE id = :id",
        id=receipt,
    )
    verified = await ChainVerifier(database).verify_page(after=None, limit=100)
    assert broken(verified) == [("s-3", "receipts", 1, receipt, "content_altered")]


async def test_a_receipt_s_decision_column_changed_alone_disagrees_with_its_document(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    receipt = trails["s-1"].receipts[2]  # exempt
    await tamper(
        database, "UPDATE decision_receipts SET decision = 'not_exempt' WHERE id = :id", id=receipt
    )
    verified = await ChainVerifier(database).verify_page(after=None, limit=100)
    assert broken(verified) == [("s-1", "receipts", 3, receipt, "columns_disagree")]
    assert "decision is 'not_exempt' where the document says 'exempt'" in verified.broken[0].message


async def test_a_row_deleted_from_the_middle_is_named_by_its_position(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    events, receipts = trails["s-2"].events, trails["s-2"].receipts
    await tamper(
        database,
        "DELETE FROM audit_pending_events WHERE event_id = :event",
        "DELETE FROM policy_events WHERE event_id = :event",
        "DELETE FROM decision_receipts WHERE id = :receipt",
        event=events[2],
        receipt=receipts[1],
    )
    verified = await ChainVerifier(database).verify_page(after=None, limit=100)
    # The rows found where the missing ones should be: the ones after them.
    assert broken(verified) == [
        ("s-2", "events", 3, events[3], "position_gap"),
        ("s-2", "receipts", 2, receipts[2], "position_gap"),
    ]


async def test_a_last_row_deleted_leaves_the_head_beyond_the_chain(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    events, receipts = trails["s-3"].events, trails["s-3"].receipts
    await tamper(
        database,
        "DELETE FROM audit_pending_events WHERE event_id = :event",
        "DELETE FROM policy_events WHERE event_id = :event",
        "DELETE FROM decision_receipts WHERE id = :receipt",
        event=events[3],
        receipt=receipts[2],
    )
    verified = await ChainVerifier(database).verify_seller("s-3")
    assert broken(verified) == [
        ("s-3", "events", 4, None, "rows_missing_at_end"),
        ("s-3", "receipts", 3, None, "rows_missing_at_end"),
    ]
    assert "head is at position 4" in verified.broken[0].message


async def test_a_row_replaced_with_its_hash_recomputed_breaks_the_next_link(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    event_id = trails["s-1"].events[1]
    row = await _event(database, event_id)
    forged = {**row.data, "note": "verified by phone"}
    content = event_content(
        event_id=row.event_id, policy_id=row.policy_id, seller_id=row.seller_id, kind=row.kind,
        effective_at=row.effective_at, recorded_at=row.recorded_at, data=forged,
    )  # fmt: skip
    await tamper(
        database,
        update(PolicyEventRow)
        .where(PolicyEventRow.event_id == event_id)
        .values(data=forged, row_hash=link(row.prev_hash, content)),
    )
    verified = await ChainVerifier(database).verify_seller("s-1")
    assert broken(verified) == [("s-1", "events", 3, trails["s-1"].events[2], "link_broken")]


async def test_a_head_moved_back_or_changed_is_named(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    heads = AuditHeadRow.__table__
    await tamper(
        database,
        update(AuditHeadRow)
        .where(heads.c.chain == Chain.EVENTS.value, heads.c.seller_id == "s-1")
        .values(position=2),
        update(AuditHeadRow)
        .where(heads.c.chain == Chain.RECEIPTS.value, heads.c.seller_id == "s-2")
        .values(row_hash=GENESIS),
    )
    verifier = ChainVerifier(database)
    verified = await verifier.verify_page(after=None, limit=100)
    assert broken(verified) == [
        ("s-1", "events", 2, trails["s-1"].events[1], "head_mismatch"),
        ("s-2", "receipts", 3, trails["s-2"].receipts[2], "head_mismatch"),
    ]


async def test_rows_past_a_removed_head_are_named(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    await tamper(
        database,
        "DELETE FROM audit_heads WHERE chain = 'receipts' AND seller_id = 's-3'",
    )
    verified = await ChainVerifier(database).verify_seller("s-3")
    assert broken(verified) == [
        ("s-3", "receipts", 1, trails["s-3"].receipts[0], "rows_beyond_head")
    ]


async def test_the_triggers_are_back_after_tampering(
    database: Database, trails: dict[str, SellerTrail]
) -> None:
    await tamper(
        database, "DELETE FROM decision_receipts WHERE id = :id", id=trails["s-1"].receipts[2]
    )
    async with database.reading() as session:
        left = await session.scalars(
            select(DecisionReceiptRow.id).where(DecisionReceiptRow.seller_id == "s-1")
        )
        assert len(left.all()) == 2
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.writing() as session:
            await session.execute(text("DELETE FROM decision_receipts"))


def test_a_walk_stops_at_the_first_broken_link_of_a_chain() -> None:
    walk = ChainWalk("s-1", Chain.RECEIPTS)
    first = ChainRow(1, "r-1", GENESIS, link(GENESIS, b"one"), b"one")
    second = ChainRow(2, "r-2", "f" * 64, link("f" * 64, b"two"), b"two")
    assert walk.step(first) is None
    found = walk.step(second)
    assert found is not None
    assert (found.position, found.problem) == (2, "link_broken")
    assert (walk.position, walk.last_hash, walk.rows) == (1, first.row_hash, 2)


async def _event(database: Database, event_id: str) -> PolicyEventRow:
    async with database.reading() as session:
        row = await session.scalar(
            select(PolicyEventRow).where(PolicyEventRow.event_id == event_id)
        )
    assert row is not None
    return row


def test_a_receipt_document_that_is_no_receipt_is_named_unreadable() -> None:
    content = receipt_content("s-1")
    columns = ReceiptColumns(
        id=content.id,
        seller_id="s-1",
        claim_reference=content.claim_reference,
        decision="exempt",
        evaluated_at=content.evaluated_at,
        incident_at=content.request.incident_at,
    )
    assert receipt_disagreement(columns, msgspec.json.encode(content)) is None
    problem, why = receipt_disagreement(columns, b'{"id": "r-1"}') or ("", "")
    assert problem == "document_unreadable"
    assert "not a receipt's content" in why
