"""Runs quote fan-outs in the background of an API process and records each outcome as it lands.

The request and a row per insurer (``awaiting``) are committed before any insurer is called, so
a crash leaves a visible ``collecting`` request that ``finish_abandoned`` completes later, with
the insurers that never answered marked ``timed_out``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from accelerator.admin.switches import skip_reasons
from accelerator.infra.database import Database
from accelerator.infra.metrics import NO_METRICS, Metrics
from accelerator.insurers.partners import Partner
from accelerator.quoting import repository
from accelerator.quoting.fanout import FanOutPolicy, InsurerResult, fan_out
from accelerator.quoting.repository import StoredRequest
from schemas import ComplianceResult, Offer, OutcomeStatus, QuoteRequest

if TYPE_CHECKING:
    from accelerator.infra.tracing import Tracing

logger = logging.getLogger("accelerator.quoting")

# How long after its deadline a `collecting` request is taken as abandoned by a dead process.
ABANDONED_AFTER = timedelta(seconds=15)


async def record_request(
    db: Database,
    request: QuoteRequest,
    partners: Mapping[str, Partner],
    deadline_at: datetime,
    *,
    created_at: datetime | None = None,
) -> dict[str, str]:
    """Commit the request (created now, unless ``created_at`` says when) and one ``awaiting``
    outcome per configured insurer. Returns the insurers operators switched off, read with
    the write (:meth:`QuoteRunner.start` takes them)."""
    insurers = {provider_id: p.adapter.insurer_name for provider_id, p in partners.items()}
    return await repository.store_request(
        db, request, insurers, created_at or datetime.now(UTC), deadline_at
    )


async def record_result(db: Database, request_id: str, result: InsurerResult) -> None:
    """Store one insurer's outcome, its offers and its captured attempts in one transaction."""
    await repository.store_results(db, [(request_id, result)])


# A result to store, or (None) the request to mark complete, who waits for its commit (a
# completion's waiter is told whether the request is stored as written: ResultWriter.complete),
# and (when tracing) the trace context of the fan-out that queued it.
_Write = tuple[str, InsurerResult | None, asyncio.Future[Any], Any]


