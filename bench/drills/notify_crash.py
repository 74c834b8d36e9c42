"""Notification crash drill: ``kill -9`` of ``accelerator worker`` in the middle of deliveries.

1. An enabled endpoint points at a receiver on the loopback that verifies every delivery's
   signature (the ``standardwebhooks`` package) and records its ``webhook-id``; ``messages``
   events are written to the outbox as any producer writes them (``notifications.outbox.emit``).
2. An external worker (PostgreSQL, ``ACCELERATOR_INBOX_WORKER=external``) sends them. The
   receiver answers the first third, then holds every later request open: the worker is killed
   with SIGKILL while it waits for those answers, with messages claimed (``sending``).
3. The receiver answers again; a second worker is started. It takes the dead worker's messages
   over when their lease (2 s here) ends.

Then, what a receiver would notice: every message is delivered, none failed, every event's id
reached the receiver at least once (duplicates allowed, dedupable by ``webhook-id``: the ones
the first worker sent but could not record), and every delivery carried a valid signature.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import standardwebhooks
from aiohttp import web
from sqlalchemy import func, select

from accelerator.infra.database import open_database
from accelerator.notifications.events import quote_request_completed
from accelerator.notifications.models import EndpointRow, MessageRow
from accelerator.notifications.outbox import emit
from accelerator.notifications.service import new_secret
from bench.drills import DrillResult
from bench.drills.stack import Stack, wait_for

LEASE_SECONDS = 2.0


@dataclass
class Receiver:
    """A webhook receiver in a thread of its own: records every ``webhook-id`` it is sent and
    whether the signature verified; while ``holding`` it keeps requests open unanswered."""

    secret: str
    answer_first: int
    seen: list[tuple[str, bool]] = field(default_factory=list)
    held: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        try:
            standardwebhooks.Webhook(self.secret).verify(body, headers)
            verified = True
        except standardwebhooks.WebhookVerificationError:
            verified = False
        with self._lock:
            self.seen.append((request.headers.get("webhook-id", ""), verified))
            hold = len(self.seen) > self.answer_first and not self.release.is_set()
            if hold:
                self.held += 1
        if hold:
            # Waits on the drill's signal, not on time: the worker dies with this request open.
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        return web.Response(status=204)

    def start(self) -> None:
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def up() -> None:
                app = web.Application()
                app.router.add_post("/hooks", self._handle)
                self._runner = web.AppRunner(app, access_log=None)
                await self._runner.setup()
                site = web.TCPSite(self._runner, "127.0.0.1", 0)
                await site.start()
                self.port = self._runner.addresses[0][1]

            loop.run_until_complete(up())
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        self._thread = threading.Thread(target=serve, name="receiver", daemon=True)
        self._thread.start()
        started.wait(30)

    def stop(self) -> None:
        self.release.set()
        loop = self._loop
        if loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(30)

    def ids(self) -> Counter[str]:
        with self._lock:
            return Counter(webhook_id for webhook_id, _ in self.seen)

    def unverified(self) -> int:
        with self._lock:
            return sum(1 for _, verified in self.seen if not verified)


def _run(work: Any) -> Any:
    return asyncio.run(work)


async def queue_events(url: str, receiver_url: str, secret: str, messages: int) -> list[str]:
    """An endpoint and ``messages`` events for it, written as producers write them."""
    db = open_database(url)
    try:
        now = datetime.now(UTC)
        async with db.writing() as session:
            session.add(
                EndpointRow(
                    id=f"ep_{uuid.uuid4().hex}",
                    url=receiver_url,
                    event_types=[],
                    seller_id=None,
                    marketplace=None,
                    secrets=[{"secret": secret, "expires_at": None}],
                    enabled=True,
                    disabled_reason=None,
                    failing_since=None,
                    created_at=now,
                    updated_at=now,
                )
            )
        ids = []
        async with db.writing() as session:
            for _ in range(messages):
                event = quote_request_completed(str(uuid.uuid4()), "drill-seller", now)
                await emit(session, event, seller_id="drill-seller")
                ids.append(event.id)
        return ids
    finally:
        await db.dispose()


def messages_by_status(url: str) -> dict[str, int]:
    async def work() -> dict[str, int]:
        db = open_database(url)
        try:
            async with db.reading() as session:
                rows = await session.execute(
                    select(MessageRow.status, func.count()).group_by(MessageRow.status)
                )
                return {status: int(n) for status, n in rows}
        finally:
            await db.dispose()

    found: dict[str, int] = _run(work())
    return found


def run(database_url: str, logs: Path, *, messages: int = 300) -> DrillResult:
    """The drill, on PostgreSQL (on SQLite the worker lives in the API process: the API crash
    drill covers it)."""
    result = DrillResult("notify-crash")
    secret = new_secret()
    receiver = Receiver(secret, answer_first=messages // 3)
    receiver.start()
    extra = {"ACCELERATOR_NOTIFICATIONS_ALLOW_PRIVATE_URLS": "true"}
    try:
        with Stack(database_url, logs, external_worker=True, extra_env=extra) as stack:
            ids = _run(queue_events(database_url, receiver.url, secret, messages))
            result.facts["events queued"] = len(ids)
            first = stack.start_worker(lease_seconds=LEASE_SECONDS, batch_size=20)
            caught = wait_for(lambda: receiver.held > 0, 60, 0.02)
            first.kill()
            at_kill = messages_by_status(database_url)
            result.facts["at the kill: messages by status"] = at_kill
            result.facts["at the kill: requests held open"] = receiver.held
            result.check(
                "the first worker was killed mid-delivery (requests open, messages claimed)",
                caught and at_kill.get("sending", 0) > 0,
                f"held {receiver.held}, {at_kill}",
            )
            receiver.release.set()
            killed_at = time.monotonic()
            stack.start_worker(lease_seconds=LEASE_SECONDS, batch_size=20)
            done = wait_for(
                lambda: messages_by_status(database_url).get("delivered", 0) == len(ids), 120
            )
            result.facts["all delivered after the kill"] = f"{time.monotonic() - killed_at:.1f} s"
            final = messages_by_status(database_url)
            result.facts["messages by status, finally"] = final
            result.check(
                f"every one of the {len(ids)} messages is delivered, none failed",
                done and final.get("failed", 0) == 0,
                str(final),
            )
            seen = receiver.ids()
            missing = [i for i in ids if seen[i] == 0]
            duplicates = sum(n - 1 for n in seen.values() if n > 1)
            result.facts["deliveries received"] = sum(seen.values())
            result.facts["duplicates (same webhook-id again)"] = duplicates
            result.check(
                "the receiver saw every event's webhook-id at least once",
                not missing,
                f"{len(missing)} never seen, e.g. {missing[:3]}",
            )
            result.check(
                "every delivery carried a valid signature",
                receiver.unverified() == 0,
                f"{receiver.unverified()} did not verify",
            )
            result.check(
                "the receiver saw nothing it was not sent",
                set(seen) <= set(ids),
                str(sorted(set(seen) - set(ids))[:3]),
            )
    finally:
        receiver.stop()
    return result
