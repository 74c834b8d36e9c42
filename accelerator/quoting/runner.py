"""Runs quote fan-outs in the background of an API process and records each outcome as it lands.

The request and a row per insurer (``awaiting``) are committed before any insurer is called, so
a crash leaves a visible ``collecting`` request that ``finish_abandoned`` completes later, with
the insurers that never answered marked ``timed_out``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import select, update

from accelerator.infra.database import Database
from accelerator.quoting.fanout import FanOutPolicy, InsurerResult, Partner, fan_out
from accelerator.quoting.models import AttemptRow, InsurerOutcomeRow, OfferRow, QuoteRequestRow
from schemas import QuoteRequest

logger = logging.getLogger("accelerator.quoting")

FINAL_STATUSES = frozenset(
    {"offered", "declined", "referred", "pending", "timed_out", "error", "skipped"}
)
# How long after its deadline a `collecting` request is taken as abandoned by a dead process.
ABANDONED_AFTER = timedelta(seconds=15)


async def record_request(
    db: Database, request: QuoteRequest, partners: Mapping[str, Partner], deadline_at: datetime
) -> None:
    """Commit the request and one ``awaiting`` outcome per configured insurer."""
    now = datetime.now(UTC)
    async with db.writing() as session:
        session.add(
            QuoteRequestRow(
                id=request.request_id,
                seller_id=request.seller.seller_id,
                status="collecting",
                request=msgspec.to_builtins(request),
                created_at=now,
                deadline_at=deadline_at,
                completed_at=None,
            )
        )
        await session.flush()
        for provider_id, partner in partners.items():
            session.add(
                InsurerOutcomeRow(
                    request_id=request.request_id,
                    provider_id=provider_id,
                    insurer_name=partner.adapter.insurer_name,
                    status="awaiting",
                    attempts=0,
                    updated_at=now,
                )
            )


async def record_result(db: Database, request_id: str, result: InsurerResult) -> None:
    """Store one insurer's outcome, its offers and its captured attempts in one transaction."""
    now = datetime.now(UTC)
    async with db.writing() as session:
        await session.execute(
            update(InsurerOutcomeRow)
            .where(
                InsurerOutcomeRow.request_id == request_id,
                InsurerOutcomeRow.provider_id == result.provider_id,
            )
            .values(
                status=result.status,
                reason_code=result.reason_code,
                reason=result.reason,
                quote_reference=result.quote_reference,
                attempts=len(result.attempts),
                elapsed_ms=result.elapsed_ms,
                updated_at=now,
            )
        )
        for offer in result.offers:
            session.add(
                OfferRow(
                    id=str(uuid.uuid4()),
                    request_id=request_id,
                    provider_id=result.provider_id,
                    quote_reference=offer.quote_reference,
                    offer=msgspec.to_builtins(offer),
                    bindable=offer.bindable,
                    valid_until=offer.valid_until,
                    status="open",
                    received_at=now,
                )
            )
        for attempt in result.attempts:
            session.add(
                AttemptRow(
                    request_id=request_id,
                    provider_id=result.provider_id,
                    capture=msgspec.to_builtins(attempt),
                )
            )


async def mark_complete(db: Database, request_id: str) -> None:
    async with db.writing() as session:
        await session.execute(
            update(QuoteRequestRow)
            .where(QuoteRequestRow.id == request_id, QuoteRequestRow.status == "collecting")
            .values(status="complete", completed_at=datetime.now(UTC))
        )


async def finish_abandoned(db: Database, now: datetime | None = None) -> int:
    """Complete requests whose fan-out died with its process; returns how many were finished."""
    now = now or datetime.now(UTC)
    async with db.writing() as session:
        stale = (
            await session.scalars(
                select(QuoteRequestRow.id).where(
                    QuoteRequestRow.status == "collecting",
                    QuoteRequestRow.deadline_at < now - ABANDONED_AFTER,
                )
            )
        ).all()
        for request_id in stale:
            await session.execute(
                update(InsurerOutcomeRow)
                .where(
                    InsurerOutcomeRow.request_id == request_id,
                    InsurerOutcomeRow.status == "awaiting",
                )
                .values(
                    status="timed_out",
                    reason_code="service_restarted",
                    reason="the service stopped before this insurer answered",
                    updated_at=now,
                )
            )
            await session.execute(
                update(QuoteRequestRow)
                .where(QuoteRequestRow.id == request_id, QuoteRequestRow.status == "collecting")
                .values(status="complete", completed_at=now)
            )
    if stale:
        logger.warning("finished %d abandoned quote request(s)", len(stale))
    return len(stale)


class QuoteRunner:
    """Owns the fan-out tasks of one process so they can be awaited and cancelled at shutdown."""

    def __init__(self, db: Database, partners: Mapping[str, Partner], policy: FanOutPolicy) -> None:
        self.db = db
        self.partners = partners
        self.policy = policy
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, request: QuoteRequest, deadline_seconds: float) -> asyncio.Task[None]:
        policy = FanOutPolicy(
            deadline_seconds=deadline_seconds,
            insurer_timeout_seconds=self.policy.insurer_timeout_seconds,
            retry=self.policy.retry,
            poll_interval_seconds=self.policy.poll_interval_seconds,
        )
        task = asyncio.create_task(self._run(request, policy), name=f"quote-{request.request_id}")
        self._tasks[request.request_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(request.request_id, None))
        return task

    async def _run(self, request: QuoteRequest, policy: FanOutPolicy) -> None:
        async def on_result(result: InsurerResult) -> None:
            await record_result(self.db, request.request_id, result)

        try:
            await fan_out(request, self.partners, policy, on_result)
        except Exception:
            logger.exception("fan-out of %s failed", request.request_id)
        finally:
            await mark_complete(self.db, request.request_id)

    async def wait(self, request_id: str, seconds: float) -> None:
        """Wait for a running fan-out of this process, at most ``seconds``."""
        task = self._tasks.get(request_id)
        if task is not None:
            await asyncio.wait({task}, timeout=seconds)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
