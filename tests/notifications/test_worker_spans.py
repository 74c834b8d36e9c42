"""With tracing on, each notification the delivery worker sends is a span carrying its endpoint
and outcome, under a span for the claimed batch; a poll that finds nothing makes no trace."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accelerator.infra.database import Database, open_database
from accelerator.infra.spans import OtelTracing
from accelerator.notifications.sender import Sender
from accelerator.notifications.worker import DeliveryWorker
from tests.notifications.conftest import Client, Clock, Headers, register
from tests.notifications.test_workers import emit_many

pytestmark = pytest.mark.anyio


async def test_each_delivery_is_a_span_under_its_batch_and_empty_polls_make_none(
    client: Client,
    admin_headers: Headers,
    database: Database,
    database_url: str,
    start_receiver: Any,
    clock: Clock,
) -> None:
    receiver = await start_receiver()
    endpoint = await register(client, admin_headers, receiver.url)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db = open_database(database_url, tracing=OtelTracing(provider))
    worker = DeliveryWorker(db, Sender(allow_private=True), clock=clock, owner="traced")
    try:
        assert await worker.run_once() == 0
        assert exporter.get_finished_spans() == ()
        await emit_many(database, 2)
        assert await worker.run_until_idle() == 2
    finally:
        await worker.sender.close()
        await db.dispose()
        provider.shutdown()
    assert len(receiver.deliveries) == 2
    spans = exporter.get_finished_spans()
    (batch,) = [s for s in spans if s.name == "notification batch"]
    deliveries = [s for s in spans if s.name == "notification delivery"]
    assert len(deliveries) == 2
    for span in deliveries:
        assert span.parent is not None
        assert span.parent.span_id == batch.context.span_id
        attributes = dict(span.attributes or {})
        assert attributes["accelerator.notification.endpoint_id"] == endpoint["endpoint"]["id"]
        assert attributes["accelerator.notification.outcome"] == "delivered"
        assert attributes["http.response.status_code"] == 200
