"""The retention purge: what we captured for operators goes after a while; the audit trail goes
much later, and only from the start of each chain.

Two kinds of rows hold raw third-party traffic that only operators read, and only for a while
(``capture_retention_days``):

- an insurer attempt's capture (``insurer_attempts.capture``: the redacted headers and bodies of
  one HTTP exchange). A capture of a request created before the cut-off keeps what was attempted
  (number, method, URL, idempotency key, start, duration, response status, error) and loses the
  headers and bodies of both sides; ``purged_at`` says when (``insurers.capture.purged_capture``);
- an applied webhook delivery's raw body and headers (``webhook_inbox``), once it was applied
  before the cut-off. The row stays (id, partner, ``webhook_id``, status, attempts, instants), so
  a redelivery is still recognised. A delivery waiting, held by a worker, or failed (an admin
  may reprocess it) keeps its body whatever its age.

Decision receipts (with their marks) and policy events are the audit trail, kept for
``audit_retention_days`` and then removed as a prefix of each seller's chain (docs/retention.md):

- receipts: the longest run from the chain's start (after its latest anchor) of receipts all
  evaluated before the audit cut-off, with their marks;
- events: the longest run from the chain's start of events whose policies are all over before
  the cut-off (``coverage.state.over_before``), with their pending examinations, and the
  policies left without events.

Each removal appends an anchor (``audit.anchors``) so the rest of the chain still verifies, and
deletes under a purge permit (``audit.guard.purge_permit``), the only way past the append-only
triggers. A seller's chain is purged in its own transactions, at most ``batch_size`` rows each,
under the lock of its head (``audit.heads``): a writer extending the chain, or another purge,
waits for it, and a purge that waited reads the anchor the other one left.

Each table's rows are changed by its own repository; this module only decides the cut-offs and
walks the rows (sellers) in batches, so that memory and transactions stay small whatever the
backlog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from accelerator.audit import anchors, heads, receipts
from accelerator.audit.chain import Chain
from accelerator.audit.guard import purge_permit
from accelerator.coverage import repository as coverage
from accelerator.infra.database import Database, ReadSession, WriteSession
from accelerator.insurers.capture import purged_capture
from accelerator.quoting import repository as quoting
from accelerator.webhooks.repository import InboxRepository

logger = logging.getLogger("accelerator.audit.retention")

#: Rows changed per transaction (and sellers read per query).
BATCH_SIZE = 500
#: How long receipts and policy events are kept by default (``audit_retention_days``).
DEFAULT_AUDIT_RETENTION = timedelta(days=2557)


@dataclass(frozen=True)
class AuditPurged:
    """What the audit purge removed (or would remove) of the chains."""

    receipts: int = 0
    marks: int = 0
    events: int = 0
    policies: int = 0

    def __add__(self, other: AuditPurged) -> AuditPurged:
        return AuditPurged(
            self.receipts + other.receipts,
            self.marks + other.marks,
            self.events + other.events,
            self.policies + other.policies,
        )


@dataclass(frozen=True)
class RetentionReport:
    """What one purge did (or, ``dry_run``, would do): captures and webhook bodies older than
    ``cutoff`` emptied; receipts, marks, events and policies past ``audit_cutoff`` removed."""

    cutoff: datetime
    dry_run: bool
    captures: int
    webhook_bodies: int
    audit_cutoff: datetime
    audit: AuditPurged

    def describe(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        audit = self.audit
        return (
            f"{verb} {self.captures} insurer capture(s) and {self.webhook_bodies} webhook "
            f"body(ies) older than {self.cutoff.isoformat()}; {audit.receipts} receipt(s) with "
            f"{audit.marks} mark(s), {audit.events} policy event(s) and {audit.policies} "
            f"policy(ies) older than {self.audit_cutoff.isoformat()}"
        )


@dataclass(frozen=True)
class RetentionService:
    """Purges captures older than ``retention`` (``capture_retention_days``) and the audit
    trail's chain prefixes older than ``audit_retention`` (``audit_retention_days``)."""

    db: Database
    retention: timedelta
    audit_retention: timedelta = DEFAULT_AUDIT_RETENTION
    batch_size: int = BATCH_SIZE

    async def purge(self, now: datetime, *, dry_run: bool = False) -> RetentionReport:
        """Empty every capture and applied webhook body older than ``now - retention``, and
        remove the chains' prefixes past ``now - audit_retention`` (with ``dry_run``, only
        count them). Safe to run in several processes at once: capture batches skip the rows
        another purge holds, a chain's purge waits for its head (PostgreSQL; SQLite has one
        writer)."""
        cutoff = now - self.retention
        audit_cutoff = now - self.audit_retention
        if dry_run:
            async with self.db.reading() as session:
                captures = await quoting.count_captures_to_purge(session, asked_before=cutoff)
                bodies = await InboxRepository.count_bodies_to_purge(session, applied_before=cutoff)
            audit = await self._purge_audit(audit_cutoff, now, dry_run=True)
            return RetentionReport(cutoff, True, captures, bodies, audit_cutoff, audit)
        report = RetentionReport(
            cutoff,
            False,
            await self._purge_captures(cutoff, now),
            await self._purge_bodies(cutoff, now),
            audit_cutoff,
            await self._purge_audit(audit_cutoff, now, dry_run=False),
        )
        if report.captures or report.webhook_bodies or report.audit != AuditPurged():
            logger.info("retention: %s", report.describe())
        return report

    async def _purge_audit(self, cutoff: datetime, now: datetime, *, dry_run: bool) -> AuditPurged:
        """Both chains of every seller with a row older than ``cutoff``, a page of sellers at
        a time."""
        purged = AuditPurged()
        after = ""
        while True:
            async with self.db.reading() as session:
                sellers = await receipts.sellers_with_receipts_before(
                    session, cutoff, after=after, limit=self.batch_size
                )
            for seller_id in sellers:
                purged += await self._purge_receipts(seller_id, cutoff, now, dry_run=dry_run)
            if len(sellers) < self.batch_size:
                break
            after = sellers[-1]
        after = ""
        while True:
            async with self.db.reading() as session:
                sellers = await coverage.sellers_with_events_before(
                    session, cutoff, after=after, limit=self.batch_size
                )
            for seller_id in sellers:
                purged += await self._purge_events(seller_id, cutoff, now, dry_run=dry_run)
            if len(sellers) < self.batch_size:
                break
            after = sellers[-1]
        return purged

    async def _purge_receipts(
        self, seller_id: str, cutoff: datetime, now: datetime, *, dry_run: bool
    ) -> AuditPurged:
        if dry_run:
            async with self.db.reading() as session:
                start = await _start(session, Chain.RECEIPTS, seller_id)
                prefix = await receipts.receipt_prefix(
                    session, seller_id, after_position=start, evaluated_before=cutoff, limit=None
                )
                if prefix is None:
                    return AuditPurged()
                marks = await receipts.count_prefix_marks(
                    session, seller_id, after_position=start, prefix=prefix
                )
            return AuditPurged(receipts=prefix.rows, marks=marks)
        purged = AuditPurged()
        while True:
            async with self.db.writing() as session:
                # Held until the commit: the receipt writer and any other purge wait for it.
                await heads.lock(session, Chain.RECEIPTS, [seller_id])
                start = await _start(session, Chain.RECEIPTS, seller_id)
                prefix = await receipts.receipt_prefix(
                    session,
                    seller_id,
                    after_position=start,
                    evaluated_before=cutoff,
                    limit=self.batch_size,
                )
                if prefix is None:
                    return purged
                async with purge_permit(session, now):
                    removed, marks = await receipts.purge_receipts(
                        session, seller_id, after_position=start, prefix=prefix
                    )
                    anchors.anchor(
                        session, Chain.RECEIPTS, seller_id, prefix, cutoff=cutoff, purged_at=now
                    )
                    await session.flush()
            purged += AuditPurged(receipts=removed, marks=marks)
            if prefix.rows < self.batch_size:
                return purged

    async def _purge_events(
        self, seller_id: str, cutoff: datetime, now: datetime, *, dry_run: bool
    ) -> AuditPurged:
        if dry_run:
            async with self.db.reading() as session:
                start = await _start(session, Chain.EVENTS, seller_id)
                found = await coverage.event_prefix(
                    session, seller_id, after_position=start, cutoff=cutoff, limit=None
                )
            if found is None:
                return AuditPurged()
            return AuditPurged(events=found.prefix.rows, policies=len(found.emptied_policy_ids))
        purged = AuditPurged()
        while True:
            async with self.db.writing() as session:
                # Held until the commit: the registry's writers and any other purge wait for it.
                await heads.lock(session, Chain.EVENTS, [seller_id])
                start = await _start(session, Chain.EVENTS, seller_id)
                found = await coverage.event_prefix(
                    session, seller_id, after_position=start, cutoff=cutoff, limit=self.batch_size
                )
                if found is None:
                    return purged
                async with purge_permit(session, now):
                    events, policies = await coverage.purge_events(
                        session, seller_id, after_position=start, found=found
                    )
                    anchors.anchor(
                        session, Chain.EVENTS, seller_id, found.prefix, cutoff=cutoff, purged_at=now
                    )
                    await session.flush()
            purged += AuditPurged(events=events, policies=policies)
            if found.prefix.rows < self.batch_size:
                return purged

    async def _purge_captures(self, cutoff: datetime, now: datetime) -> int:
        purged, after_id = 0, 0
        while True:
            async with self.db.writing() as session:
                batch = await quoting.captures_to_purge(
                    session, asked_before=cutoff, after_id=after_id, limit=self.batch_size
                )
                await quoting.replace_captures(
                    session, {attempt_id: purged_capture(c, now) for attempt_id, c in batch}
                )
            purged += len(batch)
            if len(batch) < self.batch_size:
                return purged
            after_id = batch[-1][0]

    async def _purge_bodies(self, cutoff: datetime, now: datetime) -> int:
        purged, after_id = 0, 0
        while True:
            async with self.db.writing() as session:
                ids = await InboxRepository.bodies_to_purge(
                    session, applied_before=cutoff, after_id=after_id, limit=self.batch_size
                )
                purged += await InboxRepository.purge_bodies(
                    session, ids, applied_before=cutoff, now=now
                )
            if len(ids) < self.batch_size:
                return purged
            after_id = ids[-1]


async def _start(session: ReadSession | WriteSession, chain: Chain, seller_id: str) -> int:
    """The position after which the seller's chain begins now (its latest anchor's, else 0)."""
    latest = await anchors.latest(session, chain, seller_id)
    return 0 if latest is None else latest.position


__all__ = [
    "BATCH_SIZE",
    "DEFAULT_AUDIT_RETENTION",
    "AuditPurged",
    "RetentionReport",
    "RetentionService",
]
