"""The delivery worker: sends the outbox's messages, signed, at least once, on a schedule.

Like the inbox worker (``webhooks.worker``): due messages are claimed under a lease
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several ``accelerator worker`` processes share the
work; the API process's own worker on SQLite), sent outside any transaction, and each attempt is
recorded with the message's next step in one transaction that checks the lease is still held. A
worker that dies mid-delivery leaves its messages ``sending``; once the lease expires another
worker sends them again (at least once: the receiver dedupes on ``webhook-id``).

Each attempt is signed per Standard Webhooks: ``webhook-id`` is the event's id (the same on every
retry and replay), ``webhook-timestamp`` the attempt's time, ``webhook-signature`` one ``v1,…``
per active secret (two during a rotation).

The schedule (:data:`RETRY_SCHEDULE`): the first attempt at once, then 5 s, 5 min, 30 min, 2 h,
5 h, 10 h and 10 h after each failure; after the eighth the message has ``failed`` (an admin can
replay it). A ``410 Gone`` disables the endpoint at once; an endpoint whose deliveries have failed
without a success in between for :data:`DISABLE_AFTER` is disabled too, with the reason.

Time is the worker's ``clock`` (tests pass their own, so a retry 5 s later needs no sleep).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from accelerator.infra.database import Database
from accelerator.infra.metrics import NO_METRICS, Metrics
from accelerator.notifications.repository import (
    Attempt,
    Claimed,
    NotificationRepository,
    Settlement,
    secrets_of,
)
from accelerator.notifications.sender import Outcome, Sender
from accelerator.webhooks.worker import printable, worker_name
from schemas import MessageStatus

if TYPE_CHECKING:
    from accelerator.infra.tracing import Tracing

logger = logging.getLogger("accelerator.notifications.worker")

#: Seconds before each attempt, after the one before failed (the first is at once).
RETRY_SCHEDULE: Final = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
#: An endpoint failing without a success for this long is disabled.
DISABLE_AFTER: Final = timedelta(days=5)
GONE = 410


def _now() -> datetime:
    return datetime.now(UTC)


def active_secrets(secrets: list[dict[str, object]], now: datetime) -> list[str]:
    """The secrets that sign a delivery at ``now``: every one not expired, newest first."""
    active = []
    for entry in secrets:
        expires = entry.get("expires_at")
        if isinstance(expires, str) and datetime.fromisoformat(expires) <= now:
            continue
        active.append(str(entry["secret"]))
    return active


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """An endpoint's secrets ready to sign with: each one's HMAC key (decoded once, not once per
    delivery) and when it stops signing (None: never)."""

    keys: tuple[tuple[bytes, datetime | None], ...]

    @classmethod
    def of(cls, secrets: list[dict[str, object]]) -> SigningKeys:
        keys = []
        for entry in secrets:
            expires = entry.get("expires_at")
            # Standard Webhooks: whsec_ then the key in base64, sometimes without its padding.
            encoded = str(entry["secret"]).removeprefix("whsec_")
            key = base64.b64decode(encoded + "==")
            until = datetime.fromisoformat(expires) if isinstance(expires, str) else None
            keys.append((key, until))
        return cls(tuple(keys))

    def headers(self, event_id: str, now: datetime, body: bytes) -> dict[str, str]:
        """The three Standard Webhooks headers at ``now``: one ``v1,`` signature per secret
        not expired (:func:`active_secrets`), in the secrets' order."""
        timestamp = int(now.timestamp())
        signed = b"%s.%d.%s" % (event_id.encode(), timestamp, body)
        signatures = " ".join(
            "v1," + base64.b64encode(hmac.digest(key, signed, "sha256")).decode()
            for key, expires in self.keys
            if expires is None or expires > now
        )
        return {
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures,
        }


def settlement(
    attempts: int, outcome: Outcome, now: datetime, failing_since: datetime | None
) -> Settlement:
    """What becomes of a message whose attempt number ``attempts`` came to ``outcome`` (pure)."""
    if outcome.delivered:
        return Settlement(MessageStatus.DELIVERED, now, None, now, clear_failing=True)
    error = outcome.error or f"the receiver answered {outcome.status_code}"
    if outcome.status_code == GONE:
        reason = f"the receiver answered 410 Gone at {now.isoformat()}"
        return Settlement(
            MessageStatus.FAILED, now, error, None, failing_since=now, disable_reason=reason
        )
    started = failing_since or now
    disable = None
    if now - started >= DISABLE_AFTER:
        disable = f"every delivery failed since {started.isoformat()} (last: {error})"
    if attempts < len(RETRY_SCHEDULE):
        due = now + timedelta(seconds=RETRY_SCHEDULE[attempts])
        return Settlement(
            MessageStatus.PENDING, due, error, None, failing_since=started, disable_reason=disable
        )
    return Settlement(
        MessageStatus.FAILED, now, error, None, failing_since=started, disable_reason=disable
    )


