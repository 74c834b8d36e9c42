"""Runs quote fan-outs in the background of an API process and records each outcome as it lands.

The request and a row per insurer (``awaiting``) are committed before any insurer is called, so
a crash leaves a visible ``collecting`` request that ``finish_abandoned`` completes later, with
the insurers that never answered marked ``timed_out``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update

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

# Core tables, not ORM entities, for the bulk writes: an ORM bulk insert rebuilt its statement
# with a bind parameter per value, and SQLAlchemy's cache key for it cost more than the INSERT.
_OUTCOMES = cast(Table, InsurerOutcomeRow.__table__)
_OFFERS = cast(Table, OfferRow.__table__)
_ATTEMPTS = cast(Table, AttemptRow.__table__)


_REQUESTS = cast(Table, QuoteRequestRow.__table__)
_INSERT_REQUEST = insert(_REQUESTS)
_INSERT_OUTCOMES = insert(_OUTCOMES)
_INSERT_OFFERS = insert(_OFFERS)
_INSERT_ATTEMPTS = insert(_ATTEMPTS)


async def record_request(
    db: Database, request: QuoteRequest, partners: Mapping[str, Partner], deadline_at: datetime
) -> None:
    """Commit the request and one ``awaiting`` outcome per configured insurer."""
    now = datetime.now(UTC)
    # Prebuilt Core statements on a plain connection, not ORM objects in a session: nothing
    # reads these rows back in this transaction, and the session and its unit of work cost more
    # than the statements (docs/performance.md, fan-out profile). JSON columns take the msgspec
    # Structs as they are (the engine encodes them with msgspec).
    async with db.write_engine.begin() as connection:
        await connection.execute(
            _INSERT_REQUEST,
            {
                "id": request.request_id,
                "seller_id": request.seller.seller_id,
                "status": "collecting",
                "request": request,
                "created_at": now,
                "deadline_at": deadline_at,
                "completed_at": None,
            },
        )
        if partners:
            await connection.execute(
                _INSERT_OUTCOMES,
                [
                    {
                        "request_id": request.request_id,
                        "provider_id": provider_id,
                        "insurer_name": partner.adapter.insurer_name,
                        "status": "awaiting",
                        "attempts": 0,
                        "updated_at": now,
                    }
                    for provider_id, partner in partners.items()
                ],
            )


async def record_result(db: Database, request_id: str, result: InsurerResult) -> None:
    """Store one insurer's outcome, its offers and its captured attempts in one transaction."""
    await record_results(db, [(request_id, result)])


# One UPDATE for any number of results (executemany); the WHERE parameters are prefixed so they
# cannot clash with the SET columns named by each parameter set.
_SETTLE_OUTCOME = update(_OUTCOMES).where(
    _OUTCOMES.c.request_id == bindparam("where_request_id"),
    _OUTCOMES.c.provider_id == bindparam("where_provider_id"),
)


_COMPLETE_REQUEST = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("where_id"), _REQUESTS.c.status == "collecting")
    .values(status="complete", completed_at=bindparam("completed_at"))
)


async def record_results(
    db: Database,
    results: Sequence[tuple[str, InsurerResult]],
    completed: Sequence[str] = (),
) -> None:
    """Store insurer results (outcome, offers, captured attempts) and mark the ``completed``
    requests complete, in one transaction, with one statement of each kind however many."""
    now = datetime.now(UTC)
    async with db.write_engine.begin() as connection:
        if results:
            await connection.execute(
                _SETTLE_OUTCOME,
                [
                    {
                        "where_request_id": request_id,
                        "where_provider_id": result.provider_id,
                        "status": result.status,
                        "reason_code": result.reason_code,
                        "reason": result.reason,
                        "quote_reference": result.quote_reference,
                        "attempts": len(result.attempts),
                        "elapsed_ms": result.elapsed_ms,
                        "updated_at": now,
                    }
                    for request_id, result in results
                ],
            )
        offers = [
            {
                "id": str(uuid.uuid4()),
                "request_id": request_id,
                "provider_id": result.provider_id,
                "quote_reference": offer.quote_reference,
                "offer": offer,
                "bindable": offer.bindable,
                "valid_until": offer.valid_until,
                "status": "open",
                "received_at": now,
            }
            for request_id, result in results
            for offer in result.offers
        ]
        if offers:
            await connection.execute(_INSERT_OFFERS, offers)
        attempts = [
            {"request_id": request_id, "provider_id": result.provider_id, "capture": attempt}
            for request_id, result in results
            for attempt in result.attempts
        ]
        if attempts:
            await connection.execute(_INSERT_ATTEMPTS, attempts)
        if completed:
            await connection.execute(
                _COMPLETE_REQUEST,
                [{"where_id": request_id, "completed_at": now} for request_id in completed],
            )


