"""A seller's audit trail as JSON lines, for an auditor to check with nothing but SHA-256.

The export is every policy event of the seller in chain order, then every decision receipt in
chain order, then every mark of an affected decision (oldest first), one ``schemas.AuditRecord``
per line. A chain whose first rows a retention purge removed begins with its latest anchor (a
``chain_anchor`` line): its first row links to the anchor's hash. A chained line's
``content`` is the exact text its hash covers: an event's canonical
content (``chain.event_content``), a receipt's stored document. Rows are read a page at a time,
each page in its own short read, so memory stays bounded whatever the trail's length; the
chains are append-only, so a page read later continues the same chain (rows appended while the
export runs may or may not be in it).

The rows come through their tables' repositories (``coverage.repository``,
``audit.receipts``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import msgspec

from accelerator.audit import anchors
from accelerator.audit.chain import Chain
from accelerator.audit.models import AuditAnchorRow, DecisionEffectRow, DecisionReceiptRow
from accelerator.audit.receipts import marks_in_order, receipts_in_chain_order
from accelerator.auth.principal import Principal, Role, ensure_acts_for
from accelerator.coverage.models import PolicyEventRow
from accelerator.coverage.repository import chained_content, events_in_chain_order
from accelerator.infra.database import Database, ReadSession
from schemas import (
    AuditRecord,
    ChainAnchorRecord,
    ChainName,
    Decision,
    DecisionEffectRecord,
    DecisionReceiptRecord,
    PolicyEventRecord,
)

#: The export's media type: one JSON object per line.
NDJSON = "application/x-ndjson"
#: Rows read per query.
PAGE_SIZE = 500

_ENCODER = msgspec.json.Encoder()
R = TypeVar("R")


def event_record(row: PolicyEventRow) -> PolicyEventRecord:
    return PolicyEventRecord(
        event_id=row.event_id,
        policy_id=row.policy_id,
        seller_id=row.seller_id,
        chain_position=row.chain_position,
        prev_hash=row.prev_hash,
        row_hash=row.row_hash,
        content=chained_content(row).decode(),
    )


def receipt_record(row: DecisionReceiptRow) -> DecisionReceiptRecord:
    return DecisionReceiptRecord(
        receipt_id=row.id,
        seller_id=row.seller_id,
        chain_position=row.chain_position,
        prev_hash=row.prev_hash,
        row_hash=row.row_hash,
        content=row.document,
    )


def anchor_record(row: AuditAnchorRow) -> ChainAnchorRecord:
    return ChainAnchorRecord(
        chain=cast("ChainName", row.chain),
        seller_id=row.seller_id,
        position=row.position,
        row_hash=row.row_hash,
        cutoff=row.cutoff,
        purged_at=row.purged_at,
    )


def effect_record(row: DecisionEffectRow) -> DecisionEffectRecord:
    return DecisionEffectRecord(
        effect_id=row.id,
        receipt_id=row.receipt_id,
        seller_id=row.seller_id,
        event_id=row.event_id,
        decision=cast("Decision", row.decision),
        changed=row.changed,
        detected_at=row.detected_at,
        document=row.document,
    )


@dataclass(frozen=True)
class AuditExportService:
    """Serves a seller's audit trail (``GET /v1/sellers/{seller_id}/audit-export``)."""

    db: Database
    page_size: int = PAGE_SIZE

    def export(self, principal: Principal, seller_id: str) -> AsyncIterator[bytes]:
        """The seller's trail as JSON lines, a page per chunk. Admins and the claims role
        export any seller, a seller key only its own (refused here, before anything is read
        or sent). A seller with no trail, or none at all, exports nothing."""
        if principal.role is not Role.CLAIMS:
            ensure_acts_for(principal, seller_id)
        return self._chunks(seller_id)

    async def _chunks(self, seller_id: str) -> AsyncIterator[bytes]:
        async for page in self.records(seller_id):
            yield b"".join(_ENCODER.encode(record) + b"\n" for record in page)

    async def records(self, seller_id: str) -> AsyncIterator[list[AuditRecord]]:
        """The seller's records a page at a time, in export order."""
        limit = self.page_size

        async def events(session: ReadSession, after: int) -> Sequence[PolicyEventRow]:
            return await events_in_chain_order(
                session, seller_id, after_position=after, limit=limit
            )

        async def receipts(session: ReadSession, after: int) -> Sequence[DecisionReceiptRow]:
            return await receipts_in_chain_order(
                session, seller_id, after_position=after, limit=limit
            )

        async def effects(session: ReadSession, after: int) -> Sequence[DecisionEffectRow]:
            return await marks_in_order(session, seller_id, after_id=after, limit=limit)

        async with self.db.reading() as session:
            events_anchor = await anchors.latest(session, Chain.EVENTS, seller_id)
            receipts_anchor = await anchors.latest(session, Chain.RECEIPTS, seller_id)
        if events_anchor is not None:
            yield [anchor_record(events_anchor)]
        after = 0 if events_anchor is None else events_anchor.position
        async for event_rows in self._pages(events, lambda row: row.chain_position, after):
            yield [event_record(row) for row in event_rows]
        if receipts_anchor is not None:
            yield [anchor_record(receipts_anchor)]
        after = 0 if receipts_anchor is None else receipts_anchor.position
        async for receipt_rows in self._pages(receipts, lambda row: row.chain_position, after):
            yield [receipt_record(row) for row in receipt_rows]
        async for effect_rows in self._pages(effects, lambda row: row.id, 0):
            yield [effect_record(row) for row in effect_rows]

    async def _pages(
        self,
        read: Callable[[ReadSession, int], Awaitable[Sequence[R]]],
        key: Callable[[R], int],
        after: int,
    ) -> AsyncIterator[Sequence[R]]:
        """Pages of rows from ``read`` (given the key of the last row read, ``after`` at
        first), each read in its own short read session, until a page comes back short."""
        while True:
            async with self.db.reading() as session:
                rows = await read(session, after)
            if rows:
                yield rows
                after = key(rows[-1])
            if len(rows) < self.page_size:
                return


__all__ = [
    "NDJSON",
    "PAGE_SIZE",
    "AuditExportService",
    "anchor_record",
    "effect_record",
    "event_record",
    "receipt_record",
]
