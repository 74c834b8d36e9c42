"""Decision receipts' storage: the only code that reads or writes ``decision_receipts`` and
``decision_effects`` (the retention purge removes a chain's old prefix through
:func:`purge_receipts`).

An answer is given only once its receipt is committed, yet a commit per check would cost the
check its speed. So receipts are group-committed: :meth:`ReceiptWriter.write` queues a call's
receipts and waits; one flush at a time writes everything queued in one transaction, and the
calls that arrive meanwhile are the next flush. An idle service flushes at once (no timer); a
busy one writes many checks' receipts per commit. Each seller's receipts join its chain
(``audit.chain``) under the lock of its head (the ``audit_heads`` row, as ``audit.heads``
explains, taken here with the driver's own statements).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec
from sqlalchemy import (
    ARRAY,
    String,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from accelerator.audit.anchors import ChainPrefix
from accelerator.audit.chain import GENESIS, Chain, link
from accelerator.audit.models import AuditHeadRow, DecisionEffectRow, DecisionReceiptRow
from accelerator.infra.codec import json_text, stored_instant
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.infra.driver_writes import run_batch, sqlite_transaction, write_connection
from accelerator.infra.statements import BatchWrite, DialectName, Part, Statement
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
    """Writes receipts durably, many calls' at a time (see the module's docstring).

    On PostgreSQL two flushes may be in flight, so that the next one is assembled and sent
    while the last waits for its commit; a seller in both waits for the first (its chain's
    head is locked). SQLite takes one writer at a time: one flush."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queued: list[tuple[Sequence[ReceiptContent], asyncio.Future[None]]] = []
        self._flushes = 0
        self._most_flushes = 1 if db.is_sqlite else 2
        # Referenced until done: the event loop keeps only weak references to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, receipts: Sequence[ReceiptContent]) -> None:
        """Return once ``receipts`` are committed; raise what the commit raised."""
        if not receipts:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((receipts, done))
        if self._flushes < self._most_flushes:
            self._flushes += 1
            task = asyncio.create_task(self._flush(), name="receipt-writer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a caller that stops waiting must not cancel the flush others wait on.
        await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._queued:
                await self._flush_once()
        finally:
            self._flushes -= 1

    async def _flush_once(self) -> None:
        taken, count = 0, 0
        while taken < len(self._queued) and count < MAX_RECEIPTS_PER_COMMIT:
            count += len(self._queued[taken][0])
            taken += 1
        batch, self._queued = self._queued[:taken], self._queued[taken:]
        try:
            await _store(self._db, [r for receipts, _ in batch for r in receipts])
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)


# The writes run on the driver (infra.driver_writes): a batch check keeps a thousand receipts,
# and SQLAlchemy's per-row work cost more than deciding them (docs/performance.md). Three
# statements per flush whatever its size (SQLite: one per row, in one transaction): open the
# heads of sellers new to the chain, lock the heads in seller order, then insert the receipts
# and move the heads.
def _heads(dialect: DialectName) -> Any:
    if dialect == "postgresql":
        wanted = AuditHeadRow.seller_id == any_(bindparam("seller_ids", type_=ARRAY(String)))
    else:
        ids = func.json_each(bindparam("seller_ids", type_=String)).table_valued("value")
        wanted = AuditHeadRow.seller_id.in_(select(ids.c.value))
    return (
        select(AuditHeadRow.seller_id, AuditHeadRow.position, AuditHeadRow.row_hash)
        .where(AuditHeadRow.chain == bindparam("chain"), wanted)
        .order_by(AuditHeadRow.seller_id)
        .with_for_update()
    )


_LOCK_HEADS = Statement("lock_audit_heads", _heads)

