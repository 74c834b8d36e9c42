"""The reminder sweep: ``policy.expiring`` (60, 30 and 7 days before a policy's cover ends) and
``compliance.deadline`` (30 and 7 days before the marketplace's comply-by date, while the seller
is not compliant).

Each API process runs it every ``reminder_sweep_seconds``; it runs once across all of them:

- it pages through the policies whose period ends within the reminders' window, in (end, id)
  order along an index (``coverage.repository.policies_ending_page``: nothing else is read,
  however large the registry), then through the sellers with a profile by id
  (``sellers.repository.latest_facts_page``), a page per transaction, and commits each page:
  one statement reads a page's markers, and what is due is written
  with its markers in the same transaction as the ``emit`` (no event without its marker, no
  marker without its event);
- on PostgreSQL each page's transaction first takes a transaction-level advisory lock
  (``pg_try_advisory_xact_lock``); a process that cannot take it stops its sweep (another is
  sweeping; the next tick tries again). On SQLite the write transaction begins IMMEDIATE, which
  serialises sweeps the same way. The unique key of ``notification_reminders`` is the last
  guard: a page that would mark a reminder twice fails and is rolled back, announcing nothing.

Which reminder is due is :func:`notifications.reminders.due_reminder`'s decision (catch-up rule
there).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import text

from accelerator.compliance.status import compliance_status
from accelerator.coverage import repository as registry
from accelerator.coverage.decision import PolicyCandidate, rule_set_for_incident
from accelerator.coverage.repository import EndingCursor
from accelerator.coverage.state import derive_state
from accelerator.errors import InvalidInput
from accelerator.infra.database import Database, WriteSession
from accelerator.infra.sweep_lock import take_sweep_lock
from accelerator.notifications.outbox import emit
from accelerator.notifications.reminders import (
    COMPLIANCE_DEADLINE,
    DEADLINE_THRESHOLDS,
    EXPIRY_THRESHOLDS,
    POLICY_EXPIRING,
    deadline_event,
    due_reminder,
    expiring_event,
    policy_end,
    subject,
)
from accelerator.notifications.repository import (
    add_reminder_marks,
    reminder_marks,
    reminders_marked,
)
from accelerator.quoting.repository import renewals_of
from accelerator.rulesets.loader import RuleBook
from accelerator.rulesets.zones import local_date
from accelerator.sellers import repository as sellers_repository
from accelerator.sellers.service import SellerService

logger = logging.getLogger(__name__)

#: Markers a sweep writes before it first refreshes their statistics, and the factor to the next.
ANALYZE_FIRST_AT = 1_000
ANALYZE_GROWTH = 10

#: The advisory lock's key (any constant the service uses for nothing else): "RMND".
SWEEP_LOCK_KEY = 0x524D4E44


class SweepBusy(Exception):
    """Another process holds the sweep's lock."""


@dataclass(frozen=True)
class SweepResult:
    """What one sweep announced: ``None`` when another process was sweeping."""

    expiring: int
    deadlines: int


#: One page of a sweep: from a cursor (None: the start), what it announced and the next cursor
#: (None: the end).
Page = Callable[[WriteSession, Any, datetime], Awaitable[tuple[int, Any]]]