# A result to store, or (None) the request to mark complete, and who waits for its commit.
_Write = tuple[str, InsurerResult | None, asyncio.Future[None]]


class ResultWriter:
    """Group commit for insurer results and request completions.

    A write queued while another is in progress waits for it, then goes out, in one transaction,
    with every write queued meanwhile. Each fan-out still moves on only once its own result is
    committed, so what is stored, and that it is stored as it lands, does not change; with many
    fan-outs in flight they share transactions (and their round trips), which were most of a
    quote request's cost (docs/performance.md). A request's completion is queued after its last
    result, so it is committed with that result (usually in the same transaction), never before.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[_Write] = []
        self._draining: asyncio.Task[None] | None = None

    def submit(self, request_id: str, result: InsurerResult) -> asyncio.Future[None]:
        """Queue ``result``; the future is done once it is committed (or failed to be)."""
        return self._queue(request_id, result)

    def complete(self, request_id: str) -> asyncio.Future[None]:
        """Queue marking the request complete, behind every result queued before."""
        return self._queue(request_id, None)

    async def write(self, request_id: str, result: InsurerResult) -> None:
        """Store ``result``; returns once it is committed (raises if it could not be)."""
        await self.submit(request_id, result)

    def _queue(self, request_id: str, result: InsurerResult | None) -> asyncio.Future[None]:
        committed = asyncio.get_running_loop().create_future()
        self._waiting.append((request_id, result, committed))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(), name="quote-result-writer")
        return committed

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._write(batch)
        finally:
            self._draining = None

    async def _write(self, batch: list[_Write]) -> None:
        try:
            await record_results(
                self.db,
                [(request_id, result) for request_id, result, _ in batch if result is not None],
                [request_id for request_id, result, _ in batch if result is None],
            )
        except Exception as exc:
            if len(batch) > 1:
                # One write that cannot be stored must not fail the others: one at a time,
                # in order (a completion still follows its request's results).
                for item in batch:
                    await self._write([item])
                return
            if not batch[0][2].done():
                batch[0][2].set_exception(exc)
            return
        for _, _, committed in batch:
            if not committed.done():
                committed.set_result(None)

    async def close(self) -> None:
        """Let the write in progress (and those queued behind it) finish."""
        if self._draining is not None:
            await asyncio.gather(self._draining, return_exceptions=True)


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
        self.results = ResultWriter(db)

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
        stored: list[asyncio.Future[None]] = []

        async def on_result(result: InsurerResult) -> None:
            # Queued rather than awaited, so that results landing together share a transaction;
            # every one is committed before (or with) the request's completion.
            stored.append(self.results.submit(request.request_id, result))

        try:
            await fan_out(request, self.partners, policy, on_result)
        except Exception:
            logger.exception("fan-out of %s failed", request.request_id)
        finally:
            completed = self.results.complete(request.request_id)
            for failure in await asyncio.gather(*stored, return_exceptions=True):
                if isinstance(failure, BaseException):
                    logger.error(
                        "an insurer result of %s was not stored: %r", request.request_id, failure
                    )
            await completed

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
        await self.results.close()
