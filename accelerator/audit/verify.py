"""Tamper evidence: walk the sellers' hash chains (``audit.chain``) and name the first broken
link of each broken chain.

For each of a seller's chains, rows in ``chain_position`` order from where the chain begins:
position 1, or the position after its latest anchor when a retention purge removed its first
rows (``audit.anchors``):

1. the positions run 1, 2, … (P + 1, P + 2, … after an anchor at P) with none skipped
   (``position_gap``) or repeated (``position_repeated``);
2. each row's ``prev_hash`` is the ``row_hash`` of the row before it; for the first,
   :data:`GENESIS`, or the anchor's ``row_hash`` (``link_broken``);
3. each row's ``row_hash`` is ``link(prev_hash, content)``: an event's content is
   :func:`chain.event_content` of its columns, a receipt's its stored document
   (``content_altered``);
4. a receipt's columns say what its document says (``columns_disagree``; a document that is
   not a receipt's content is ``document_unreadable``);
5. the chain's head (``audit_heads``) is its last row: a head beyond the last row means rows
   removed from the end (``rows_missing_at_end``), a head whose hash is not its row's is
   ``head_mismatch``, rows after the head are ``rows_beyond_head``. A chain purged to its
   end (no rows, its head at its anchor's position and hash) is intact.

A chain's walk stops at its first broken link: what follows a break is not vouched for by the
rows before it, and every later link would repeat the one finding. Reads only, a page of rows
at a time (memory stays bounded whatever a chain's length), through plain selects: it is no
hot path. Writers may extend chains meanwhile; each chain's head is read before its rows, so
a row appended during the walk is never taken for tampering.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import msgspec
from sqlalchemy import select, union

from accelerator.audit import anchors
from accelerator.audit.chain import GENESIS, Chain, link
from accelerator.audit.models import AuditHeadRow, DecisionReceiptRow
from accelerator.audit.receipts import receipt_at_position, receipts_in_chain_order
from accelerator.coverage.models import PolicyEventRow
from accelerator.coverage.repository import (
    chained_content,
    event_at_position,
    events_in_chain_order,
)
from accelerator.infra.database import Database, ReadSession
from schemas import (
    AuditVerification,
    BrokenLink,
    ChainName,
    ChainProblem,
    ReceiptContent,
    reading_stored,
)

#: Rows read per query while walking one chain.
ROWS_PER_PAGE: Final = 500
#: Sellers a page of :meth:`ChainVerifier.verify_page` may ask for.
MAX_SELLERS_PER_PAGE: Final = 1000

_RECEIPT_DECODER = msgspec.json.Decoder(ReceiptContent)
_CHAIN_NAMES: Final[dict[Chain, ChainName]] = {Chain.EVENTS: "events", Chain.RECEIPTS: "receipts"}


@dataclass(frozen=True)
class ChainRow:
    """One row as the chain sees it: its place, its hashes and the bytes its hash covers."""

    position: int
    row_id: str
    prev_hash: str
    row_hash: str
    content: bytes


@dataclass
class ChainWalk:
    """One chain walked row by row, in position order: :meth:`step` answers the first broken
    link it meets (then the walk is over) and None while the chain holds."""

    seller_id: str
    chain: Chain
    #: The position and hash of the last row that held (the anchor's, before the first row).
    position: int = 0
    last_hash: str = GENESIS
    rows: int = 0
    #: Where the chain begins: after this position (0: at GENESIS; else a purge's anchor).
    start: int = 0

    def broken(
        self, position: int, row_id: str | None, problem: ChainProblem, why: str
    ) -> BrokenLink:
        return BrokenLink(
            seller_id=self.seller_id,
            chain=_CHAIN_NAMES[self.chain],
            position=position,
            row_id=row_id,
            problem=problem,
            message=f"seller {self.seller_id}, {self.chain} chain, position {position}: {why}",
        )

    def step(self, row: ChainRow) -> BrokenLink | None:
        """Check ``row``, the next one read; the broken link it shows, if any."""
        self.rows += 1
        expected = self.position + 1
        if row.position < expected:
            return self.broken(
                row.position,
                row.row_id,
                "position_repeated",
                f"{self._name(row)} holds a position another row holds",
            )
        if row.position > expected:
            return self.broken(
                expected,
                row.row_id,
                "position_gap",
                f"no row holds it; the next row, {self._name(row)}, is at position {row.position}",
            )
        if row.prev_hash != self.last_hash:
            if expected == 1:
                before = "the chain's start (GENESIS)"
            elif self.position == self.start:
                before = f"the chain's anchor at position {self.start} (where a purge left it)"
            else:
                before = f"position {self.position}"
            return self.broken(
                expected,
                row.row_id,
                "link_broken",
                f"{self._name(row)} links to {row.prev_hash}, but the hash of {before} is "
                f"{self.last_hash}",
            )
        recomputed = link(row.prev_hash, row.content)
        if row.row_hash != recomputed:
            return self.broken(
                expected,
                row.row_id,
                "content_altered",
                f"{self._name(row)} stores hash {row.row_hash}, but its content hashes to "
                f"{recomputed}",
            )
        self.position, self.last_hash = row.position, row.row_hash
        return None

    def _name(self, row: ChainRow) -> str:
        return f"{'event' if self.chain == Chain.EVENTS else 'receipt'} {row.row_id}"


@dataclass(frozen=True)
class ReceiptColumns:
    """The columns of a receipt row that repeat what its document says."""

    id: str
    seller_id: str
    claim_reference: str | None
    decision: str
    evaluated_at: datetime
    incident_at: datetime


def receipt_disagreement(
    columns: ReceiptColumns, document: bytes
) -> tuple[ChainProblem, str] | None:
    """How a receipt's columns disagree with its document (``columns_disagree``, the columns
    named), or why the document is not a receipt's content (``document_unreadable``); None
    when they agree."""
    try:
        with reading_stored():
            content = _RECEIPT_DECODER.decode(document)
    except msgspec.DecodeError as exc:
        return "document_unreadable", f"the document is not a receipt's content: {exc}"
    said: dict[str, Any] = {
        "id": content.id,
        "seller_id": content.seller_id,
        "claim_reference": content.claim_reference,
        "decision": content.decision.decision,
        "evaluated_at": content.evaluated_at,
        "incident_at": content.request.incident_at,
    }
    differing = [
        f"{name} is {getattr(columns, name)!r} where the document says {value!r}"
        for name, value in said.items()
        if getattr(columns, name) != value
    ]
    return ("columns_disagree", "; ".join(differing)) if differing else None


@dataclass(frozen=True)
class Head:
    """Where the writers last left a chain (``audit_heads``)."""

    position: int
    row_hash: str


@dataclass
class _Tally:
    sellers: int = 0
    rows: int = 0
    broken: list[BrokenLink] = field(default_factory=list)

    def result(self, next_after: str | None = None) -> AuditVerification:
        return AuditVerification(
            intact=not self.broken,
            sellers_checked=self.sellers,
            rows_checked=self.rows,
            broken=self.broken,
            next_after=next_after,
        )


class ChainVerifier:
    """Verifies the sellers' chains: one seller's, or every seller's a page at a time."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def verify_seller(self, seller_id: str) -> AuditVerification:
        """Both chains of ``seller_id`` (a seller without any is intact: nothing to vouch for)."""
        tally = _Tally()
        async with self._db.reading() as session:
            await _verify_sellers(session, [seller_id], tally)
        return tally.result()

    async def verify_page(self, *, after: str | None, limit: int) -> AuditVerification:
        """The chains of the first ``limit`` sellers (by id) after ``after`` among those that
        have a chained row or a head; ``next_after`` names the page after it, if any."""
        if not 1 <= limit <= MAX_SELLERS_PER_PAGE:
            raise ValueError(f"limit must lie between 1 and {MAX_SELLERS_PER_PAGE}")
        tally = _Tally()
        async with self._db.reading() as session:
            sellers = await sellers_with_chains(session, after=after, limit=limit + 1)
            await _verify_sellers(session, sellers[:limit], tally)
        more = len(sellers) > limit
        return tally.result(next_after=sellers[limit - 1] if more else None)


