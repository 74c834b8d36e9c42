"""The retention purge: what we captured for operators goes after a while; the audit trail stays.

Two kinds of rows hold raw third-party traffic that only operators read, and only for a while:

- an insurer attempt's capture (``insurer_attempts.capture``: the redacted headers and bodies of
  one HTTP exchange). A capture of a request created before the cut-off keeps what was attempted
  (number, method, URL, idempotency key, start, duration, response status, error) and loses the
  headers and bodies of both sides; ``purged_at`` says when (``insurers.capture.purged_capture``);
- an applied webhook delivery's raw body and headers (``webhook_inbox``), once it was applied
  before the cut-off. The row stays (id, partner, ``webhook_id``, status, attempts, instants), so
  a redelivery is still recognised. A delivery waiting, held by a worker, or failed (an admin
  may reprocess it) keeps its body whatever its age.

Decision receipts, the marks of affected decisions and policy events are the audit trail: never
touched here. Each table's rows are changed by its own repository; this module only decides
the cut-off and walks the rows in batches, one transaction per batch, so that memory and
transactions stay small whatever the backlog.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from accelerator.infra.database import Database
from accelerator.insurers.capture import purged_capture
from accelerator.quoting import repository as quoting
from accelerator.webhooks.repository import InboxRepository

logger = logging.getLogger("accelerator.audit.retention")

#: Rows changed per transaction.
BATCH_SIZE = 500


@dataclass(frozen=True)
class RetentionReport:
    """What one purge did (or, ``dry_run``, would do): captures and webhook bodies older than
    ``cutoff`` emptied."""

    cutoff: datetime
    dry_run: bool
    captures: int
    webhook_bodies: int

    def describe(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        return (
            f"{verb} {self.captures} insurer capture(s) and {self.webhook_bodies} webhook "
            f"body(ies) older than {self.cutoff.isoformat()}"
        )


@dataclass(frozen=True)
class RetentionService:
    """Purges what is older than ``retention`` (``capture_retention_days``)."""

    db: Database
    retention: timedelta
    batch_size: int = BATCH_SIZE

    async def purge(self, now: datetime, *, dry_run: bool = False) -> RetentionReport:
        """Empty every capture and applied webhook body older than ``now - retention`` (with
        ``dry_run``, only count them). Safe to run in several processes at once: each batch
        skips the rows another purge holds (PostgreSQL; SQLite has one writer)."""
        cutoff = now - self.retention
        if dry_run:
            async with self.db.reading() as session:
                captures = await quoting.count_captures_to_purge(session, asked_before=cutoff)
                bodies = await InboxRepository.count_bodies_to_purge(session, applied_before=cutoff)
            return RetentionReport(cutoff, True, captures, bodies)
        report = RetentionReport(
            cutoff,
            False,
            await self._purge_captures(cutoff, now),
            await self._purge_bodies(cutoff, now),
        )
        if report.captures or report.webhook_bodies:
            logger.info("retention: %s", report.describe())
        return report

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


__all__ = ["BATCH_SIZE", "RetentionReport", "RetentionService"]