#: What an attempt came to, as the delivery metric names it.
_RESULTS = {
    MessageStatus.DELIVERED: "delivered",
    MessageStatus.PENDING: "retrying",
    MessageStatus.FAILED: "failed",
    MessageStatus.SENDING: "sending",  # not a step's status; here so every status has a name
}


@dataclass
class _Sending:
    """One drain's sends: how many may be in flight, the endpoints a 410 disabled (nothing more
    goes to them), and the claimed messages left unsent for that."""

    in_flight: int
    gate: asyncio.Semaphore = field(init=False)
    gone: set[str] = field(default_factory=set)
    unsent: list[Claimed] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.in_flight)


@dataclass
class DeliveryWorker:
    db: Database
    sender: Sender
    clock: Callable[[], datetime] = _now
    owner: str = field(default_factory=worker_name)
    lease_seconds: float = 60.0
    batch_size: int = 50
    poll_interval_seconds: float = 1.0
    # accelerator_notification_deliveries_total, by endpoint and result.
    metrics: Metrics = NO_METRICS
    repository: NotificationRepository = field(init=False, repr=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    # Each endpoint's keys by its secrets as stored (a rotation stores new ones: new keys).
    _keys: dict[tuple[str, str], SigningKeys] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.repository = NotificationRepository(self.db)

    def wake(self) -> None:
        """Something is due now (a replay): look now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim one batch, send it concurrently and settle it; how many messages were taken."""
        claimed = await self._claim()
        if claimed:
            sending = _Sending(self.batch_size)
            attempted = await self._send(claimed, sending)
            await self._settle(attempted)
            await self.repository.release(self.owner, sending.unsent)
        return len(claimed)

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Batches until one comes back short of :attr:`batch_size` (or ``stop`` is set); how
        many messages were taken.

        Pipelined, so that neither the sends nor the receiver wait for the database or for a
        batch's slowest answer: while a batch is sent, the next is claimed and its sends start
        as the batch's end, :attr:`batch_size` in flight across the two; the batches before are
        settled meanwhile, one settle at a time, each after the one before, at most two
        outstanding, all of them finished before this returns. Once an attempt is answered
        ``410 Gone``, no message of its endpoint is sent any more: those not yet sent are handed
        back, unsent, after every settle (the endpoint is disabled by then); so is a batch
        claimed when ``stop`` comes."""
        total = 0
        sending = _Sending(self.batch_size)
        sent: asyncio.Task[list[tuple[Attempt, Settlement]]] | None = None
        settling: asyncio.Task[None] | None = None
        behind: asyncio.Task[None] | None = None
        claiming: asyncio.Future[list[Claimed]] | None = asyncio.ensure_future(self._claim())
        try:
            while claiming is not None:
                taking, claiming = claiming, None
                claimed = await taking
                if not claimed or (stop is not None and stop.is_set()):
                    await self.repository.release(self.owner, claimed)
                    break
                total += len(claimed)
                if len(claimed) >= self.batch_size:
                    claiming = asyncio.ensure_future(self._claim())
                # Its sends queue behind the batch before's at the gate: the receiver always has
                # a batch's worth in flight, not only the batch's last few stragglers.
                sending_now = asyncio.create_task(self._send(claimed, sending))
                if sent is not None:
                    attempted = await sent
                    # A database slower than the sends holds them back here rather than let
                    # claimed leases run out unsettled.
                    if behind is not None:
                        await behind
                    behind = settling
                    settling = asyncio.create_task(self._settle_after(behind, attempted))
                sent = sending_now
        finally:
            if claiming is not None:
                # Stopped or failed between a claim and its sends: handed back, not left to the
                # lease.
                await self._release(claiming)
            if sent is not None:
                # Even when cancelled: what was sent is recorded rather than sent again (the
                # settles before it first).
                settling = asyncio.create_task(self._settle_after(settling, await sent))
            if settling is not None:
                await settling
            if sending.unsent:
                await self.repository.release(self.owner, sending.unsent)
        return total

    async def _release(self, claiming: asyncio.Future[list[Claimed]]) -> None:
        try:
            await self.repository.release(self.owner, await claiming)
        except Exception:  # the lease runs out instead
            logger.exception("delivery worker %s: a claimed batch was not handed back", self.owner)

    async def run_until_idle(self) -> int:
        """Send everything due now (tests, ``accelerator worker --until-idle``)."""
        total = 0
        while taken := await self.drain():
            total += taken
        return total

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Work until ``stop`` is set (or cancelled)."""
        stop = stop or asyncio.Event()
        logger.info("delivery worker %s started", self.owner)
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.drain(stop)
            except Exception:  # the database may be briefly away; try again at the next poll
                logger.exception("delivery worker %s: claiming failed", self.owner)
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(
                waiters, timeout=self.poll_interval_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()
        logger.info("delivery worker %s stopped", self.owner)

    async def _claim(self) -> list[Claimed]:
        return await self.repository.claim_due(
            self.owner, timedelta(seconds=self.lease_seconds), self.batch_size, self.clock()
        )

    async def _send(
        self, claimed: list[Claimed], sending: _Sending
    ) -> list[tuple[Attempt, Settlement]]:
        """Every claimed message attempted, as many at once as ``sending``'s gate lets through;
        the attempts that can be recorded (those of endpoints gone meanwhile are left unsent,
        in ``sending.unsent``)."""
        tracing = self.db.tracing
        if tracing is None:
            results = await asyncio.gather(
                *(self._gated(sending, message, None) for message in claimed),
                return_exceptions=True,
            )
        else:
            # The job's span starts once there is a job: empty polls make no traces.
            with tracing.span("notification batch", {"accelerator.notifications": len(claimed)}):
                results = await asyncio.gather(
                    *(self._gated(sending, message, tracing) for message in claimed),
                    return_exceptions=True,
                )
        attempted = []
        for message, result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                # Not sent or not recordable: the lease runs out, then it is sent again.
                logger.error("message %s: not attempted", message.message_id, exc_info=result)
            elif result is not None:
                attempted.append(result)
        return attempted

    async def _gated(
        self, sending: _Sending, message: Claimed, tracing: Tracing | None
    ) -> tuple[Attempt, Settlement] | None:
        async with sending.gate:
            if message.endpoint_id in sending.gone:
                sending.unsent.append(message)
                return None
            if tracing is None:
                attempt, step = await self.attempt(message)
            else:
                attempt, step = await self._traced_attempt(tracing, message)
            if step.disable_reason is not None:
                sending.gone.add(message.endpoint_id)
            return attempt, step

    async def _settle_after(
        self, before: asyncio.Task[None] | None, attempted: list[tuple[Attempt, Settlement]]
    ) -> None:
        if before is not None:
            await before
        await self._settle(attempted)

    async def _settle(self, attempted: list[tuple[Attempt, Settlement]]) -> None:
        try:
            # The batch's attempts and steps in one transaction: one commit, not one each.
            await self.repository.settle_many(self.owner, attempted)
        except Exception:
            # The database failed under the settle: the lease runs out, then they are sent again.
            logger.exception("delivery worker %s: a batch was not settled", self.owner)

    async def deliver(self, claimed: Claimed) -> str:
        """Send one claimed message and record the attempt; its new status (or ``lost``)."""
        attempt, step = await self.attempt(claimed)
        if not await self.repository.settle(self.owner, attempt, step):
            return "lost"
        return step.status.value

    async def _traced_attempt(
        self, tracing: Tracing, claimed: Claimed
    ) -> tuple[Attempt, Settlement]:
        """:meth:`attempt` as a span: one per delivery, with its endpoint and its outcome."""
        with tracing.span(
            "notification delivery",
            {
                "accelerator.notification.message_id": claimed.message_id,
                "accelerator.notification.endpoint_id": claimed.endpoint_id,
                "accelerator.notification.event_id": claimed.event_id,
            },
        ) as span:
            attempt, step = await self.attempt(claimed)
            span.set_attribute("accelerator.notification.outcome", step.status.value)
            if attempt.status_code is not None:
                span.set_attribute("http.response.status_code", attempt.status_code)
            if attempt.error is not None:
                tracing.failed(span, attempt.error)
            return attempt, step

    def _signing_keys(self, claimed: Claimed) -> SigningKeys:
        if not isinstance(claimed.secrets, str):  # decoded already (SQLite): nothing to key on
            return SigningKeys.of(claimed.secrets)
        cache_key = (claimed.endpoint_id, claimed.secrets)
        keys = self._keys.get(cache_key)
        if keys is None:
            if len(self._keys) > 1000:  # endpoints deleted or rotated: start again
                self._keys.clear()
            keys = self._keys[cache_key] = SigningKeys.of(secrets_of(claimed))
        return keys

    async def attempt(self, claimed: Claimed) -> tuple[Attempt, Settlement]:
        """Send one claimed message; the attempt and the message's next step, to be settled."""
        now = self.clock()
        headers = self._signing_keys(claimed).headers(claimed.event_id, now, claimed.body)
        outcome = await self.sender.send(claimed.url, headers, claimed.body)
        attempt = Attempt(
            message_id=claimed.message_id,
            endpoint_id=claimed.endpoint_id,
            attempted_at=now,
            status_code=outcome.status_code,
            error=printable(outcome.error) if outcome.error else None,
            latency_ms=outcome.latency_ms,
        )
        step = settlement(claimed.attempts, outcome, self.clock(), claimed.failing_since)
        if step.error is not None:
            step = Settlement(
                step.status,
                step.next_attempt_at,
                printable(step.error),
                step.delivered_at,
                step.failing_since,
                step.clear_failing,
                step.disable_reason,
            )
        self.metrics.notification_attempted(claimed.endpoint_id, _RESULTS[step.status])
        if step.disable_reason is not None:
            logger.warning("endpoint %s disabled: %s", claimed.endpoint_id, step.disable_reason)
        return attempt, step


__all__ = [
    "DISABLE_AFTER",
    "RETRY_SCHEDULE",
    "DeliveryWorker",
    "SigningKeys",
    "active_secrets",
    "settlement",
]