async def _verify_sellers(session: ReadSession, seller_ids: Iterable[str], tally: _Tally) -> None:
    for seller_id in seller_ids:
        tally.sellers += 1
        for chain in Chain:
            rows, broken = await _verify_chain(session, seller_id, chain)
            tally.rows += rows
            if broken is not None:
                tally.broken.append(broken)


async def _verify_chain(
    session: ReadSession, seller_id: str, chain: Chain
) -> tuple[int, BrokenLink | None]:
    """How many rows of the chain were read, and its first broken link."""
    # The head first: rows only ever follow it, so a row appended while we read is never
    # mistaken for one missing at the end.
    head = await chain_head(session, chain, seller_id)
    # Then where the chain begins: rows before its latest anchor were purged, and the first row
    # after it links to the anchor's hash.
    start = await anchors.latest(session, chain, seller_id)
    while True:
        walk = ChainWalk(seller_id, chain)
        if start is not None:
            walk.position = walk.start = start.position
            walk.last_hash = start.row_hash
        broken = await _walk(session, walk, head)
        if broken is None:
            return walk.rows, None
        # A purge that committed while we walked moved the chain's start: what looked broken
        # may be its prefix leaving. Walk again from the new anchor (anchors only move on).
        now = await anchors.latest(session, chain, seller_id)
        if now is None or (start is not None and now.position <= start.position):
            return walk.rows, broken
        start = now


async def _walk(session: ReadSession, walk: ChainWalk, head: Head | None) -> BrokenLink | None:
    """Walk the chain from where ``walk`` stands to its end; its first broken link."""
    hash_at_head = walk.last_hash if head is not None and head.position == walk.position else None
    after = walk.position
    while True:
        page = await chain_rows(
            session, walk.chain, walk.seller_id, after=after, limit=ROWS_PER_PAGE
        )
        for row, columns in page:
            if (broken := walk.step(row)) is not None:
                return broken
            if columns is not None and (found := receipt_disagreement(columns, row.content)):
                problem, why = found
                return walk.broken(
                    row.position, row.row_id, problem, f"receipt {row.row_id}: {why}"
                )
            if head is not None and row.position == head.position:
                hash_at_head = row.row_hash
        if len(page) < ROWS_PER_PAGE:
            break
        after = page[-1][0].position
    return await _head_problem(session, walk, head, hash_at_head)