_OPEN_HEADS = BatchWrite(
    "open_audit_heads",
    [
        Part(
            "head",
            ("chain", "seller_id", "row_hash"),
            Statement(
                "open_audit_heads.head",
                sqlite_insert(AuditHeadRow)
                .values(
                    chain=bindparam("chain"),
                    seller_id=bindparam("seller_id"),
                    position=literal_column("0"),
                    row_hash=bindparam("row_hash"),
                )
                .on_conflict_do_nothing(),
                dialects=("sqlite",),
            ),
        )
    ],
    postgresql="""
INSERT INTO audit_heads (chain, seller_id, position, row_hash)
SELECT v.chain, v.seller_id, 0, v.row_hash
FROM unnest(CAST(:head_chain AS text[]), CAST(:head_seller_id AS text[]),
            CAST(:head_row_hash AS text[])) AS v(chain, seller_id, row_hash)
ORDER BY v.seller_id
ON CONFLICT DO NOTHING
""",
)

_RECEIPT_COLUMNS = (
    "id",
    "seller_id",
    "claim_reference",
    "incident_at",
    "evaluated_at",
    "decision",
    "document",
    "chain_position",
    "prev_hash",
    "row_hash",
)
_STORE = BatchWrite(
    "store_receipts",
    [
        Part(
            "receipt",
            _RECEIPT_COLUMNS,
            Statement(
                "store_receipts.receipt",
                insert(DecisionReceiptRow).values({c: bindparam(c) for c in _RECEIPT_COLUMNS}),
                dialects=("sqlite",),
            ),
        ),
        Part(
            "head",
            ("chain", "seller_id", "position", "row_hash"),
            Statement(
                "store_receipts.head",
                update(AuditHeadRow)
                .where(
                    AuditHeadRow.chain == bindparam("chain"),
                    AuditHeadRow.seller_id == bindparam("seller_id"),
                )
                .values(position=bindparam("position"), row_hash=bindparam("row_hash")),
                dialects=("sqlite",),
            ),
        ),
    ],
    postgresql="""
WITH stored AS (
    INSERT INTO decision_receipts (id, seller_id, claim_reference, incident_at, evaluated_at,
                                   decision, document, chain_position, prev_hash, row_hash)
    SELECT * FROM unnest(
        CAST(:receipt_id AS text[]), CAST(:receipt_seller_id AS text[]),
        CAST(:receipt_claim_reference AS text[]), CAST(:receipt_incident_at AS timestamptz[]),
        CAST(:receipt_evaluated_at AS timestamptz[]), CAST(:receipt_decision AS text[]),
        CAST(:receipt_document AS text[]), CAST(:receipt_chain_position AS integer[]),
        CAST(:receipt_prev_hash AS text[]), CAST(:receipt_row_hash AS text[]))
)
UPDATE audit_heads AS h SET position = v.position, row_hash = v.row_hash
FROM unnest(CAST(:head_chain AS text[]), CAST(:head_seller_id AS text[]),
            CAST(:head_position AS integer[]), CAST(:head_row_hash AS text[]))
     AS v(chain, seller_id, position, row_hash)
WHERE h.chain = v.chain AND h.seller_id = v.seller_id
""",
)

_CHAIN = Chain.RECEIPTS.value


def _rows(
    receipts: Sequence[ReceiptContent], heads: dict[str, tuple[int, str]], *, sqlite: bool
) -> list[tuple[Any, ...]]:
    """The receipts' rows (laid out as ``_RECEIPT_COLUMNS``), each linked to the one before it
    in its seller's chain; ``heads`` (seller -> position, hash) is moved past them."""
    rows: list[tuple[Any, ...]] = []
    for receipt in receipts:
        document = encode(receipt)
        position, prev = heads[receipt.seller_id]
        row_hash = link(prev, document.encode())
        heads[receipt.seller_id] = (position + 1, row_hash)
        rows.append(
            (
                receipt.id,
                receipt.seller_id,
                receipt.claim_reference,
                stored_instant(receipt.request.incident_at, sqlite=sqlite),
                stored_instant(receipt.evaluated_at, sqlite=sqlite),
                receipt.decision.decision,
                document,
                position + 1,
                prev,
                row_hash,
            )
        )
    return rows


