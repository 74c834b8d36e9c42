"""Traces: one per request, from the API span through each insurer call and its HTTP attempt to
every database statement, on SQLite and PostgreSQL; and nothing at all when no ``OTEL_*``
variable asks for it.

Spans go to the SDK's in-memory exporter through a provider each test builds and hands to the
app: no global tracer provider is set, so nothing is left behind for other tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import literal_column, select, text

from accelerator.auth.keys import create_key
from accelerator.auth.principal import Role
from accelerator.infra.database import Database, open_database
from accelerator.infra.driver_writes import open_driver_writes
from accelerator.infra.spans import OtelTracing
from accelerator.infra.statements import Statement
from accelerator.infra.tracing import TracingConfigError, exporters_wanted, start_tracing
from accelerator.server import create_app
from accelerator.settings import Settings
from bench.processes import free_port
from providers.sandbox import SandboxConfig, start_sandbox
from tests.api.conftest import power_bank_body
from tests.api.test_canonical_journey import SECRET, plain_settings

pytestmark = pytest.mark.anyio
Client = httpx.AsyncClient


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[OtelTracing]:
    """Tracing into ``exporter``, synchronously (each span exported as it ends)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield OtelTracing(provider)
    provider.shutdown()


@pytest.fixture
async def traced(
    database_url: str, database: Database, tracing: OtelTracing
) -> AsyncIterator[tuple[Client, Database]]:
    """The service, traced, on uvicorn on loopback, with the sandbox's canonical insurer
    (keystone) over the network: the real aiohttp transport under httpx, as in production."""
    sandbox = await start_sandbox("127.0.0.1", 0, SandboxConfig(callback_secret=SECRET))
    settings = Settings(
        database_url=database_url,
        sandbox_enabled=False,
        providers=plain_settings(sandbox.url, "http://127.0.0.1:9/v1/webhooks/insurers"),
        inbox_worker="external",
        quote_deadline_seconds=10.0,
    )
    port = free_port()
    app = create_app(settings, tracing=tracing)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())

    async def started() -> None:
        # uvicorn offers no event to wait on; a server that could not start ends its task.
        while not server.started:
            if task.done():
                task.result()  # its exception, if it raised one
                raise AssertionError("the server stopped before it started")
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(started(), timeout=60)
    except BaseException:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=30)
        await sandbox.stop()
        raise
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, database
    finally:
        server.should_exit = True
        await task
        await sandbox.stop()


