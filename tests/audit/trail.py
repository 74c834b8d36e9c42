"""An audit trail for the tests: sellers with chained policy events and decision receipts,
written as the service writes them, and plain SQL run as whoever may drop the triggers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Executable, text

from accelerator.audit import guard
from accelerator.audit.receipts import ReceiptWriter
from accelerator.coverage.state import EventKind
from accelerator.infra.database import Database
from accelerator.sellers.models import Seller
from schemas import Decision, ReceiptContent
from tests.api.policies import bind_policy, record_event
from tests.compliance.factories import make_terms

#: When the tests' receipts were evaluated (the first; each next one a minute later).
EVALUATED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class SellerTrail:
    """What one seller's chains hold, by position (index 0 is position 1)."""

    seller_id: str
    policy_id: str = ""
    events: list[str] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)


async def add_seller(database: Database, seller_id: str) -> None:
    now = datetime.now(UTC)
    async with database.writing() as session:
        session.add(
            Seller(
                id=seller_id,
                legal_name="Volt Goods LLC",
                marketplace="US",
                created_at=now,
                updated_at=now,
            )
        )


def receipt_content(
    seller_id: str, *, decision: Decision = "exempt", evaluated_at: datetime = EVALUATED
) -> ReceiptContent:
    """A receipt of a coverage check for ``seller_id`` whose decision is ``decision``."""
    incident_at = evaluated_at - timedelta(days=10)
    exempt = decision == "exempt"
    content = {
        "id": str(uuid.uuid4()),
        "seller_id": seller_id,
        "claim_reference": f"CLM-{seller_id}-{evaluated_at:%H%M}",
        "request": {
            "seller_id": seller_id,
            "incident_at": incident_at,
            "product_category": "electronics/power-banks",
            "marketplace": "US",
            "claim_amount": {"amount": "400", "currency": "USD"},
        },
        "known_at": evaluated_at,
        "evaluated_at": evaluated_at,
        "decision": {
            "result": "decision",
            "decision": decision,
            "exempt_from_recovery": exempt,
            "covered": exempt,
            "policy": None,
            "reasons": [] if exempt else [{"code": "no_policy", "message": "No policy."}],
            "rule_set": {"marketplace": "US", "version": "us-2021-09-01", "overridden": []},
            "incident_at": incident_at,
            "known_at": None,
            "evaluated_at": evaluated_at,
        },
        "event_ids": [],
        "considered_event_ids": [],
    }
    return msgspec.json.decode(msgspec.json.encode(content), type=ReceiptContent)


async def add_receipt(database: Database, content: ReceiptContent) -> str:
    """Store a receipt as every decision's is stored: by the receipt writer, chained."""
    await ReceiptWriter(database).write([content])
    return content.id


async def seller_trail(database: Database, seller_id: str, *, receipts: int = 3) -> SellerTrail:
    """A seller whose bound policy was cancelled and reinstated (events at positions 1 to 4:
    issued, verified, cancelled, reinstated) and who has ``receipts`` receipts."""
    await add_seller(database, seller_id)
    trail = SellerTrail(seller_id)
    terms = make_terms(policy_number=f"GL-{seller_id}")
    trail.policy_id = await bind_policy(database, terms, seller_id=seller_id)
    trail.events += [f"bind.{terms.policy_number}", f"bind.{terms.policy_number}.verified"]
    for kind, days in ((EventKind.CANCELLED, 60), (EventKind.REINSTATED, 90)):
        event_id = f"{trail.policy_id}.{kind}"
        at = terms.effective_at + timedelta(days=days)
        await record_event(database, trail.policy_id, kind, at, event_id=event_id)
        trail.events.append(event_id)
    for n in range(receipts):
        decision: Decision = "not_exempt" if n % 2 else "exempt"
        evaluated_at = EVALUATED + timedelta(minutes=n)
        content = receipt_content(seller_id, decision=decision, evaluated_at=evaluated_at)
        trail.receipts.append(await add_receipt(database, content))
    return trail


async def tamper(database: Database, *changes: Executable | str, **params: Any) -> None:
    """Change rows as whoever may drop the triggers can: drop them, run ``changes`` (SQL text
    or Core statements), create them again, in one transaction."""
    dialect = "sqlite" if database.is_sqlite else "postgresql"
    async with database.writing() as session:
        for statement in guard.drop_statements(dialect):
            await session.execute(text(statement))
        for change in changes:
            await session.execute(text(change) if isinstance(change, str) else change, params)
        for statement in guard.create_statements(dialect):
            await session.execute(text(statement))