async def _head_problem(
    session: ReadSession, walk: ChainWalk, head: Head | None, hash_at_head: str | None
) -> BrokenLink | None:
    """How the chain's head (read before its rows) disagrees with the rows walked, if it does."""
    at = head.position if head is not None else 0
    if head is not None and at > walk.position:
        first = walk.position + 1
        missing = f"position {at} is" if at == first else f"positions {first} to {at} are"
        return walk.broken(
            first,
            None,
            "rows_missing_at_end",
            f"the chain's head is at position {at} (hash {head.row_hash}), but its last row "
            f"is at position {walk.position}: {missing} missing",
        )
    if head is not None and at > 0 and hash_at_head != head.row_hash:
        return walk.broken(
            at,
            await chain_row_id(session, walk.chain, walk.seller_id, at),
            "head_mismatch",
            f"the chain's head records hash {head.row_hash}, but the row there hashes to "
            f"{hash_at_head}",
        )
    if at == walk.position:
        return None
    # Rows after the head as first read: appended since, or never recorded by a head. The head
    # as it is now tells which.
    now = await chain_head(session, walk.chain, walk.seller_id)
    if now is not None and now.position > walk.position:
        return None  # appended while we read
    if now is not None and now.position == walk.position:
        if now.row_hash == walk.last_hash:
            return None
        return walk.broken(
            now.position,
            await chain_row_id(session, walk.chain, walk.seller_id, now.position),
            "head_mismatch",
            f"the chain's head records hash {now.row_hash}, but the row there hashes to "
            f"{walk.last_hash}",
        )
    recorded = now.position if now is not None else 0
    first = recorded + 1
    return walk.broken(
        first,
        await chain_row_id(session, walk.chain, walk.seller_id, first),
        "rows_beyond_head",
        (
            f"the chain's head is at position {recorded}"
            if now is not None
            else "the chain has no head"
        )
        + f", but its rows run to position {walk.position}",
    )


# --- reads -----------------------------------------------------------------------------------
# The rows come through their tables' repositories (coverage.repository, audit.receipts); only
# the list of sellers to walk reads the three chained tables' seller ids together.


async def sellers_with_chains(session: ReadSession, *, after: str | None, limit: int) -> list[str]:
    """Up to ``limit`` seller ids after ``after``, in order, among the sellers with a chained
    event, a receipt or a chain head (a chain whose head was removed still counts)."""
    holders = union(
        select(PolicyEventRow.seller_id.label("seller_id")),
        select(DecisionReceiptRow.seller_id),
        select(AuditHeadRow.seller_id),
    ).subquery()
    query = select(holders.c.seller_id).order_by(holders.c.seller_id).limit(limit)
    if after is not None:
        query = query.where(holders.c.seller_id > after)
    return list((await session.scalars(query)).all())


async def chain_head(session: ReadSession, chain: Chain, seller_id: str) -> Head | None:
    """Where the writers last left this chain, if they ever extended it."""
    found = (
        await session.execute(
            select(AuditHeadRow.position, AuditHeadRow.row_hash).where(
                AuditHeadRow.chain == chain.value, AuditHeadRow.seller_id == seller_id
            )
        )
    ).first()
    return None if found is None else Head(found.position, found.row_hash)


async def chain_rows(
    session: ReadSession, chain: Chain, seller_id: str, *, after: int, limit: int
) -> Sequence[tuple[ChainRow, ReceiptColumns | None]]:
    """Up to ``limit`` rows of the chain after position ``after``, in position order, with a
    receipt's columns that repeat its document."""
    if chain == Chain.EVENTS:
        events = await events_in_chain_order(session, seller_id, after_position=after, limit=limit)
        return [
            (
                ChainRow(e.chain_position, e.event_id, e.prev_hash, e.row_hash, chained_content(e)),
                None,
            )
            for e in events
        ]
    receipts = await receipts_in_chain_order(session, seller_id, after_position=after, limit=limit)
    return [
        (
            ChainRow(r.chain_position, r.id, r.prev_hash, r.row_hash, r.document.encode("utf-8")),
            ReceiptColumns(
                r.id, r.seller_id, r.claim_reference, r.decision, r.evaluated_at, r.incident_at
            ),
        )
        for r in receipts
    ]


async def chain_row_id(
    session: ReadSession, chain: Chain, seller_id: str, position: int
) -> str | None:
    """The id of the chain's row at ``position`` (an event's ``event_id``), if one is there."""
    if chain == Chain.EVENTS:
        return await event_at_position(session, seller_id, position)
    return await receipt_at_position(session, seller_id, position)