async def _store(db: Database, receipts: Sequence[ReceiptContent]) -> None:
    sqlite = db.is_sqlite
    dialect: DialectName = "sqlite" if sqlite else "postgresql"
    sellers = sorted({r.seller_id for r in receipts})
    lock = _LOCK_HEADS.compiled(dialect)
    async with (
        write_connection(db) as driver,
        sqlite_transaction(driver) if sqlite else driver.transaction(),
    ):
        opened = [(_CHAIN, seller, GENESIS) for seller in sellers]
        await run_batch(driver, _OPEN_HEADS, [opened], sqlite=sqlite)
        ids = json_text(sellers) if sqlite else sellers
        args = lock.args({"chain": _CHAIN, "seller_ids": ids})
        locked = await (
            driver.execute_fetchall(lock.sql, args) if sqlite else driver.fetch(lock.sql, *args)
        )
        heads = {seller: (position, row_hash) for seller, position, row_hash in locked}
        rows = _rows(receipts, heads, sqlite=sqlite)
        moved = [(_CHAIN, seller, p, h) for seller, (p, h) in heads.items()]
        await run_batch(driver, _STORE, [rows, moved], sqlite=sqlite)


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
    return (await marks_of(session, [receipt_id])).get(receipt_id, [])


async def marks_of(
    session: ReadSession | WriteSession, receipt_ids: Sequence[str]
) -> dict[str, list[DecisionEffectRow]]:
    """The marks of each of these receipts that has any, oldest first, in one query."""
    found: dict[str, list[DecisionEffectRow]] = {}
    if not receipt_ids:
        return found
    rows = await session.scalars(
        select(DecisionEffectRow)
        .where(DecisionEffectRow.receipt_id.in_(receipt_ids))
        .order_by(DecisionEffectRow.id)
    )
    for row in rows:
        found.setdefault(row.receipt_id, []).append(row)
    return found


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
    marked = await marks_of(session, [row.id for row in rows])
    return [_receipt(row, marked.get(row.id, [])) for row in rows]


async def latest_marks(
    session: WriteSession, receipt_ids: Sequence[str]
) -> dict[str, DecisionEffectRow]:
    """The latest mark of each of these receipts that has one."""
    return {rid: rows[-1] for rid, rows in (await marks_of(session, receipt_ids)).items()}


async def receipts_in_chain_order(
    session: ReadSession | WriteSession, seller_id: str, *, after_position: int, limit: int | None
) -> Sequence[DecisionReceiptRow]:
    """Up to ``limit`` (None: all) of the seller's receipts past ``after_position``, in chain
    order."""
    return (
        await session.scalars(
            select(DecisionReceiptRow)
            .where(
                DecisionReceiptRow.seller_id == seller_id,
                DecisionReceiptRow.chain_position > after_position,
            )
            .order_by(DecisionReceiptRow.chain_position)
            .limit(limit)
        )
    ).all()


async def receipt_at_position(
    session: ReadSession | WriteSession, seller_id: str, position: int
) -> str | None:
    """The id of the seller's receipt at ``position`` of its chain, if one is there."""
    return (
        await session.scalars(
            select(DecisionReceiptRow.id)
            .where(
                DecisionReceiptRow.seller_id == seller_id,
                DecisionReceiptRow.chain_position == position,
            )
            .limit(1)
        )
    ).first()


async def marks_in_order(
    session: ReadSession | WriteSession, seller_id: str, *, after_id: int, limit: int
) -> Sequence[DecisionEffectRow]:
    """Up to ``limit`` marks of the seller's receipts past ``after_id``, oldest first."""
    return (
        await session.scalars(
            select(DecisionEffectRow)
            .where(DecisionEffectRow.seller_id == seller_id, DecisionEffectRow.id > after_id)
            .order_by(DecisionEffectRow.id)
            .limit(limit)
        )
    ).all()


