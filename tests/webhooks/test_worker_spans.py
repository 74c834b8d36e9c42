"""With tracing on, each inbox job (a claimed batch of deliveries) is a span, its statements
under it; a poll that finds nothing makes no trace at all."""

from __future__ import annotations

import pytest
from litestar import Litestar
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accelerator.infra.database import open_database
from accelerator.infra.spans import OtelTracing
from accelerator.server import runtime_of
from accelerator.webhooks.worker import InboxWorker
from tests.webhooks.callbacks import quoted
from tests.webhooks.conftest import SUBMISSION
from tests.webhooks.test_inbox_worker import Client, deliver

pytestmark = pytest.mark.anyio


async def test_each_inbox_job_is_a_span_with_its_statements_and_empty_polls_none(
    client: Client, app: Litestar, database_url: str, pending_quote: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db = open_database(database_url, tracing=OtelTracing(provider))
    worker = InboxWorker(db, runtime_of(app).services.partners, owner="traced-worker")
    try:
        assert await worker.run_once() == 0
        assert exporter.get_finished_spans() == ()

        await deliver(client, quoted(SUBMISSION, occurred_at="2026-11-26T18:01:00Z", seq=1))
        assert await worker.run_until_idle() == 1
    finally:
        await db.dispose()
        provider.shutdown()
    spans = exporter.get_finished_spans()
    (job,) = [s for s in spans if s.name == "inbox batch"]
    assert job.parent is None
    assert job.attributes is not None
    assert job.attributes["accelerator.inbox.deliveries"] == 1
    under_job = [s for s in spans if s.parent and s.parent.span_id == job.context.span_id]
    assert under_job
    assert all("db.system.name" in (s.attributes or {}) for s in under_job)
    assert {s.context.trace_id for s in spans} == {job.context.trace_id}
