"""An audit trail to purge around and to export: sellers, policies and their events written by
the registry's own code, and decision receipts and their marks written as the receipt writer
writes them (chained through ``audit.heads``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select

import accelerator.server
from accelerator.audit.models import DecisionEffectRow, DecisionReceiptRow
from accelerator.coverage.models import PolicyEventRow
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from schemas import CoverageCheckRequest, CoverageDecision, ReceiptContent
from tests.api.policies import bind_policy, record_event, us_terms
from tests.audit.trail import add_receipt as store_receipt
from tests.audit.trail import add_seller

EXAMPLES = Path(accelerator.server.__file__).parent / "examples"


async def add_sellers(database: Database, *seller_ids: str) -> None:
    for seller_id in seller_ids:
        await add_seller(database, seller_id)


async def add_receipt(database: Database, seller_id: str) -> str:
    """A decision receipt of ``seller_id``, chained after the seller's last one; its id."""
    request = msgspec.json.decode(
        (EXAMPLES / "CoverageCheckRequest.json").read_bytes(), type=CoverageCheckRequest
    )
    decision = msgspec.json.decode(
        (EXAMPLES / "CoverageDecision.json").read_bytes(), type=CoverageDecision
    )
    receipt_id = str(uuid.uuid4())
    content = ReceiptContent(
        id=receipt_id,
        seller_id=seller_id,
        claim_reference=f"CLM-{receipt_id[:8]}",
        request=request,
        known_at=decision.evaluated_at,
        evaluated_at=decision.evaluated_at,
        decision=decision,
        event_ids=[],
        considered_event_ids=[],
    )
    await store_receipt(database, content)
    return receipt_id


async def add_effect(database: Database, seller_id: str, receipt_id: str, event_id: str) -> None:
    decision = (EXAMPLES / "CoverageDecision.json").read_text()
    async with database.writing() as session:
        session.add(
            DecisionEffectRow(
                receipt_id=receipt_id,
                seller_id=seller_id,
                event_id=event_id,
                decision="exempt",
                changed=True,
                document=decision,
                detected_at=datetime.now(UTC),
            )
        )


@dataclass(frozen=True)
class Trail:
    """What :func:`build_trail` wrote for seller s-1 (s-2 has a policy and a receipt too)."""

    events: int
    receipts: int
    effects: int


async def build_trail(database: Database) -> Trail:
    """Sellers s-1 and s-2; s-1 with two bound policies (issued and verified events each), a
    cancellation, three receipts and one mark; s-2 with one policy and one receipt."""
    await add_sellers(database, "s-1", "s-2")
    today = date.today()
    first = await bind_policy(database, us_terms(today, today + timedelta(days=365)))
    await bind_policy(database, us_terms(today, today + timedelta(days=365), policy_number="HM-2"))
    await record_event(
        database, first, EventKind.CANCELLED, datetime.now(UTC), reason="non-payment"
    )
    await bind_policy(
        database,
        us_terms(today, today + timedelta(days=365), policy_number="HM-3"),
        seller_id="s-2",
    )
    receipts = [await add_receipt(database, "s-1") for _ in range(3)]
    await add_receipt(database, "s-2")
    async with database.reading() as session:
        cancelled = await session.scalar(
            select(PolicyEventRow.event_id).where(PolicyEventRow.kind == "cancelled")
        )
    assert cancelled is not None
    await add_effect(database, "s-1", receipts[0], cancelled)
    return Trail(events=5, receipts=3, effects=1)


async def audited_rows(database: Database) -> list[tuple[Any, ...]]:
    """Every column of every policy event, receipt and mark, to compare before and after."""
    async with database.reading() as session:
        rows: list[tuple[Any, ...]] = []
        for model in (PolicyEventRow, DecisionReceiptRow, DecisionEffectRow):
            columns = list(model.__table__.columns)
            result = await session.execute(select(*columns).order_by(*model.__table__.primary_key))
            rows.extend(tuple(row) for row in result)
        return rows