@dataclass
class ReminderSweep:
    """Sweeps for reminders that are due, on ``db``, at ``clock()``'s instant."""

    db: Database
    sellers: SellerService
    rulebook: RuleBook
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    page_size: int = 500
    # Markers this sweep wrote, and the count at which it next refreshes their statistics.
    _marked: int = field(default=0, init=False, repr=False)
    _analyze_at: int = field(default=ANALYZE_FIRST_AT, init=False, repr=False)

    async def run(self) -> SweepResult | None:
        """One sweep of every policy and seller; None when another process held the lock."""
        now = self.clock()
        try:
            expiring = await self._pages(self._expiring_page, now)
            deadlines = await self._pages(self._deadline_page, now)
        except SweepBusy:
            return None
        return SweepResult(expiring=expiring, deadlines=deadlines)

    async def _pages(self, page: Page, now: datetime) -> int:
        after: Any = None
        announced = 0
        while True:
            async with self.db.writing() as session:
                await self._lock(session)
                count, after = await page(session, after, now)
            announced += count
            if self._marked >= self._analyze_at:
                await self._analyze_markers()
            if after is None:
                return announced

    async def _analyze_markers(self) -> None:
        """Refresh the markers' statistics (PostgreSQL): each page looks its subjects' markers
        up, and with the statistics of a table that was empty (as on a first sweep, which
        writes most of them) PostgreSQL reads every marker of the kind for each page instead of
        probing the unique index, a cost of pages times markers (docs/performance.md, "What the
        reminder sweep costs"). Autovacuum would analyze the table too, but only a minute or
        more after the sweep began. When this sweeper has written 1,000 markers, then
        10,000, then 100,000…: a few ANALYZEs in a process's life (each samples at most 30,000
        rows), none in steady sweeps that write few markers. A role that may not analyze the
        table gets a warning, not an error."""
        self._analyze_at = self._marked * ANALYZE_GROWTH
        if self.db.is_sqlite:
            return  # SQLite's planner takes the unique index for an equality without statistics
        async with self.db.writing() as session:
            await session.execute(text("ANALYZE notification_reminders"))

    async def _lock(self, session: WriteSession) -> None:
        if not await take_sweep_lock(self.db, session, SWEEP_LOCK_KEY):
            raise SweepBusy

    def _timezone(self, marketplace: str) -> str | None:
        try:
            return self.rulebook.timezone(marketplace)
        except Exception:  # a marketplace without rules has no deadline and no local days
            return None

    async def _expiring_page(
        self, session: WriteSession, after: EndingCursor | None, now: datetime
    ) -> tuple[int, EndingCursor | None]:
        # Only policies with an end on record from yesterday to 62 days ahead (UTC days; the
        # widest local day and an end stored with an offset both fit in the margin).
        window = (now.date() - timedelta(days=1), now.date() + timedelta(days=64))
        page, last = await registry.policies_ending_page(
            session, after=after, limit=self.page_size, ending=window
        )
        candidates = []
        for policy in page:
            end = policy_end(policy.state, now)
            timezone = self._timezone(policy.marketplace)
            if end is None or timezone is None:
                continue
            end_day = local_date(end, timezone)
            days_left = (end_day - local_date(now, timezone)).days
            if days_left <= max(EXPIRY_THRESHOLDS):
                candidates.append((policy, end, subject(policy.policy_id, end_day), days_left))
        marked = await reminders_marked(session, POLICY_EXPIRING, [c[2] for c in candidates])
        # The renewal sweep runs first (server/app.py): a policy due its renewal has one by now.
        renewals = await renewals_of(session, [c[0].policy_id for c in candidates])
        announced = 0
        marks: list[dict[str, Any]] = []
        for policy, end, subject_id, days_left in candidates:
            due = due_reminder(days_left, EXPIRY_THRESHOLDS, marked.get(subject_id, set()))
            if not due.mark:
                continue
            done: tuple[int, str] | None = None
            if due.announce is not None:
                terms = policy.state.terms_at(now)
                event = expiring_event(
                    policy_id=policy.policy_id,
                    seller_id=policy.seller_id,
                    insurer_name=terms.insurer_name,
                    policy_number=terms.policy_number,
                    expires_at=end,
                    days_before=cast(Literal[60, 30, 7], due.announce),
                    now=now,
                    renewal_quote_request_id=renewals.get(policy.policy_id),
                )
                await emit(
                    session, event, seller_id=policy.seller_id, marketplace=policy.marketplace
                )
                done = (due.announce, event.id)
                announced += 1
            marks += reminder_marks(POLICY_EXPIRING, subject_id, due.mark, announced=done, now=now)
        await add_reminder_marks(session, marks)
        self._marked += len(marks)
        return announced, last

    async def _deadline_page(
        self, session: WriteSession, after: str | None, now: datetime
    ) -> tuple[int, str | None]:
        page, last = await sellers_repository.latest_facts_page(
            session, after=after or "", limit=self.page_size
        )
        near = []
        for seller in page:
            timezone = self._timezone(seller.marketplace)
            if timezone is None:
                continue
            try:
                # As the compliance status computes it: on the service's (UTC) date.
                requirement = self.sellers.profile_for(seller.facts, now.date()).requirement
            except InvalidInput:
                continue  # facts no longer valid: the seller's pages say so
            if not requirement.required or requirement.comply_by is None:
                continue
            days_left = (requirement.comply_by - local_date(now, timezone)).days
            if 0 <= days_left <= max(DEADLINE_THRESHOLDS):
                near.append((seller, requirement, days_left))
        if not near:
            return 0, last
        found, _ = await registry.sellers_with_events(
            self.db.lookups, [s.seller_id for s, _, _ in near]
        )
        subjects = {
            s.seller_id: subject(s.seller_id, r.comply_by) for s, r, _ in near if r.comply_by
        }
        marked = await reminders_marked(session, COMPLIANCE_DEADLINE, list(subjects.values()))
        announced = 0
        marks: list[dict[str, Any]] = []
        for seller, requirement, days_left in near:
            subject_id = subjects[seller.seller_id]
            due = due_reminder(days_left, DEADLINE_THRESHOLDS, marked.get(subject_id, set()))
            if not due.mark:
                continue
            policies = [
                PolicyCandidate(policy_id, source, derive_state(events))
                for policy_id, (source, events) in sorted(found.get(seller.seller_id, {}).items())
            ]
            status = compliance_status(
                seller.seller_id,
                requirement,
                rule_set_for_incident(self.rulebook, seller.marketplace, now),
                policies,
                categories=[share.category for share in seller.facts.categories],
                legal_name=seller.facts.legal_name,
                now=now,
            )
            if status.compliant_now:
                # Nothing is marked: should the seller stop being compliant before the
                # deadline, the reminder due then still goes out.
                continue
            done: tuple[int, str] | None = None
            if due.announce is not None and requirement.comply_by is not None:
                event = deadline_event(
                    seller_id=seller.seller_id,
                    marketplace=seller.marketplace,
                    comply_by=requirement.comply_by,
                    days_before=cast(Literal[30, 7], due.announce),
                    now=now,
                )
                await emit(
                    session, event, seller_id=seller.seller_id, marketplace=seller.marketplace
                )
                done = (due.announce, event.id)
                announced += 1
            marks += reminder_marks(
                COMPLIANCE_DEADLINE, subject_id, due.mark, announced=done, now=now
            )
        await add_reminder_marks(session, marks)
        self._marked += len(marks)
        return announced, last


__all__ = ["SWEEP_LOCK_KEY", "ReminderSweep", "SweepResult"]
