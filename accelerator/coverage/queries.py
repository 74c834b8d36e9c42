"""The coverage check's read path: Core queries on a plain connection, no ORM unit of work.

A check costs two indexed lookups whatever the registry's size: the seller's legal name by
primary key, and every event of the seller's policies by ``ix_policy_events_seller_recorded``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.coverage.state import PolicyEvent
from accelerator.sellers.models import Seller

_EVENTS = select(
    PolicyEventRow.seller_id,
    PolicyEventRow.policy_id,
    PolicyRow.source,
    PolicyEventRow.event_id,
    PolicyEventRow.kind,
    PolicyEventRow.effective_at,
    PolicyEventRow.recorded_at,
    PolicyEventRow.data,
).join(PolicyRow, PolicyRow.id == PolicyEventRow.policy_id)


def to_event(
    event_id: str, kind: str, effective_at: datetime, recorded_at: datetime, data: dict[str, Any]
) -> PolicyEvent:
    return msgspec.convert(
        {
            "event_id": event_id,
            "kind": kind,
            "effective_at": effective_at,
            "recorded_at": recorded_at,
            **data,
        },
        PolicyEvent,
        from_attributes=False,
    )


# policy id -> (source, events)
SellerPolicies = dict[str, tuple[str, list[PolicyEvent]]]


async def events_by_seller(
    connection: AsyncConnection, seller_ids: Collection[str], known_at: datetime | None = None
) -> dict[str, SellerPolicies]:
    """Every policy event of these sellers (recorded by ``known_at`` if given)."""
    query = _EVENTS.where(PolicyEventRow.seller_id.in_(list(seller_ids)))
    if known_at is not None:
        query = query.where(PolicyEventRow.recorded_at <= known_at)
    found: dict[str, SellerPolicies] = defaultdict(dict)
    for row in await connection.execute(query):
        policies = found[row.seller_id]
        _, events = policies.setdefault(row.policy_id, (row.source, []))
        events.append(to_event(row.event_id, row.kind, row.effective_at, row.recorded_at, row.data))
    return found


async def legal_names(connection: AsyncConnection, seller_ids: Collection[str]) -> dict[str, str]:
    rows = await connection.execute(
        select(Seller.id, Seller.legal_name).where(Seller.id.in_(list(seller_ids)))
    )
    return {row.id: row.legal_name for row in rows}
