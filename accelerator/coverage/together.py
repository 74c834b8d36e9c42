"""Single coverage checks that arrive together are decided together.

A single check read the registry with a statement and a round trip of its own, where a batch
decides a hundred claims on one read at a fraction of the CPU a claim (docs/performance.md,
"Single checks decided together"). So concurrent single checks join: a check queues its claim
and a reader takes everything queued when it runs, reads those sellers in one statement and
decides them all (``CoverageService.decide_many``: the batch's own path). While a read is in
flight the claims arriving queue for the next, and at most ``most_in_flight`` reads run at once.
An idle service reads at once: there is no timer and no waiting for company, so a lone check
waits for nothing it did not wait for before.

What the claims share is only the read and the instant they are evaluated at: each is decided
on its own, gets its own answer or its own InvalidInput, and keeps its own receipt. A read that
fails is done again claim by claim, so that one claim's failure stays its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Generic, TypeVar

from accelerator.infra.tracing import Tracing
from schemas import CoverageCheckRequest

Outcome = TypeVar("Outcome")

#: The most claims one read takes: about as many as a batch's, so that a read's statement and
#: its answer stay the size the batch path was measured at.
MOST_PER_READ: Final = 128


class DecidedTogether(Generic[Outcome]):
    """Decides each claim with ``decide`` (claims -> outcomes, same order), several callers'
    claims at a time (see the module's docstring)."""

    def __init__(
        self,
        decide: Callable[[Sequence[CoverageCheckRequest]], Awaitable[Sequence[Outcome]]],
        *,
        most_in_flight: int,
        tracing: Tracing | None = None,
    ) -> None:
        self._decide = decide
        self._most_in_flight = most_in_flight
        self._tracing = tracing
        self._queued: list[_Waiting[Outcome]] = []
        self._in_flight = 0
        # Referenced until done: the event loop keeps only weak references to tasks.
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """How many claims wait for a read to take them."""
        return len(self._queued)

    async def decide(self, claim: CoverageCheckRequest) -> Outcome:
        """``claim`` decided, with whatever claims are waiting when its read starts."""
        waiting = _Waiting[Outcome](
            claim,
            asyncio.get_running_loop().create_future(),
            None if self._tracing is None else self._tracing.current(),
        )
        self._queued.append(waiting)
        if self._in_flight < self._most_in_flight:
            self._in_flight += 1
            task = asyncio.create_task(self._read(), name="coverage-decided-together")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await waiting.outcome

    async def _read(self) -> None:
        """Decide what is queued, in reads of at most MOST_PER_READ claims, until nothing is.
        The queue is taken when the task runs, not when it was started: the checks whose
        handlers ran in the same turn of the event loop go in its first read."""
        try:
            while self._queued:
                taken = self._queued[:MOST_PER_READ]
                del self._queued[:MOST_PER_READ]
                await self._decide_taken(taken)
        finally:
            self._in_flight -= 1

    async def _decide_taken(self, taken: list[_Waiting[Outcome]]) -> None:
        try:
            try:
                outcomes = await self._traced_decide(taken)
            except Exception:
                if len(taken) == 1:
                    raise
                # One claim may be what failed the read (a claim no check alone ever met the
                # bug of): each is decided alone, so that a failure reaches only the checks it
                # is theirs. A database that is down fails each of them the same way.
                for waiting in taken:
                    await self._decide_taken([waiting])
                return
            for waiting, outcome in zip(taken, outcomes, strict=True):
                # A caller that stopped waiting (its client went away) cancelled only its own.
                if not waiting.outcome.done():
                    waiting.outcome.set_result(outcome)
        except BaseException as exc:
            # Every caller still waiting gets what the read raised (a cancelled read, at
            # shutdown, cancels them), and none is left waiting for ever.
            for waiting in taken:
                if not waiting.outcome.done():
                    if isinstance(exc, asyncio.CancelledError):
                        waiting.outcome.cancel()
                    else:
                        waiting.outcome.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def _traced_decide(self, taken: list[_Waiting[Outcome]]) -> Sequence[Outcome]:
        claims = [waiting.claim for waiting in taken]
        if self._tracing is None:
            return await self._decide(claims)
        # One span per read, in the trace of the first check it decides, linked to the others'.
        with self._tracing.span(
            "decide checks together",
            {"accelerator.claims": len(claims)},
            parents=[w.queued_by for w in taken if w.queued_by is not None],
        ):
            return await self._decide(claims)


class _Waiting(Generic[Outcome]):
    """One caller's claim and how it learns its outcome."""

    __slots__ = ("claim", "outcome", "queued_by")

    def __init__(
        self, claim: CoverageCheckRequest, outcome: asyncio.Future[Outcome], queued_by: Any
    ) -> None:
        self.claim = claim
        self.outcome = outcome
        # The caller's trace context when tracing: the read's span joins its trace.
        self.queued_by = queued_by
