"""Reading a seller's policies for its compliance status: the same lean read path as the
coverage check (one indexed range scan of the seller's events), without ``known_at``."""

from __future__ import annotations

from accelerator.coverage.decision import PolicyCandidate
from accelerator.coverage.queries import events_by_seller
from accelerator.coverage.state import derive_state
from accelerator.infra.database import Database


async def seller_policies(db: Database, seller_id: str) -> list[PolicyCandidate]:
    """Every policy of the seller with its state derived from everything recorded so far,
    ordered by policy id."""
    async with db.read_engine.connect() as connection:
        found = await events_by_seller(connection, [seller_id])
    held = found.get(seller_id, {})
    return [
        PolicyCandidate(policy_id, source, derive_state(events))
        for policy_id, (source, events) in sorted(held.items())
    ]