class ResultWriter:
    """Group commit for insurer results and request completions.

    A write queued while another is in progress waits for it, then goes out, in one transaction,
    with every write queued meanwhile. A fan-out queues each result as it lands and goes on
    without waiting for its commit; once every insurer has answered, it waits for all of its
    results, then its completion, to be committed. What is stored does not change, and each
    result still goes out as soon as the write in progress is done; with many fan-outs in
    flight they share transactions (and their round trips), which were most of a quote
    request's cost (docs/performance.md). A request's completion is queued after its last
    result, so it is committed with that result (usually in the same transaction), never before.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._tracing = db.tracing
        self._waiting: list[_Write] = []
        self._draining: asyncio.Task[None] | None = None

    def submit(self, request_id: str, result: InsurerResult) -> asyncio.Future[None]:
        """Queue ``result``; the future is done once it is committed (or failed to be)."""
        return self._queue(request_id, result)

    def complete(self, request_id: str) -> asyncio.Future[datetime | None]:
        """Queue marking the request complete, behind every result queued before. Once
        committed, the future holds the instant it was completed at if this completed it and
        the request is stored exactly as its fan-out wrote it (repository.store_results), else
        None."""
        return self._queue(request_id, None)

    def _queue(self, request_id: str, result: InsurerResult | None) -> asyncio.Future[Any]:
        committed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queued_by = None if self._tracing is None else self._tracing.current()
        self._waiting.append((request_id, result, committed, queued_by))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(), name="quote-result-writer")
        return committed

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._write(batch)
                except BaseException as exc:
                    # Cancelled (_write handles any Exception): nothing will write this batch, nor
                    # what was queued behind it, and whoever waits for them must not hang.
                    for _, _, committed, _ in batch + self._waiting:
                        if not committed.done():
                            _fail(committed, exc)
                    self._waiting = []
                    raise
        finally:
            self._draining = None

    async def _write(self, batch: list[_Write]) -> None:
        if self._tracing is None:
            await self._store(batch)
            return
        # One span per transaction, in the trace of the fan-out whose write went first and
        # linked to the others' (a flush shares several requests' writes).
        with self._tracing.span(
            "store quote results",
            {"accelerator.writes": len(batch)},
            parents=[queued_by for *_, queued_by in batch if queued_by is not None],
        ):
            await self._store(batch)

    async def _store(self, batch: list[_Write]) -> None:
        try:
            answered = await repository.store_results(
                self.db,
                [(request_id, result) for request_id, result, _, _ in batch if result is not None],
                [request_id for request_id, result, _, _ in batch if result is None],
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
        for request_id, result, committed, _ in batch:
            if not committed.done():
                committed.set_result(None if result is not None else answered.get(request_id))

    async def close(self) -> None:
        """Let the write in progress (and those queued behind it) finish."""
        if self._draining is not None:
            await asyncio.gather(self._draining, return_exceptions=True)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)


async def finish_abandoned(db: Database, now: datetime | None = None) -> int:
    """Complete requests whose fan-out died with its process; returns how many were finished."""
    now = now or datetime.now(UTC)
    finished = await repository.complete_abandoned(
        db, deadline_before=now - ABANDONED_AFTER, now=now
    )
    if finished:
        logger.warning("finished %d abandoned quote request(s)", finished)
    return finished


def final_status(results: list[InsurerResult]) -> str:
    """How a fan-out ended, for the metrics: ``offered`` (an offer at least), ``pending`` (none
    yet, an insurer answers by callback), else ``no_offer``."""
    statuses = {result.status for result in results}
    if OutcomeStatus.OFFERED in statuses:
        return "offered"
    if OutcomeStatus.PENDING in statuses:
        return "pending"
    return "no_offer"


@dataclass(frozen=True)
class WrittenRequest:
    """A request as its fan-out wrote it (``repository.written_request``: what reading it back
    would give), and the compliance of each of its offers, by offer id, assessed as each
    insurer's answer landed (empty unless the fan-out was asked to)."""

    stored: StoredRequest
    assessed: Mapping[str, ComplianceResult]


