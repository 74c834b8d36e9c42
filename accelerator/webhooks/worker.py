"""The inbox worker: claims stored deliveries under a lease and applies them exactly once.

Several workers may run at once (on PostgreSQL, ``accelerator worker`` on several hosts): a claim
is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)``, so two workers never take the
same row. A worker that dies leaves its rows ``processing`` until the lease expires, then any
worker takes them over. Applying an event and marking it applied happen in one transaction that
first re-checks the lease, so a worker whose lease was taken over cannot apply it a second time.
A claimed batch is applied in one such transaction when every delivery in it applies, and one by
one when any cannot (see ``_apply_together``). An event out of the contract's bounds
(``schemas._bounds``: a date in year 1, text too long to store) is refused when it is parsed
(:class:`RefusedEvent`): the delivery fails at once with the reason, and nothing of it applies.
On SQLite, writers are serialised and the service's own in-process worker is the only one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from accelerator.coverage.repository import load_policies
from accelerator.infra.database import Database, WriteSession
from accelerator.insurers.partners import Partner
from accelerator.webhooks.apply import UnmatchedEvent, apply_event, event_id, policy_number
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.repository import InboxRepository
from accelerator.webhooks.turns import ReceivesFirst
from providers import MalformedResponse
from schemas import InboxStatus, InsurerEvent, OutOfBounds, PolicyBound, decode_event

logger = logging.getLogger("accelerator.webhooks.worker")

# A delivery whose quote or policy is unknown waits for its predecessor: retried soon, then at
# most every minute, and woken at once when its partner binds a policy. Its limit is its age,
# not its attempts, so however often it is woken it waits this long before it is given up.
PARKED_DELAY_MAX_SECONDS = 60.0
MAX_PARKED_AGE = timedelta(hours=24)
# A delivery that fails for another reason (a bug, the database) backs off exponentially.
FAILED_DELAY_MAX_SECONDS = 300.0
MAX_FAILED_ATTEMPTS = 8


def retry_delay(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with jitter: about base·2^(attempts-1), at most ``cap`` seconds."""
    delay: float = min(cap, base * 2 ** max(attempts - 1, 0))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseLost(Exception):
    """Another worker took the row over (our lease expired): leave it to them."""


class RefusedEvent(Exception):
    """An authentic event that breaks the contract's bounds (schemas._bounds): a date in year 1,
    an amount that is not a number, a policy number too long to store. Applying it again cannot
    help, so it is not retried; the reason is kept for an admin."""


def held_to_contract(events: Sequence[InsurerEvent]) -> Sequence[InsurerEvent]:
    """``events`` if every one keeps the contract's bounds, else RefusedEvent saying where.

    An adapter builds canonical events in code, where msgspec checks only ``__post_init__``:
    decoding each one again checks the constraints too (lengths, patterns, list sizes). Here in
    the worker, not on the receive path, which only verifies and stores."""
    for event in events:
        try:
            decode_event(msgspec.json.encode(event))
        except msgspec.ValidationError as exc:
            raise RefusedEvent(f"{type(event).__name__}: {exc}") from exc
    return events


# C0 controls but tab and line feed, DEL and C1 controls: the kept error is text a PostgreSQL
# column must be able to hold (no NUL) and an admin must be able to read.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(error: str) -> str:
    """``error`` with every control character but tab and line feed written as an escape."""
    return _UNPRINTABLE.sub(lambda found: f"\\x{ord(found[0]):02x}", error)


