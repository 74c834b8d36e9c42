"""Several delivery workers at once (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; one writer on
SQLite) send each message once; a worker that died mid-delivery is taken over when its lease
ends, and the receiver gets the same webhook-id again (at least once)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accelerator.infra.database import Database
from accelerator.notifications.events import quote_request_completed
from accelerator.notifications.outbox import emit, wake_on_emit
from accelerator.notifications.sender import Sender
from accelerator.notifications.worker import DeliveryWorker
from schemas import QuoteRequestCompletedNotification
from tests.notifications.conftest import Client, Clock, Headers, register

pytestmark = pytest.mark.anyio


async def emit_many(database: Database, count: int) -> list[str]:
    events: list[QuoteRequestCompletedNotification] = [
        quote_request_completed(f"req-{i}", "s-1", datetime.now(UTC)) for i in range(count)
    ]
    async with database.writing() as session:
        for event in events:
            await emit(session, event, seller_id="s-1")
    return [event.id for event in events]


async def test_two_workers_at_once_send_each_message_once(
    client: Client, admin_headers: Headers, database: Database, start_receiver: Any, clock: Clock
) -> None:
    receiver = await start_receiver()
    await register(client, admin_headers, receiver.url)
    ids = await emit_many(database, 30)
    workers = [
        DeliveryWorker(
            database, Sender(allow_private=True), clock=clock, owner=f"w{n}", batch_size=4
        )
        for n in range(2)
    ]
    try:
        await asyncio.gather(*(worker.run_until_idle() for worker in workers))
    finally:
        for worker in workers:
            await worker.sender.close()
    assert Counter(d.webhook_id for d in receiver.deliveries) == Counter(ids)


async def test_a_message_whose_worker_died_is_sent_again_after_the_lease(
    client: Client, admin_headers: Headers, database: Database, start_receiver: Any, clock: Clock
) -> None:
    receiver = await start_receiver()
    await register(client, admin_headers, receiver.url)
    [event_id] = await emit_many(database, 1)
    dead = DeliveryWorker(database, Sender(allow_private=True), clock=clock, owner="dead")
    # It claims the message and dies before sending.
    assert await dead.repository.claim_due("dead", timedelta(seconds=60), 10, clock()) != []
    alive = DeliveryWorker(database, Sender(allow_private=True), clock=clock, owner="alive")
    try:
        assert await alive.run_until_idle() == 0  # still leased
        clock.advance(seconds=61)
        assert await alive.run_until_idle() == 1
    finally:
        await alive.sender.close()
        await dead.sender.close()
    assert [d.webhook_id for d in receiver.deliveries] == [event_id]


async def test_a_committed_event_wakes_the_in_process_worker_before_its_poll(
    client: Client, admin_headers: Headers, database: Database, start_receiver: Any
) -> None:
    receiver = await start_receiver()
    await register(client, admin_headers, receiver.url)
    # Polling once an hour: only the wake can send within the wait below.
    worker = DeliveryWorker(
        database, Sender(allow_private=True), owner="waking", poll_interval_seconds=3600
    )
    wake_on_emit(database, worker.wake)
    looked = asyncio.Event()
    claim_due = worker.repository.claim_due

    async def claim_and_tell(*args: Any) -> Any:
        claimed = await claim_due(*args)
        looked.set()
        return claimed

    worker.repository.claim_due = claim_and_tell  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        # Its first look finds nothing: the event comes after, while it waits for its poll.
        async with asyncio.timeout(30):
            await looked.wait()
        [event_id] = await emit_many(database, 1)
        async with asyncio.timeout(30):
            while not receiver.deliveries:  # noqa: ASYNC110 - the receiver offers no event
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
        await worker.sender.close()
    assert [d.webhook_id for d in receiver.deliveries] == [event_id]
