"""Where a seller's chain begins once a retention purge removed its first rows: the only code
that reads or writes ``audit_anchors``.

A purge removes a prefix of a chain (positions 1 to P) and appends an anchor: the chain, the
seller, P and the hash of the row that stood at P. The row at P + 1 still links to that hash,
so the rest of the chain verifies from the anchor as it did from GENESIS. Anchors are
append-only (``audit.guard``); a chain's latest anchor is where it now begins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from accelerator.audit.chain import Chain
from accelerator.audit.models import AuditAnchorRow
from accelerator.infra.database import ReadSession, WriteSession


@dataclass(frozen=True)
class ChainPrefix:
    """The first rows of a chain a purge may remove: through ``position`` (the row there has
    hash ``row_hash``), ``rows`` of them after the chain's latest anchor."""

    position: int
    row_hash: str
    rows: int


async def latest(
    session: ReadSession | WriteSession, chain: Chain, seller_id: str
) -> AuditAnchorRow | None:
    """The seller's latest anchor of ``chain``: where the chain begins now (None: at GENESIS)."""
    return (
        await session.scalars(
            select(AuditAnchorRow)
            .where(AuditAnchorRow.chain == chain.value, AuditAnchorRow.seller_id == seller_id)
            .order_by(AuditAnchorRow.position.desc(), AuditAnchorRow.id.desc())
            .limit(1)
        )
    ).first()


def anchor(
    session: WriteSession,
    chain: Chain,
    seller_id: str,
    prefix: ChainPrefix,
    *,
    cutoff: datetime,
    purged_at: datetime,
) -> AuditAnchorRow:
    """Record that the seller's ``chain`` now begins after ``prefix`` (saved at the flush)."""
    row = AuditAnchorRow(
        chain=chain.value,
        seller_id=seller_id,
        position=prefix.position,
        row_hash=prefix.row_hash,
        cutoff=cutoff,
        purged_at=purged_at,
    )
    session.add(row)
    return row


__all__ = ["ChainPrefix", "anchor", "latest"]
