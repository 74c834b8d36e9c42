"""``compliance.changed``: a seller became, or stopped being, compliant.

Compliance is derived (the seller's policies, its profile, the rule set in force, the instant),
so it changes when a fact is recorded or with time. This module announces the changes facts
cause. Every policy event that can change cover is queued with its fact
(``audit_pending_events``, written by ``coverage.repository.add_event`` in the fact's
transaction), and the affected-decisions sweep (``audit.affected``), in the transaction that
takes a seller's queued events off the queue, calls :meth:`ComplianceAnnouncer.announce`: it
judges the seller now and compares with the standing last judged (``compliance_announcements``,
one row per seller, locked for the comparison so two sweeps never announce one change twice).
The announcement, the new standing and the end of the queue entries commit together: no fact is
forgotten, none announced twice.

A seller judged for the first time is compared with its standing without the events still
queued for it (what was true before them). Changes that come with time alone (a policy starts or
ends, a deadline passes) and with a new profile are not announced here: the time-based sweeps
judge every seller against the same row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from accelerator.audit.models import PendingEventRow
from accelerator.compliance.models import ComplianceAnnouncementRow
from accelerator.compliance.service import ComplianceService
from accelerator.compliance.status import compliance_status
from accelerator.coverage import repository as registry
from accelerator.coverage.decision import PolicyCandidate, rule_set_for_incident
from accelerator.coverage.state import derive_state
from accelerator.errors import InvalidInput, NotFound
from accelerator.infra.database import WriteSession
from accelerator.notifications.outbox import emit, new_event_id
from schemas import ComplianceChanged, ComplianceChangedNotification


@dataclass(frozen=True)
class Judgement:
    """A seller's compliance at one instant, as announced."""

    marketplace: str
    compliant: bool
    gaps: list[str]


@dataclass(frozen=True)
class ComplianceAnnouncer:
    """Judges sellers with ``compliance`` (their latest profile, the registry's committed
    events) and announces the changes."""

    compliance: ComplianceService

    async def judge(
        self, seller_id: str, now: datetime, *, leaving_out: Collection[str] = ()
    ) -> Judgement | None:
        """The seller's compliance at ``now`` as the status page shows it, without the events
        ``leaving_out``; None when it cannot be judged (no valid profile, no rule set)."""
        sellers = self.compliance.sellers
        try:
            stored = await sellers.get_profile(seller_id)
            requirement = sellers.profile_for(stored.facts, now.date()).requirement
            version = rule_set_for_incident(self.compliance.rulebook, stored.facts.marketplace, now)
        except (NotFound, InvalidInput, LookupError):
            return None
        found, _ = await registry.sellers_with_events(self.compliance.db.lookups, [seller_id])
        policies = []
        for policy_id, (source, events) in sorted(found.get(seller_id, {}).items()):
            kept = [e for e in events if e.event_id not in leaving_out]
            if kept:
                policies.append(PolicyCandidate(policy_id, source, derive_state(kept)))
        status = compliance_status(
            seller_id,
            requirement,
            version,
            policies,
            categories=[share.category for share in stored.facts.categories],
            legal_name=stored.facts.legal_name,
            now=now,
        )
        return Judgement(
            marketplace=stored.facts.marketplace,
            compliant=status.compliant_now,
            gaps=list(dict.fromkeys(gap.code for gap in status.gaps)),
        )

    async def announce(self, session: WriteSession, seller_id: str, now: datetime) -> bool:
        """In the caller's transaction: judge the seller at ``now``, announce
        ``compliance.changed`` if it became or stopped being compliant since it was last
        judged, and keep the new standing; whether it was announced."""
        last = await _locked(session, seller_id)
        judged = await self.judge(seller_id, now)
        if judged is None:
            return False
        before = last.compliant
        if before is None:
            queued = await session.scalars(
                select(PendingEventRow.event_id).where(PendingEventRow.seller_id == seller_id)
            )
            earlier = await self.judge(seller_id, now, leaving_out=frozenset(queued.all()))
            before = earlier.compliant if earlier is not None else None
        last.compliant, last.gaps, last.judged_at = judged.compliant, judged.gaps, now
        if before is None or before == judged.compliant:
            return False
        event = ComplianceChangedNotification(
            id=new_event_id(),
            timestamp=now,
            data=ComplianceChanged(
                seller_id=seller_id,
                marketplace=judged.marketplace,
                compliant=judged.compliant,
                gaps=judged.gaps,
                changed_at=now,
            ),
        )
        await emit(session, event, seller_id=seller_id, marketplace=judged.marketplace)
        return True


async def _locked(session: WriteSession, seller_id: str) -> ComplianceAnnouncementRow:
    """The seller's row, created if missing, locked until the transaction ends."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(ComplianceAnnouncementRow)
        .values(seller_id=seller_id, compliant=None, gaps=[], judged_at=None)
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        select(ComplianceAnnouncementRow)
        .where(ComplianceAnnouncementRow.seller_id == seller_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None, "created above"
    return row


__all__ = ["ComplianceAnnouncer", "Judgement"]
