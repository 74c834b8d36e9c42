"""Where each seller's chains end, held for the transaction that extends them.

Two transactions extending one seller's chain at once would both link to the same last row: a
fork. So a writer locks the seller's head row (``SELECT … FOR UPDATE``; the first writer of a
seller creates it) and the second waits for the first to commit. Heads asked for together are
locked in seller order; a transaction that reaches several sellers one after another (the inbox
worker's batch) may meet one going the other way, which PostgreSQL detects and fails, and the
failed write is retried as any other is. SQLite has one writer at a time already.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from accelerator.audit.chain import GENESIS, Chain, link
from accelerator.audit.models import AuditHeadRow
from accelerator.infra.database import WriteSession

_HEADS = "accelerator.audit.heads"


@event.listens_for(Session, "after_transaction_end")
def _release(session: Session, transaction: SessionTransaction) -> None:
    # The locks end with the transaction: a session used again must lock its heads again.
    if transaction.parent is None:
        session.info.pop(_HEADS, None)


@dataclass
class Link:
    """A row's place in its chain, handed out by :func:`next_link`."""

    position: int
    prev_hash: str
    row_hash: str


async def lock(session: WriteSession, chain: Chain, seller_ids: Iterable[str]) -> None:
    """Lock these sellers' heads of ``chain`` until the transaction ends (creating missing ones)
    and keep them in the session for :func:`next_link`."""
    held: dict[tuple[Chain, str], AuditHeadRow] = session.info.setdefault(_HEADS, {})
    wanted = sorted({s for s in seller_ids if (chain, s) not in held})
    if not wanted:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(AuditHeadRow)
        .values(
            [
                {"chain": chain.value, "seller_id": s, "position": 0, "row_hash": GENESIS}
                for s in wanted
            ]
        )
        .on_conflict_do_nothing()
    )
    rows = await session.scalars(
        select(AuditHeadRow)
        .where(AuditHeadRow.chain == chain.value, AuditHeadRow.seller_id.in_(wanted))
        .order_by(AuditHeadRow.seller_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    for row in rows:
        held[(chain, row.seller_id)] = row


async def next_link(session: WriteSession, chain: Chain, seller_id: str, content: bytes) -> Link:
    """The place of a new row of ``seller_id``'s ``chain`` with this canonical content, and
    the head moved past it (saved when the session flushes)."""
    held: dict[tuple[Chain, str], AuditHeadRow] = session.info.setdefault(_HEADS, {})
    head = held.get((chain, seller_id))
    if head is None:
        await lock(session, chain, [seller_id])
        head = held[(chain, seller_id)]
    new = Link(head.position + 1, head.row_hash, link(head.row_hash, content))
    head.position, head.row_hash = new.position, new.row_hash
    return new
