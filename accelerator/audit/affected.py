"""Decisions affected: an event recorded after a decision that would change it marks the
decision's receipt, with the event and the decision the claim would get now.

Every event that can change cover is queued (``audit_pending_events``) in the transaction that
records it (``coverage.repository.add_event``), so none is missed whichever process recorded it.
The sweep takes queued events once they have settled (:data:`SETTLE`) (``FOR UPDATE SKIP
LOCKED``: several processes share the work),
decides again, as known now, the seller's receipts each event can reach, and marks those whose
decision would differ from the last one on record: the receipt's own, or its latest mark's. A
mark, its ``coverage.decision_affected`` notification (``notifications.outbox``) and the removal
of its queued events commit together: each mark is announced once, and only a mark is.

An event reaches a receipt that did not consider it (not among its ``considered_event_ids``:
recorded after the registry was read, or committed after) about an incident at or after the
event takes effect; a verification, which has no effect date, reaches whatever the incident.
An event is examined once, soon after it is recorded, so only receipts that exist by then are
reached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec
from sqlalchemy import delete, select

from accelerator.audit import receipts
from accelerator.audit.models import DecisionEffectRow, DecisionReceiptRow, PendingEventRow
from accelerator.compliance.announce import ComplianceAnnouncer
from accelerator.coverage.models import PolicyEventRow
from accelerator.coverage.service import CoverageService
from accelerator.coverage.state import EventKind
from accelerator.errors import InvalidInput
from accelerator.infra.database import Database, WriteSession
from accelerator.notifications.events import decision_affected
from accelerator.notifications.outbox import emit
from schemas import CoverageDecision, ReceiptContent

#: Events taken per transaction.
BATCH: Final = 200
#: How long an event waits before it is examined: a check that read the registry just before
#: the event was committed may still be writing its receipt, which the examination must see.
#: Receipts are written within their request, in milliseconds; this leaves a wide margin.
SETTLE: Final = timedelta(seconds=10)

_WHATEVER_THE_INCIDENT: Final = (EventKind.VERIFIED, EventKind.VERIFICATION_REJECTED)


def same_outcome(a: CoverageDecision, b: CoverageDecision) -> bool:
    """Whether two decisions of one claim come to the same: decision, cover, the policy named
    and the reasons' codes (their wording and the flags may differ)."""
    return (
        a.decision == b.decision
        and a.covered == b.covered
        and (a.policy.id if a.policy else None) == (b.policy.id if b.policy else None)
        and [r.code for r in a.reasons] == [r.code for r in b.reasons]
    )


def _reaches(event: PolicyEventRow, receipt: ReceiptContent, seen: frozenset[str]) -> bool:
    if event.event_id in seen:
        return False
    return event.kind in _WHATEVER_THE_INCIDENT or receipt.request.incident_at >= event.effective_at


@dataclass(frozen=True)
class AffectedSweep:
    db: Database
    coverage: CoverageService
    settle: timedelta = SETTLE
    #: Announces ``compliance.changed`` for each seller whose events are taken, in the same
    #: transaction (``compliance.announce``); None announces nothing.
    compliance: ComplianceAnnouncer | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        """Examine up to :data:`BATCH` queued events recorded at least ``settle`` ago; how
        many were taken."""
        detected_at = now or datetime.now(UTC)
        async with self.db.writing() as session:
            queued = (
                await session.scalars(
                    select(PendingEventRow)
                    .where(PendingEventRow.recorded_at <= detected_at - self.settle)
                    .order_by(PendingEventRow.recorded_at, PendingEventRow.event_id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not queued:
                return 0
            ids = [row.event_id for row in queued]
            events = (
                await session.scalars(
                    select(PolicyEventRow).where(PolicyEventRow.event_id.in_(ids))
                )
            ).all()
            by_seller: dict[str, list[PolicyEventRow]] = defaultdict(list)
            for event in events:
                by_seller[event.seller_id].append(event)
            for seller_id, seller_events in sorted(by_seller.items()):
                await self._mark(session, seller_id, seller_events, detected_at)
                if self.compliance is not None:
                    await self.compliance.announce(session, seller_id, detected_at)
            await session.execute(delete(PendingEventRow).where(PendingEventRow.event_id.in_(ids)))
        return len(queued)

    async def run_until_idle(self) -> int:
        """Examine every queued event; how many."""
        total = 0
        while taken := await self.run_once():
            total += taken
        return total

    async def _mark(
        self,
        session: WriteSession,
        seller_id: str,
        events: Sequence[PolicyEventRow],
        detected_at: datetime,
    ) -> None:
        reached: list[tuple[DecisionReceiptRow, ReceiptContent, PolicyEventRow]] = []
        every = await receipts.receipts_in_chain_order(
            session, seller_id, after_position=0, limit=None
        )
        for row in every:
            content = receipts.content_of(row)
            seen = frozenset(content.considered_event_ids)
            reaching = [e for e in events if _reaches(e, content, seen)]
            if reaching:
                # The mark names the latest of them: with it known, the decision is as marked.
                latest = max(reaching, key=lambda e: (e.recorded_at, e.id))
                reached.append((row, content, latest))
        if not reached:
            return
        claims = [msgspec.structs.replace(c.request, known_at=None) for _, c, _ in reached]
        decided = await self.coverage.decide_many(claims, now=detected_at)
        marked = await receipts.latest_marks(session, [row.id for row, _, _ in reached])
        for (row, content, event), outcome in zip(reached, decided, strict=True):
            if isinstance(outcome, InvalidInput):
                continue  # its rule set or category is gone: a replay explains that
            now = msgspec.structs.replace(
                outcome.decision,
                claim_reference=content.claim_reference,
                receipt_id=row.id,
            )
            last = marked.get(row.id)
            on_record = receipts.decision_of(last) if last is not None else content.decision
            if same_outcome(now, on_record):
                continue
            session.add(
                DecisionEffectRow(
                    receipt_id=row.id,
                    seller_id=seller_id,
                    event_id=event.event_id,
                    decision=now.decision,
                    changed=not same_outcome(now, content.decision),
                    document=msgspec.json.encode(now).decode(),
                    detected_at=detected_at,
                )
            )
            notification = decision_affected(
                receipt_id=row.id,
                seller_id=seller_id,
                claim_reference=content.claim_reference,
                outcome=content.decision.decision,
                outcome_now=now.decision,
                policy_event_id=event.event_id,
                detected_at=detected_at,
            )
            await emit(session, notification, seller_id=seller_id)