# --- the retention purge (audit.retention) ---------------------------------------------------


async def sellers_with_receipts_before(
    session: ReadSession | WriteSession, evaluated_before: datetime, *, after: str, limit: int
) -> Sequence[str]:
    """Up to ``limit`` seller ids after ``after``, in order, with a receipt evaluated before
    ``evaluated_before``."""
    return (
        await session.scalars(
            select(DecisionReceiptRow.seller_id)
            .where(
                DecisionReceiptRow.evaluated_at < evaluated_before,
                DecisionReceiptRow.seller_id > after,
            )
            .group_by(DecisionReceiptRow.seller_id)
            .order_by(DecisionReceiptRow.seller_id)
            .limit(limit)
        )
    ).all()


async def receipt_prefix(
    session: ReadSession | WriteSession,
    seller_id: str,
    *,
    after_position: int,
    evaluated_before: datetime,
    limit: int | None,
) -> ChainPrefix | None:
    """The longest run of the seller's receipts right after ``after_position`` (its chain's
    latest anchor) all evaluated before ``evaluated_before``, at most ``limit`` of them; None
    when there is none (or the chain has no row where that run ends: a broken chain is never
    purged across)."""
    in_chain = and_(
        DecisionReceiptRow.seller_id == seller_id,
        DecisionReceiptRow.chain_position > after_position,
    )
    first_young = await session.scalar(
        select(func.min(DecisionReceiptRow.chain_position)).where(
            in_chain, DecisionReceiptRow.evaluated_at >= evaluated_before
        )
    )
    last = (
        first_young - 1
        if first_young is not None
        else await session.scalar(
            select(func.max(DecisionReceiptRow.chain_position)).where(in_chain)
        )
    )
    if last is not None and limit is not None:
        last = min(last, after_position + limit)
    if last is None or last <= after_position:
        return None
    row_hash = await session.scalar(
        select(DecisionReceiptRow.row_hash).where(
            DecisionReceiptRow.seller_id == seller_id, DecisionReceiptRow.chain_position == last
        )
    )
    if row_hash is None:
        return None
    rows = await session.scalar(
        select(func.count()).where(in_chain, DecisionReceiptRow.chain_position <= last)
    )
    return ChainPrefix(last, row_hash, int(rows or 0))


def _prefix_ids(seller_id: str, after_position: int, through_position: int) -> Any:
    return select(DecisionReceiptRow.id).where(
        DecisionReceiptRow.seller_id == seller_id,
        DecisionReceiptRow.chain_position > after_position,
        DecisionReceiptRow.chain_position <= through_position,
    )


async def count_prefix_marks(
    session: ReadSession | WriteSession, seller_id: str, *, after_position: int, prefix: ChainPrefix
) -> int:
    """How many marks the receipts of ``prefix`` have."""
    ids = _prefix_ids(seller_id, after_position, prefix.position)
    found = await session.scalar(select(func.count()).where(DecisionEffectRow.receipt_id.in_(ids)))
    return int(found or 0)


async def purge_receipts(
    session: WriteSession, seller_id: str, *, after_position: int, prefix: ChainPrefix
) -> tuple[int, int]:
    """Delete the seller's receipts of ``prefix`` and their marks; how many of each. The
    transaction must hold a purge permit (``audit.guard.purge_permit``)."""
    ids = _prefix_ids(seller_id, after_position, prefix.position)
    marks_deleted = await session.execute(
        delete(DecisionEffectRow)
        .where(DecisionEffectRow.receipt_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    receipts_deleted = await session.execute(
        delete(DecisionReceiptRow)
        .where(
            DecisionReceiptRow.seller_id == seller_id,
            DecisionReceiptRow.chain_position > after_position,
            DecisionReceiptRow.chain_position <= prefix.position,
        )
        .execution_options(synchronize_session=False)
    )
    return int(receipts_deleted.rowcount), int(marks_deleted.rowcount)  # type: ignore[attr-defined]