async def _seller(client: Client, database: Database) -> dict[str, str]:
    key = await create_key(database, Role.SELLER, seller_id="s-1")
    headers = {"Authorization": f"Bearer {key.secret}"}
    body = power_bank_body(categories={"home/furniture": "1"})
    response = await client.put("/v1/sellers/s-1/profile", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return headers


def _server_span(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.kind == SpanKind.SERVER and s.name == name]
    return span


def _ancestors(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[str]:
    """The names of ``span``'s parents, nearest first."""
    by_id = {s.context.span_id: s for s in spans}
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def _statements(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes and "db.system.name" in s.attributes]


async def test_a_quote_request_is_one_trace_from_the_api_through_each_insurer_call_to_http(
    traced: tuple[Client, Database], exporter: InMemorySpanExporter, database_url: str
) -> None:
    client, database = traced
    headers = await _seller(client, database)
    exporter.clear()
    response = await client.post(
        "/v1/quote-requests?wait=true", json={"seller_id": "s-1"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert [o["status"] for o in response.json()["outcomes"]] == ["offered"]
    spans = exporter.get_finished_spans()

    # Named for its route template, never the raw URL.
    api = _server_span(spans, "POST /v1/quote-requests")
    assert api.attributes is not None
    assert api.attributes["http.route"] == "/v1/quote-requests"
    assert api.attributes["accelerator.request_id"] == response.headers["x-request-id"]
    assert {s.context.trace_id for s in spans} == {api.context.trace_id}

    (call,) = [s for s in spans if s.name == "insurer quote"]
    assert call.attributes is not None
    assert call.attributes["accelerator.insurer.id"] == "keystone"
    assert call.attributes["accelerator.insurer.outcome"] == "offered"
    assert _ancestors(call, spans) == ["quote fan-out", api.name]
    # The HTTP attempt under it, sent by aiohttp's connector under httpx, to the sandbox.
    (http,) = [s for s in spans if s.kind == SpanKind.CLIENT and s.name == "POST"]
    assert http.parent is not None
    assert http.parent.span_id == call.context.span_id
    assert http.attributes is not None
    assert http.attributes["http.status_code"] == 200
    assert str(http.attributes["http.url"]).endswith("/keystone/quotes")

    statements = _statements(spans)
    names = {s.name for s in statements}
    sqlite = database_url.startswith("sqlite")
    stored = "store_quote_request.request" if sqlite else "store_quote_request"
    # (The key's lookup, active_key, may be served by the process's key cache; the answer is
    # built from what the fan-out stored, so the request is not read back.)
    assert {"latest_profile", stored} <= names
    assert {s.attributes["db.system.name"] for s in statements if s.attributes} == {
        "sqlite" if sqlite else "postgresql"
    }
    # The insurer's answer is stored by a group commit, in this request's trace.
    (store,) = [s for s in spans if s.name == "store quote results"]
    assert store.context.trace_id == api.context.trace_id
    assert any(s.parent and s.parent.span_id == store.context.span_id for s in statements)

    # Binding one of its offers: a trace of its own, with the insurer's bind call in it.
    offer = response.json()["offers"][0]
    exporter.clear()
    bound = await client.post(
        f"/v1/offers/{offer['id']}/bind", json={}, headers={**headers, "Idempotency-Key": "b-1"}
    )
    assert bound.status_code == 201, bound.text
    spans = exporter.get_finished_spans()
    api = _server_span(spans, "POST /v1/offers/{offer_id}/bind")
    (bind,) = [s for s in spans if s.name == "insurer bind"]
    assert dict(bind.attributes or {})["accelerator.insurer.outcome"] == "bound"
    assert _ancestors(bind, spans) == [api.name]
    assert [s.name for s in spans if s.parent and s.parent.span_id == bind.context.span_id] == [
        "POST"
    ]


async def test_a_fan_out_the_request_does_not_wait_for_stays_in_the_requests_trace(
    traced: tuple[Client, Database], exporter: InMemorySpanExporter
) -> None:
    """Without ``?wait=true`` the answer does not wait for the fan-out, which usually ends
    after it (202; 200 if the sandbox was quicker than the answer): in the request's trace
    either way."""
    client, database = traced
    headers = await _seller(client, database)
    exporter.clear()
    response = await client.post("/v1/quote-requests", json={"seller_id": "s-1"}, headers=headers)
    assert response.status_code in (200, 202), response.text

    async def fan_out_done() -> list[ReadableSpan]:
        # The exporter offers no event to wait on.
        while not any(s.name == "quote fan-out" for s in exporter.get_finished_spans()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return list(exporter.get_finished_spans())

    spans = await asyncio.wait_for(fan_out_done(), timeout=30)
    api = _server_span(spans, "POST /v1/quote-requests")
    (fan_out,) = [s for s in spans if s.name == "quote fan-out"]
    assert fan_out.parent is not None
    assert fan_out.parent.span_id == api.context.span_id
    (call,) = [s for s in spans if s.name == "insurer quote"]
    assert call.context.trace_id == api.context.trace_id


async def test_a_coverage_check_traces_its_statements_and_its_receipts_commit(
    traced: tuple[Client, Database], exporter: InMemorySpanExporter
) -> None:
    client, database = traced
    key = await create_key(database, Role.CLAIMS)
    headers = {"Authorization": f"Bearer {key.secret}"}
    check = {
        "seller_id": "s-1",
        "incident_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "product_category": "home/furniture",
        "marketplace": "US",
        "claim_amount": {"amount": "250.00", "currency": "USD"},
    }
    for path, body in (
        ("/v1/coverage/checks", check),
        ("/v1/coverage/checks/batch", {"checks": [check, {**check, "seller_id": "s-2"}]}),
    ):
        exporter.clear()
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        spans = exporter.get_finished_spans()
        api = _server_span(spans, f"POST {path}")
        assert {s.context.trace_id for s in spans} == {api.context.trace_id}
        statements = _statements(spans)
        assert "sellers_with_events" in {s.name for s in statements}
        (flush,) = [s for s in spans if s.name == "store decision receipts"]
        assert flush.attributes is not None
        assert flush.attributes["accelerator.receipts"] == (1 if path.endswith("checks") else 2)
        # The receipts' statements, on the write engine's driver connection, under the flush.
        assert [s for s in statements if s.parent and s.parent.span_id == flush.context.span_id]
        if path.endswith("checks"):
            # A single check's registry read is shared with the checks arriving with it
            # (coverage.together), under a span of its own in the first one's trace.
            (read,) = [s for s in spans if s.name == "decide checks together"]
            assert read.attributes is not None
            assert read.attributes["accelerator.claims"] == 1
            assert [s.name for s in statements if s.parent == read.context] == [
                "sellers_with_events"
            ]


class StartedSpans(SpanProcessor):
    """The names of the spans started, ended or not."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.names.append(span.name)


async def test_sqlalchemy_statements_are_spans_only_inside_a_trace(
    database_url: str, tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    started = StartedSpans()
    assert isinstance(tracing.provider, TracerProvider)
    tracing.provider.add_span_processor(started)
    db = open_database(database_url, tracing=tracing)
    try:
        async with db.reading() as session:
            await session.execute(text("SELECT 1"))  # no trace: a poll, not worth one
        assert exporter.get_finished_spans() == ()
        with tracing.span("job"):
            async with db.reading() as session:
                await session.execute(text("SELECT 2"))
    finally:
        await db.dispose()
    job, *_ = [s for s in exporter.get_finished_spans() if s.name == "job"]
    # One span per statement (one hooked twice would start two, and end only one).
    assert started.names.count("SELECT") == 1
    (select,) = [s for s in exporter.get_finished_spans() if s.name == "SELECT"]
    assert select.parent is not None
    assert select.parent.span_id == job.context.span_id
    assert select.attributes is not None
    assert select.attributes["db.query.text"] == "SELECT 2"


async def test_a_failed_statement_ends_its_span_as_an_error(
    database_url: str, tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    db = open_database(database_url, tracing=tracing)
    try:
        with tracing.span("job"), pytest.raises(Exception, match="no_such_table"):
            async with db.reading() as session:
                await session.execute(text("SELECT * FROM no_such_table"))
    finally:
        await db.dispose()
    (select,) = [s for s in exporter.get_finished_spans() if s.name == "SELECT"]
    assert select.status.status_code == StatusCode.ERROR


@pytest.mark.parametrize(
    ("env", "exporters"),
    [
        ({}, ()),
        ({"OTEL_SERVICE_NAME": "accelerator"}, ()),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",)),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ("otlp", "console")),
        ({"OTEL_TRACES_EXPORTER": "none"}, ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://j:4318/v1/traces"}, ("otlp",)),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, ()),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"}, ("console",)),
    ],
)
def test_tracing_is_off_unless_an_otel_variable_asks_for_it(
    env: dict[str, str], exporters: tuple[str, ...]
) -> None:
    assert exporters_wanted(env) == exporters


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
    ],
)
def test_an_otel_setting_the_service_cannot_honour_is_named(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(TracingConfigError, match=named):
        exporters_wanted(env)


def test_the_service_name_defaults_to_the_accelerator_and_otel_service_name_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, expected in ((None, "insurance-accelerator"), ("quotes-eu", "quotes-eu")):
        if name is None:
            monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
        else:
            monkeypatch.setenv("OTEL_SERVICE_NAME", name)
        monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
        env = {"OTEL_TRACES_EXPORTER": "console", **({"OTEL_SERVICE_NAME": name} if name else {})}
        tracing = start_tracing(env)
        assert isinstance(tracing, OtelTracing)
        try:
            assert isinstance(tracing.provider, TracerProvider)
            assert tracing.provider.resource.attributes["service.name"] == expected
        finally:
            tracing.shutdown()


def test_with_no_otel_variable_nothing_is_instrumented_and_no_sdk_is_loaded(
    tmp_path: Path, sqlite_url: str
) -> None:
    """In a process of its own (the test process has the SDK loaded): the service built,
    started and asked a coverage check with no ``OTEL_*`` variable set. No tracer SDK, no span
    code of ours and no instrumentation is loaded (so nothing can be recorded), and the app has
    no OpenTelemetry middleware. (Litestar itself imports its OpenTelemetry plugin's module
    while building any app when the package is installed, to look for the plugin; that module
    and the API it imports are all that is loaded.)"""
    script = textwrap.dedent(
        f"""
        import sys
        from litestar.testing import TestClient
        from accelerator.server import create_app
        from accelerator.settings import Settings

        settings = Settings(
            database_url={sqlite_url!r}, bootstrap_admin_key="admin", sandbox_enabled=False
        )
        app = create_app(settings)
        with TestClient(app) as client:
            response = client.post(
                "/v1/coverage/checks",
                json={{
                    "seller_id": "s-9",
                    "incident_at": "2026-01-05T10:00:00Z",
                    "product_category": "home/furniture",
                    "marketplace": "US",
                    "claim_amount": {{"amount": "250.00", "currency": "USD"}},
                }},
                headers={{"Authorization": "Bearer admin"}},
            )
            assert response.status_code == 200, response.text
        try:
            app.plugins.get("OpenTelemetryPlugin")
        except KeyError:
            print("no OpenTelemetry plugin")
        watched = (
            "opentelemetry.sdk", "opentelemetry.instrumentation.httpx", "accelerator.infra.spans"
        )
        loaded = sorted(m for m in sys.modules if m.startswith(watched))
        print("loaded:", loaded)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "no OpenTelemetry plugin" in done.stdout, done.stdout
    assert "loaded: []" in done.stdout, done.stdout


async def test_probes_and_the_api_document_are_not_traced(
    traced: tuple[Client, Database], exporter: InMemorySpanExporter
) -> None:
    client, _ = traced
    exporter.clear()
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/schema/openapi.json")).status_code == 200
    assert (await client.get("/no/such/path")).status_code == 404
    # Only the unrouted request, named by its method alone (a raw path would be a new name for
    # every URL).
    assert [(s.name, s.kind) for s in exporter.get_finished_spans()] == [("GET", SpanKind.SERVER)]


async def test_the_driver_pools_statements_are_spans_named_for_their_statement(
    database_url: str, tracing: OtelTracing, exporter: InMemorySpanExporter
) -> None:
    probe = Statement("probe_statement", select(literal_column("1")), register=False)
    db = open_database(database_url, tracing=tracing)
    writes = open_driver_writes(database_url, tracing=tracing)
    try:
        with tracing.span("job"):
            assert [tuple(row) for row in await db.lookups.fetch(probe)] == [(1,)]
            row = await writes.fetch_one(probe)
            assert row is not None
            assert tuple(row) == (1,)
    finally:
        await writes.close()
        await db.dispose()
    spans = [s for s in exporter.get_finished_spans() if s.name == "probe_statement"]
    assert len(spans) == 2
    system = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert {dict(s.attributes or {})["db.system.name"] for s in spans} == {system}