class QuoteRunner:
    """Owns the fan-out tasks of one process so they can be awaited and cancelled at shutdown."""

    def __init__(
        self,
        db: Database,
        partners: Mapping[str, Partner],
        policy: FanOutPolicy,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.db = db
        self.partners = partners
        self.policy = policy
        self.metrics = metrics
        self._tasks: dict[str, asyncio.Task[WrittenRequest | None]] = {}
        self.results = ResultWriter(db)

    def start(
        self,
        request: QuoteRequest,
        deadline_seconds: float,
        *,
        created_at: datetime | None = None,
        deadline_at: datetime | None = None,
        switched_off: Mapping[str, str] | None = None,
        assess: Callable[[Offer], ComplianceResult] | None = None,
    ) -> asyncio.Task[WrittenRequest | None]:
        """Fan ``request`` out in the background. Given the instants :func:`record_request`
        stored it with, the task ends with the request as stored when nothing but this fan-out
        wrote to it (:meth:`wait` hands it over), else with None. ``switched_off``: the
        insurers' switches, as :func:`record_request` read them with the request; read now
        (:meth:`switched_off`) if not given. ``assess``: each offer's compliance, worked out
        as its insurer's answer lands, while other insurers or the database are awaited, for
        a caller who waits for the answer (docs/performance.md)."""
        stamps = None if created_at is None or deadline_at is None else (created_at, deadline_at)
        policy = FanOutPolicy(
            deadline_seconds=deadline_seconds,
            insurer_timeout_seconds=self.policy.insurer_timeout_seconds,
            retry=self.policy.retry,
            poll_interval_seconds=self.policy.poll_interval_seconds,
        )
        run = (
            self._run(request, policy, stamps, switched_off, assess)
            if self.db.tracing is None
            else self._traced_run(self.db.tracing, request, policy, stamps, switched_off, assess)
        )
        task = asyncio.create_task(run, name=f"quote-{request.request_id}")
        self._tasks[request.request_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(request.request_id, None))
        return task

    async def _traced_run(
        self,
        tracing: Tracing,
        request: QuoteRequest,
        policy: FanOutPolicy,
        stamps: tuple[datetime, datetime] | None,
        switched_off: Mapping[str, str] | None,
        assess: Callable[[Offer], ComplianceResult] | None,
    ) -> WrittenRequest | None:
        # A child of the request's span even when it outlives the request (?wait=false answers
        # first): the fan-out is what the request asked for, so it belongs to its trace.
        with tracing.span(
            "quote fan-out",
            {
                "accelerator.quote_request_id": request.request_id,
                "accelerator.insurers": len(self.partners),
            },
        ):
            return await self._run(request, policy, stamps, switched_off, assess)

    async def _run(
        self,
        request: QuoteRequest,
        policy: FanOutPolicy,
        stamps: tuple[datetime, datetime] | None,
        switched_off: Mapping[str, str] | None,
        assess: Callable[[Offer], ComplianceResult] | None,
    ) -> WrittenRequest | None:
        stored: list[asyncio.Future[None]] = []
        assessed: dict[str, ComplianceResult] = {}
        loop = asyncio.get_running_loop()
        final = "failed"
        results: list[InsurerResult] | None = None
        lost = False

        def assess_offers(result: InsurerResult) -> None:
            if assess is None:
                return
            try:
                for offer_id, offer in zip(result.offer_ids, result.offers, strict=True):
                    assessed[offer_id] = assess(offer)
            except Exception:
                # The answer assesses what is missing, and meets (and reports) the same failure.
                return

        async def on_result(result: InsurerResult) -> None:
            # Queued rather than awaited, so that results landing together share a transaction;
            # every one is committed before (or with) the request's completion.
            stored.append(self.results.submit(request.request_id, result))
            asked = result.status is not OutcomeStatus.SKIPPED
            self.metrics.insurer_answered(
                result.provider_id,
                result.status.value,
                result.reason_code,
                result.elapsed_ms / 1000 if asked else None,
            )
            if assess is not None and result.offers:
                # Soon, not now: behind what is already scheduled (the start of the write just
                # queued, and after the last result the completion queued with it), while the
                # database answers or other insurers are awaited.
                loop.call_soon(assess_offers, result)

        try:
            results = await fan_out(
                request,
                self.partners,
                policy,
                on_result,
                await self.switched_off() if switched_off is None else switched_off,
            )
            final = final_status(results)
        except Exception:
            logger.exception("fan-out of %s failed", request.request_id)
        finally:
            completed = self.results.complete(request.request_id)
            for failure in await asyncio.gather(*stored, return_exceptions=True):
                if isinstance(failure, BaseException):
                    lost = True
                    logger.error(
                        "an insurer result of %s was not stored: %r", request.request_id, failure
                    )
            completed_at = await completed
        # Not when cancelled (the process stopping): that request is finished by another
        # process's sweep, and counted there as abandoned.
        self.metrics.quote_finished(final)
        if stamps is None or results is None or lost or completed_at is None:
            return None
        # Every insurer's result and the completion are committed, and nothing else changed
        # the request: what this fan-out holds is what a read-back would return, without its
        # three reads (docs/performance.md).
        return WrittenRequest(
            repository.written_request(request, *stamps, results, completed_at), assessed
        )

    async def switched_off(self) -> dict[str, str]:
        """The insurers operators switched off, read per request so that a switch reaches every
        process at once. Unreadable, none is: the request still gets its other answers."""
        try:
            return await skip_reasons(self.db)
        except Exception:
            logger.exception("the insurer switches could not be read; asking every insurer")
            return {}

    async def wait(self, request_id: str, seconds: float) -> WrittenRequest | None:
        """Wait for a running fan-out of this process, at most ``seconds``. Returns the request
        as stored if the fan-out ended knowing it (see :meth:`start`); None if the caller must
        read it."""
        task = self._tasks.get(request_id)
        if task is None:
            return None
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.results.close()
