"""The renewal sweep: opens one renewal quote request for each policy 60 days before it ends.

It runs beside the reminder sweep (``server/app.py`` runs it first at each tick, so that the
60-day ``policy.expiring`` event can name the renewal) with the same once-only guarantees:

- it pages through the policies ending within the window, in (end, policy id) order along
  an index (``coverage.repository.policies_ending_page``), a page per transaction; the
  renewals it opens are rows of that transaction (the request, an ``awaiting`` outcome per
  insurer), so a page commits every renewal it opens or none;
- on PostgreSQL each page's transaction first takes its own advisory lock; a process that
  cannot take it stops its sweep (another is sweeping). On SQLite the write transaction begins
  IMMEDIATE and excludes every other writer. The unique index on ``renews_policy_id`` is the
  last guard: a page that would renew a policy twice fails and is rolled back;
- only after a page commits are its renewals fanned out, as any quote request is, by this
  process's runner. A process that dies in between leaves them ``collecting``, and they are
  finished as every abandoned request is (``quoting.runner.finish_abandoned``).

Which policy is due is :func:`renewals.timing.renewal_due`'s decision; a seller without a risk
profile has nothing to quote from and gets no renewal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from accelerator.coverage import repository as registry
from accelerator.coverage.repository import EndingCursor
from accelerator.errors import NotFound
from accelerator.infra.database import Database, WriteSession
from accelerator.infra.sweep_lock import take_sweep_lock
from accelerator.quoting import repository as quotes
from accelerator.quoting.service import QuotingService
from accelerator.renewals.timing import RENEWAL_DAYS, renewal_due, renewal_start
from accelerator.rulesets.loader import RuleBook
from accelerator.sellers.service import SellerService
from schemas import QuoteRequest

#: The advisory lock's key (any constant the service uses for nothing else): "RNWL".
SWEEP_LOCK_KEY = 0x524E574C


class _Busy(Exception):
    """Another process holds the sweep's lock."""


@dataclass
class RenewalSweep:
    """Opens the renewals due at ``clock()``'s instant, on ``db``, and fans them out."""

    db: Database
    sellers: SellerService
    quoting: QuotingService
    rulebook: RuleBook
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    page_size: int = 500

    async def run(self) -> list[str]:
        """One sweep of every policy: the ids of the renewals it opened (and started). It stops
        early, keeping what it has opened, when another process holds the lock: that one
        sweeps the rest."""
        now = self.clock()
        opened: list[str] = []
        after: EndingCursor | None = None
        try:
            while True:
                async with self.db.writing() as session:
                    await self._lock(session)
                    page, after = await self._page(session, after, now)
                for request in page:
                    self.quoting.start(request)
                opened.extend(request.request_id for request in page)
                if after is None:
                    break
        except _Busy:
            pass
        return opened

    async def _lock(self, session: WriteSession) -> None:
        if not await take_sweep_lock(self.db, session, SWEEP_LOCK_KEY):
            raise _Busy

    def _timezone(self, marketplace: str) -> str | None:
        try:
            return self.rulebook.timezone(marketplace)
        except Exception:  # a marketplace without rules has no local days
            return None

    async def _page(
        self, session: WriteSession, after: EndingCursor | None, now: datetime
    ) -> tuple[list[QuoteRequest], EndingCursor | None]:
        # Only policies with an end on record from yesterday to a few days past the window
        # (UTC days; the widest local day and an end stored with an offset both fit).
        window = (now.date() - timedelta(days=1), now.date() + timedelta(days=RENEWAL_DAYS + 4))
        page, last = await registry.policies_ending_page(
            session, after=after, limit=self.page_size, ending=window
        )
        due = []
        for policy in page:
            timezone = self._timezone(policy.marketplace)
            if timezone is None:
                continue
            end = renewal_due(policy.state, timezone, now)
            if end is not None:
                due.append((policy, renewal_start(end, timezone)))
        renewed = await quotes.renewals_of(session, [policy.policy_id for policy, _ in due])
        insurers = {
            provider_id: partner.adapter.insurer_name
            for provider_id, partner in self.quoting.runner.partners.items()
        }
        # What is due follows the sweep's clock; the fan-out runs on the wall clock, as every
        # fan-out does, and an abandoned one is found by its wall-clock deadline.
        started = datetime.now(UTC)
        deadline_at = started + timedelta(seconds=self.quoting.deadline_for(None))
        opened = []
        for policy, starts in due:
            if policy.policy_id in renewed:
                continue
            try:
                stored = await self.sellers.get_profile(policy.seller_id)
            except NotFound:
                continue
            request = self.quoting.renewal_request(stored, starts, now)
            await quotes.open_renewal(
                session,
                request,
                insurers,
                renews_policy_id=policy.policy_id,
                created_at=started,
                deadline_at=deadline_at,
            )
            opened.append(request)
        return opened, last


__all__ = ["SWEEP_LOCK_KEY", "RenewalSweep"]
