"""Each attempt at an outbound notification moves ``accelerator_notification_deliveries_total``
by endpoint and result, as ``/metrics`` shows it."""

from __future__ import annotations

from typing import Any

import pytest

from accelerator.infra.database import Database
from accelerator.infra.metrics import PROMETHEUS
from accelerator.notifications.sender import Sender
from accelerator.notifications.worker import DeliveryWorker
from tests.health.scrape import scrape, value
from tests.notifications.conftest import Client, Clock, Headers, register
from tests.notifications.test_workers import emit_many

pytestmark = pytest.mark.anyio
NAME = "accelerator_notification_deliveries_total"


async def test_each_attempt_counts_by_endpoint_and_result(
    client: Client, admin_headers: Headers, database: Database, start_receiver: Any, clock: Clock
) -> None:
    receiver = await start_receiver()
    receiver.answers = [503]  # the first attempt fails, the retry is delivered
    endpoint = (await register(client, admin_headers, receiver.url))["endpoint"]["id"]
    await emit_many(database, 1)
    worker = DeliveryWorker(
        database, Sender(allow_private=True), clock=clock, owner="metrics", metrics=PROMETHEUS
    )
    before = await scrape(client)
    try:
        assert await worker.run_until_idle() == 1
        clock.advance(hours=1)  # past the first retry's wait
        assert await worker.run_until_idle() == 1
    finally:
        await worker.sender.close()
    after = await scrape(client)

    for result in ("retrying", "delivered"):
        labels = {"endpoint": endpoint, "result": result}
        assert value(after, NAME, **labels) - value(before, NAME, **labels) == 1, result
    assert len(receiver.deliveries) == 2
