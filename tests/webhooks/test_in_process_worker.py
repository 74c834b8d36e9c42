"""How the worker takes its batches: a whole batch in one transaction when every delivery in it
applies, one by one when one cannot; and, inside the API process, receives go first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from accelerator.infra.database import Database
from accelerator.webhooks.models import InboxEvent
from accelerator.webhooks.turns import ReceivesFirst
from accelerator.webhooks.worker import InboxWorker
from tests.webhooks.callbacks import bound, policy_change, quoted, signed_headers
from tests.webhooks.conftest import BIND_ID, SUBMISSION

pytestmark = pytest.mark.anyio
Client = AsyncTestClient[Litestar]
Headers = dict[str, str]
URL = "/v1/webhooks/insurers/meridian"


async def deliver(client: Client, body: bytes) -> None:
    response = await client.post(URL, content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text


async def statuses(database: Database) -> list[tuple[str, int]]:
    async with database.reading() as session:
        rows = await session.execute(
            select(InboxEvent.status, InboxEvent.attempts).order_by(InboxEvent.id)
        )
        return [(status, attempts) for status, attempts in rows.all()]


async def test_a_batch_with_one_delivery_waiting_for_its_predecessor_applies_the_others_once(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_quote: str
) -> None:
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    cancel = policy_change(
        "policy.cancelled", "2027-03-01T08:01:00Z", occurred_at="2027-02-20T00:00:00Z", seq=9,
    )  # fmt: skip
    await deliver(client, cancel)  # no such policy yet
    revised = quoted(SUBMISSION, occurred_at="2026-11-26T18:02:00Z", seq=2, premium_minor=150000)
    await deliver(client, revised)

    assert await worker.run_once() == 3  # one batch

    # Each settled on its own, once: the batch's rolled-back attempt is not counted against
    # them, and the quote took both offers in order (the revised one replaced the first).
    assert await statuses(worker.db) == [("applied", 1), ("parked", 1), ("applied", 1)]
    view = (await client.get(f"/v1/quote-requests/{pending_quote}", headers=admin_headers)).json()
    [offer] = view["offers"]
    assert offer["offer"]["premium"]["amount"] == "1500.00"


@pytest.fixture
def turns() -> ReceivesFirst:
    return ReceivesFirst(one_writer=False)


@asynccontextmanager
async def running(worker: InboxWorker) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def applied_within(database: Database, seconds: float) -> float | None:
    """Seconds until every stored delivery is applied, or None if not within ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if {status for status, _ in await statuses(database)} == {"applied"}:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    return None


@pytest.fixture
def in_process_worker(worker: InboxWorker, turns: ReceivesFirst) -> InboxWorker:
    return InboxWorker(
        worker.db,
        worker.partners,
        owner="in-process",
        poll_interval_seconds=0.02,
        turns=turns,
        give_way_seconds=30,
    )


async def test_the_in_process_worker_applies_once_the_receives_in_progress_are_done(
    client: Client, in_process_worker: InboxWorker, turns: ReceivesFirst, pending_quote: str
) -> None:
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    async with running(in_process_worker):
        async with turns.receiving():  # another delivery being verified and stored
            assert await applied_within(in_process_worker.db, 0.5) is None
            assert await statuses(in_process_worker.db) == [("received", 0)]
        # It would give way for 30 s; it goes as soon as no receive is in progress.
        assert await applied_within(in_process_worker.db, 5) is not None


async def test_the_in_process_worker_still_applies_during_an_endless_burst_of_receives(
    client: Client, in_process_worker: InboxWorker, turns: ReceivesFirst, pending_quote: str
) -> None:
    await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
    in_process_worker.give_way_seconds = 0.3
    # Receives never stop arriving.
    async with turns.receiving(), running(in_process_worker):
        waited = await applied_within(in_process_worker.db, 10)
    assert waited is not None, "the worker gave way for ever"
    assert waited >= 0.25


async def test_events_about_a_policy_bound_in_the_same_batch_are_applied_with_it(
    client: Client, admin_headers: Headers, worker: InboxWorker, pending_bind: str
) -> None:
    await deliver(client, bound(BIND_ID, occurred_at="2026-11-26T18:10:00Z", seq=4))
    renewal = policy_change(
        "policy.renewed", "2027-12-01T08:01:00Z", occurred_at="2027-11-01T00:00:00Z", seq=5,
        expiresAt="2028-12-01T08:01:00Z",
    )  # fmt: skip
    await deliver(client, renewal)

    assert await worker.run_once() == 2  # one batch, one transaction
    assert await statuses(worker.db) == [("applied", 1), ("applied", 1)]
    [policy] = (await client.get("/v1/sellers/s-1/policies", headers=admin_headers)).json()
    document = (await client.get(f"/v1/policies/{policy['id']}", headers=admin_headers)).json()
    assert sorted(e["kind"] for e in document["events"]) == ["issued", "renewed", "verified"]


# --- taking turns on one writer (SQLite) -------------------------------------------------------


async def test_on_one_writer_a_receive_arriving_during_a_batch_starts_when_the_batch_ends() -> None:
    turns = ReceivesFirst(one_writer=True)
    started: list[str] = []

    async def receive() -> None:
        async with turns.receiving():
            started.append("receive")

    async with turns.applying():
        receiving = asyncio.create_task(receive())
        await asyncio.sleep(0.05)
        assert started == []  # waiting for the batch, not for SQLite's busy handler
        started.append("batch done")
    await asyncio.wait_for(receiving, 30)
    assert started == ["batch done", "receive"]


async def test_after_a_batch_receives_waited_for_the_worker_leaves_them_as_long_again() -> None:
    turns = ReceivesFirst(one_writer=True)

    async def receive() -> None:
        async with turns.receiving():
            pass

    began = time.monotonic()
    async with turns.applying():
        receiving = asyncio.create_task(receive())
        await asyncio.sleep(0.2)
    assert time.monotonic() - began >= 0.38  # the batch's 0.2 s, then as long again
    await asyncio.wait_for(receiving, 30)


async def test_where_writers_do_not_queue_receives_never_wait_for_a_batch() -> None:
    # On one writer the receive would wait for the batch, here up to a minute: a receive that
    # enters at once (well under that, however busy the machine) did not wait.
    turns = ReceivesFirst(one_writer=False, max_receive_wait=60)  # PostgreSQL
    began = time.monotonic()
    async with turns.applying(), turns.receiving():
        entered = time.monotonic() - began
    assert entered < 30
