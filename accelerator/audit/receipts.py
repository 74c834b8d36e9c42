"""Decision receipts' storage: the only code that reads or writes ``decision_receipts`` and
``decision_effects``.

An answer is given only once its receipt is committed, yet a commit per check would cost the
check its speed. So receipts are group-committed: :meth:`ReceiptWriter.write` queues a call's
receipts and waits; one flush at a time writes everything queued in one transaction, and the
calls that arrive meanwhile are the next flush. An idle service flushes at once (no timer); a
busy one writes many checks' receipts per commit. Each seller's receipts join its chain
(``audit.chain``) under the lock of its head (``audit.heads``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from sqlalchemy import and_, func, insert, select

from accelerator.audit import heads
from accelerator.audit.chain import Chain
from accelerator.audit.models import DecisionEffectRow, DecisionReceiptRow
from accelerator.infra.database import Database, ReadSession, WriteSession
from schemas import (
    AffectedBy,
    ChainLink,
    CoverageDecision,
    DecisionReceipt,
    ReceiptContent,
    reading_stored,
)

#: The most receipts one transaction writes; more queued wait for the next flush.
MAX_RECEIPTS_PER_COMMIT: Final = 5000

_CONTENT = msgspec.json.Decoder(ReceiptContent)
_DECISION = msgspec.json.Decoder(CoverageDecision)


def encode(content: ReceiptContent) -> str:
    """A receipt's canonical content: its struct's fields in their declared order."""
    return msgspec.json.encode(content).decode()


class ReceiptWriter:
    """Writes receipts durably, many calls' at a time (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queued: list[tuple[Sequence[ReceiptContent], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, receipts: Sequence[ReceiptContent]) -> None:
        """Return once ``receipts`` are committed; raise what the commit raised."""
        if not receipts:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((receipts, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="receipt-writer")
        # Shielded: a caller that stops waiting must not cancel the flush others wait on.
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._queued:
            taken, count = 0, 0
            while taken < len(self._queued) and count < MAX_RECEIPTS_PER_COMMIT:
                count += len(self._queued[taken][0])
                taken += 1
            batch, self._queued = self._queued[:taken], self._queued[taken:]
            try:
                async with self._db.writing() as session:
                    await _store(session, [r for receipts, _ in batch for r in receipts])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)


async def _store(session: WriteSession, receipts: Sequence[ReceiptContent]) -> None:
    await heads.lock(session, Chain.RECEIPTS, {r.seller_id for r in receipts})
    rows: list[dict[str, Any]] = []
    for receipt in receipts:
        document = encode(receipt)
        place = await heads.next_link(session, Chain.RECEIPTS, receipt.seller_id, document.encode())
        rows.append(
            {
                "id": receipt.id,
                "seller_id": receipt.seller_id,
                "claim_reference": receipt.claim_reference,
                "incident_at": receipt.request.incident_at,
                "evaluated_at": receipt.evaluated_at,
                "decision": receipt.decision.decision,
                "document": document,
                "chain_position": place.position,
                "prev_hash": place.prev_hash,
                "row_hash": place.row_hash,
            }
        )
    await session.execute(insert(DecisionReceiptRow), rows)


# --- reads -------------------------------------------------------------------------------------


def content_of(row: DecisionReceiptRow) -> ReceiptContent:
    """A stored receipt's content, read as it was written (bounds added since do not apply)."""
    with reading_stored():
        return _CONTENT.decode(row.document)


def decision_of(mark: DecisionEffectRow) -> CoverageDecision:
    """The decision a mark says the claim would get."""
    with reading_stored():
        return _DECISION.decode(mark.document)


def _receipt(row: DecisionReceiptRow, marks: Sequence[DecisionEffectRow]) -> DecisionReceipt:
    content = content_of(row)
    with reading_stored():
        affected_by = [
            AffectedBy(
                event_id=mark.event_id,
                detected_at=mark.detected_at,
                changed=mark.changed,
                decision=decision_of(mark),
            )
            for mark in marks
        ]
    return DecisionReceipt(
        **msgspec.structs.asdict(content),
        chain=ChainLink(
            position=row.chain_position, prev_hash=row.prev_hash, row_hash=row.row_hash
        ),
        affected=bool(marks) and marks[-1].changed,
        affected_by=affected_by,
    )


async def receipt(session: ReadSession | WriteSession, receipt_id: str) -> DecisionReceipt | None:
    row = await session.get(DecisionReceiptRow, receipt_id)
    if row is None:
        return None
    return _receipt(row, await marks(session, receipt_id))


async def content(session: ReadSession | WriteSession, receipt_id: str) -> ReceiptContent | None:
    """A receipt's content without its marks (what a replay decides again)."""
    row = await session.get(DecisionReceiptRow, receipt_id)
    return None if row is None else content_of(row)


async def marks(
    session: ReadSession | WriteSession, receipt_id: str
) -> Sequence[DecisionEffectRow]:
    """The receipt's marks, oldest first."""
    return (
        await session.scalars(
            select(DecisionEffectRow)
            .where(DecisionEffectRow.receipt_id == receipt_id)
            .order_by(DecisionEffectRow.id)
        )
    ).all()


def _latest_mark_changed() -> Any:
    latest = (
        select(DecisionEffectRow.changed)
        .where(DecisionEffectRow.receipt_id == DecisionReceiptRow.id)
        .order_by(DecisionEffectRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, False)


async def page(
    session: ReadSession,
    *,
    seller_id: str | None,
    claim_reference: str | None,
    affected: bool | None,
    limit: int,
    offset: int,
) -> list[DecisionReceipt]:
    """A page of receipts, newest first, filtered by whichever of the arguments are given."""
    query = select(DecisionReceiptRow)
    conditions = []
    if seller_id is not None:
        conditions.append(DecisionReceiptRow.seller_id == seller_id)
    if claim_reference is not None:
        conditions.append(DecisionReceiptRow.claim_reference == claim_reference)
    if affected is not None:
        changed = _latest_mark_changed()
        conditions.append(changed if affected else ~changed)
    if conditions:
        query = query.where(and_(*conditions))
    rows = (
        await session.scalars(
            query.order_by(DecisionReceiptRow.evaluated_at.desc(), DecisionReceiptRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [_receipt(row, await marks(session, row.id)) for row in rows]


async def sellers_receipts(session: WriteSession, seller_id: str) -> Sequence[DecisionReceiptRow]:
    """Every receipt of the seller, in its chain's order."""
    return (
        await session.scalars(
            select(DecisionReceiptRow)
            .where(DecisionReceiptRow.seller_id == seller_id)
            .order_by(DecisionReceiptRow.chain_position)
        )
    ).all()


async def latest_marks(
    session: WriteSession, receipt_ids: Sequence[str]
) -> dict[str, DecisionEffectRow]:
    """The latest mark of each of these receipts that has one."""
    latest: dict[str, DecisionEffectRow] = {}
    if not receipt_ids:
        return latest
    rows = await session.scalars(
        select(DecisionEffectRow)
        .where(DecisionEffectRow.receipt_id.in_(receipt_ids))
        .order_by(DecisionEffectRow.id)
    )
    for row in rows:
        latest[row.receipt_id] = row
    return latest