@dataclass
class InboxWorker:
    db: Database
    partners: Mapping[str, Partner]
    owner: str = field(default_factory=worker_name)
    lease_seconds: float = 60.0
    batch_size: int = 20
    poll_interval_seconds: float = 1.0
    # An in-process worker takes turns with its process's receives (accelerator.webhooks.turns):
    # before each batch it waits for a moment without one, at most this long.
    turns: ReceivesFirst | None = None
    give_way_seconds: float = 1.0
    # ... and, woken by a stored delivery, waits this long for others to join its batch: woken
    # at every store, it would apply batches of one, each paying on its own for what a batch
    # shares (a claim, a read, a lease check, a transaction and an update).
    gather_seconds: float = 0.05
    inbox: InboxRepository = field(init=False, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        self.inbox = InboxRepository(self.db)

    def wake(self) -> None:
        """Something was stored: look now rather than at the next poll."""
        self._wake.set()

    async def claim(self, limit: int | None = None) -> list[int]:
        """Take up to ``limit`` due deliveries (and any whose lease expired), oldest first."""
        return await self.inbox.claim_due(
            self.owner,
            timedelta(seconds=self.lease_seconds),
            limit or self.batch_size,
            datetime.now(UTC),
        )

    async def run_once(self) -> int:
        """Claim one batch and apply it; returns how many deliveries were taken."""
        claimed = await self.claim()
        if not claimed:
            return 0
        tracing = self.db.tracing
        if tracing is None:
            await self._apply(claimed)
        else:
            # The job's span starts once there is a job: empty polls make no traces.
            with tracing.span(
                "inbox batch",
                {"accelerator.inbox.deliveries": len(claimed), "accelerator.inbox.ids": claimed},
            ):
                await self._apply(claimed)
        return len(claimed)

    async def _apply(self, claimed: list[int]) -> None:
        if await self._apply_together(claimed):
            return
        # Something in the batch needs its own outcome (it waits for a predecessor, fails, or
        # was taken over): nothing of it was applied, so each delivery now goes its own way.
        for inbox_id in claimed:
            try:
                await self.process(inbox_id)
            except Exception:
                # process() settles every failure of applying; this is the database failing
                # under it. The row stays claimed and is taken again when its lease ends.
                logger.exception("inbox %s: could not be processed", inbox_id)

    async def run_until_idle(self) -> int:
        """Apply everything due now (tests, ``accelerator worker --until-idle``)."""
        total = 0
        while taken := await self.run_once():
            total += taken
        return total

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Work until ``stop`` is set (or cancelled): batches back to back, then poll or wait."""
        stop = stop or asyncio.Event()
        logger.info("inbox worker %s started", self.owner)
        full = False
        while not stop.is_set():
            # Cleared before claiming: a delivery stored while we claim wakes the next wait.
            self._wake.clear()
            try:
                taken = await self._take_turn(after_full_batch=full)
                full = taken >= self.batch_size
                if taken:
                    continue
            except Exception:  # the database may be briefly away; try again at the next poll
                full = False
                logger.exception("inbox worker %s: claiming failed", self.owner)
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(
                waiters, timeout=self.poll_interval_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()
        logger.info("inbox worker %s stopped", self.owner)

    async def _take_turn(self, *, after_full_batch: bool) -> int:
        """One batch. An in-process worker first lets deliveries gather into it (unless the
        last batch was full: more are due already), then takes its turn with the receives."""
        if self.turns is not None:
            if not after_full_batch:
                await asyncio.sleep(self.gather_seconds)
            await self.turns.give_way(self.give_way_seconds)
            async with self.turns.applying():
                return await self.run_once()
        return await self.run_once()

    async def process(self, inbox_id: int) -> str:
        """Apply one claimed delivery; returns its new status (or ``lost`` if taken over)."""
        row = await self.inbox.get(inbox_id)
        if row is None or row.lease_owner != self.owner or row.status != InboxStatus.PROCESSING:
            return "lost"
        try:
            events = self._parse(row)
        except MalformedResponse as exc:
            # Authentic but unreadable: retrying cannot help. Kept for an admin to look at.
            return await self._settle(row, InboxStatus.FAILED, f"unreadable event: {exc}")
        except RefusedEvent as exc:  # readable, but out of bounds: no more use trying again
            return await self._settle(row, InboxStatus.FAILED, f"event refused: {exc}")
        except Exception as exc:  # an adapter's bug: it may be fixed before the next attempt
            return await self._retry_later(row, exc)
        try:
            async with self.db.writing() as session:
                await self._hold_lease(session, inbox_id)
                for position, event in events:
                    await apply_event(
                        session,
                        row.provider_id,
                        event_id(row.provider_id, row.webhook_id, position),
                        event,
                    )
                await self.inbox.mark_applied(session, [inbox_id], datetime.now(UTC))
        except LeaseLost:
            logger.warning("inbox %s: lease lost to another worker", inbox_id)
            return "lost"
        except UnmatchedEvent as exc:
            if datetime.now(UTC) - row.received_at > MAX_PARKED_AGE:
                return await self._settle(
                    row, InboxStatus.FAILED, f"predecessor never arrived: {exc}"
                )
            delay = retry_delay(row.attempts, base=1.0, cap=PARKED_DELAY_MAX_SECONDS)
            return await self._settle(row, InboxStatus.PARKED, str(exc), retry_in=delay)
        except Exception as exc:
            return await self._retry_later(row, exc)
        if any(isinstance(event, PolicyBound) for _, event in events):
            await self._wake_parked(row.provider_id)
        return InboxStatus.APPLIED

    async def _apply_together(self, claimed: list[int]) -> bool:
        """Apply a whole claimed batch in one transaction, if every delivery in it applies.

        The common case, and several times cheaper than a transaction per delivery (one lease
        check, one read and one status update for the batch; docs/webhooks.md). All or nothing:
        if any delivery cannot be applied as it is (a predecessor missing, an adapter or the
        database failing, a lease lost), the transaction is rolled back and the caller processes
        the deliveries one by one, each settling on its own, so none is applied twice and none
        waits for another. Deliveries are applied in the order of their ids, as one by one.
        """
        rows = await self.inbox.claimed(claimed)
        try:
            parsed = [(row, self._parse(row)) for row in rows]
        except Exception:  # settled one by one: unreadable ones fail, others are retried
            return False
        try:
            async with self.db.writing() as session:
                await self._hold_leases(session, claimed)
                await self._load_policies(session, parsed)
                for row, events in parsed:
                    for position, event in events:
                        await apply_event(
                            session,
                            row.provider_id,
                            event_id(row.provider_id, row.webhook_id, position),
                            event,
                        )
                await self.inbox.mark_applied(session, claimed, datetime.now(UTC))
        except Exception as exc:  # rolled back: nothing of the batch was applied
            # Not an error in itself: applied one by one, each delivery settles (and logs) its own.
            logger.debug("inbox batch of %d: applying one by one (%r)", len(claimed), exc)
            return False
        bound = {
            row.provider_id
            for row, events in parsed
            if any(isinstance(event, PolicyBound) for _, event in events)
        }
        for provider_id in sorted(bound):
            await self._wake_parked(provider_id)
        return True

    @staticmethod
    async def _load_policies(
        session: WriteSession, parsed: list[tuple[InboxEvent, list[tuple[int, InsurerEvent]]]]
    ) -> None:
        """The policies the batch's events name, one query per partner rather than per event."""
        named: dict[str, set[str]] = {}
        for row, events in parsed:
            for _, event in events:
                if (number := policy_number(event)) is not None:
                    named.setdefault(row.provider_id, set()).add(number)
        for provider_id, numbers in sorted(named.items()):
            await load_policies(session, provider_id, numbers)

    def _parse(self, row: InboxEvent) -> list[tuple[int, InsurerEvent]]:
        """The delivery's events with their positions, in order of occurrence (not arrival)."""
        partner = self.partners.get(row.provider_id)
        if partner is None:
            raise MalformedResponse(f"provider {row.provider_id} is no longer configured")
        try:
            events = held_to_contract(partner.adapter.parse_events(row.body, row.headers))
        except OutOfBounds as exc:  # the adapter built an event its own checks refuse
            raise RefusedEvent(str(exc)) from exc
        return sorted(enumerate(events), key=lambda e: (e[1].occurred_at, e[1].sequence or 0, e[0]))

    async def _retry_later(self, row: InboxEvent, exc: Exception) -> str:
        logger.error("inbox %s: applying failed (attempt %d)", row.id, row.attempts, exc_info=exc)
        error = f"{type(exc).__name__}: {exc}"
        if row.attempts >= MAX_FAILED_ATTEMPTS:
            return await self._settle(row, InboxStatus.FAILED, error)
        delay = retry_delay(row.attempts, base=2.0, cap=FAILED_DELAY_MAX_SECONDS)
        return await self._settle(row, InboxStatus.RETRYING, error, retry_in=delay)

    async def _wake_parked(self, provider_id: str) -> None:
        """A new policy exists: deliveries of its partner waiting for one may go now."""
        await self.inbox.wake_parked(provider_id, datetime.now(UTC))

    async def _hold_lease(self, session: WriteSession, inbox_id: int) -> None:
        """Lock the row (PostgreSQL) and make sure it is still ours before applying it."""
        await self._hold_leases(session, [inbox_id])

    async def _hold_leases(self, session: WriteSession, claimed: list[int]) -> None:
        """:meth:`_hold_lease` for a whole batch: every row must still be ours."""
        if not await self.inbox.hold_leases(session, self.owner, claimed):
            raise LeaseLost

    async def _settle(
        self, row: InboxEvent, status: InboxStatus, error: str, *, retry_in: float | None = None
    ) -> str:
        next_attempt_at = datetime.now(UTC) + timedelta(seconds=retry_in or 0)
        settled = await self.inbox.settle(
            row.id, self.owner, status, printable(error), next_attempt_at
        )
        return status if settled else "lost"


__all__ = [
    "InboxWorker",
    "LeaseLost",
    "RefusedEvent",
    "held_to_contract",
    "printable",
    "retry_delay",
    "worker_name",
]
