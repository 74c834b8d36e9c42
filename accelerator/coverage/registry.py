"""Writing to the coverage registry: new policies and events, idempotent by event id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select

from accelerator.coverage.models import PolicyEventRow, PolicyRow
from accelerator.infra.database import WriteSession
from schemas import PolicyTerms


async def add_event(
    session: WriteSession,
    policy: PolicyRow,
    *,
    event_id: str,
    kind: str,
    effective_at: datetime,
    recorded_at: datetime,
    data: dict[str, Any] | None = None,
) -> bool:
    """Append an event unless one with ``event_id`` exists; True if it was added."""
    exists = await session.scalar(
        select(PolicyEventRow.id).where(PolicyEventRow.event_id == event_id)
    )
    if exists is not None:
        return False
    session.add(
        PolicyEventRow(
            event_id=event_id,
            policy_id=policy.id,
            seller_id=policy.seller_id,
            kind=kind,
            effective_at=effective_at,
            recorded_at=recorded_at,
            data=data or {},
        )
    )
    return True


async def create_policy(
    session: WriteSession,
    *,
    seller_id: str,
    terms: PolicyTerms,
    source: str,
    recorded_at: datetime,
    event_id: str,
    provider_id: str | None = None,
    offer_id: str | None = None,
    quote_request_id: str | None = None,
    verified: bool = False,
) -> PolicyRow:
    """A new policy and its ``issued`` event (plus ``verified`` when the insurer bound it)."""
    policy = PolicyRow(
        id=str(uuid.uuid4()),
        seller_id=seller_id,
        insurer_name=terms.insurer_name,
        policy_number=terms.policy_number,
        provider_id=provider_id,
        source=source,
        offer_id=offer_id,
        quote_request_id=quote_request_id,
        created_at=recorded_at,
    )
    session.add(policy)
    await session.flush()
    await add_event(
        session,
        policy,
        event_id=event_id,
        kind="issued",
        effective_at=terms.effective_at,
        recorded_at=recorded_at,
        data={"terms": msgspec.to_builtins(terms)},
    )
    if verified:
        await add_event(
            session,
            policy,
            event_id=f"{event_id}.verified",
            kind="verified",
            effective_at=recorded_at,
            recorded_at=recorded_at,
        )
    return policy
