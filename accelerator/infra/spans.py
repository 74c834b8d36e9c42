"""The OpenTelemetry side of tracing: the tracer provider and every place that makes spans.

Imported only when tracing is on (:func:`accelerator.infra.tracing.start_tracing`); nothing here
is global. The provider is not installed as OpenTelemetry's global one: each part of the service
is given this :class:`OtelTracing` (the app, the database, the insurer clients, the workers), so
that an app built by a test traces into that test's provider and leaves no state behind.

What becomes a span (docs/operations.md, "Traces"):

- each API request (Litestar's OpenTelemetry plugin over the ASGI instrumentation), named by
  its method and route template once routed (``POST /v1/quote-requests``), never the raw path;
- each insurer call (``insurer quote``, with the insurer's id and outcome), and under it each
  HTTP attempt (the httpx instrumentation's transport wrapped around aiohttp's), which also
  sends the trace on to the insurer in ``traceparent``;
- each database statement, through SQLAlchemy or straight on the driver, only inside a trace:
  the polls of sweeps and workers that find nothing would otherwise start a trace each;
- group commits (quote results, decision receipts): one span per flush, a child of the first
  waiting caller's span and linked to the others';
- each worker job (a claimed inbox batch, a notification delivery).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind, StatusCode
from sqlalchemy import event

from accelerator import __version__
from accelerator.infra.statements import REGISTERED

if TYPE_CHECKING:
    import httpx
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin
    from litestar.types import ASGIApp, Receive, Scope, Send
    from sqlalchemy.ext.asyncio import AsyncEngine

    from accelerator.infra.driver_writes import DriverWrites
    from accelerator.infra.lookups import Lookups
    from accelerator.infra.statements import DialectName, Statement

#: The service's name in traces unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says.
DEFAULT_SERVICE_NAME = "insurance-accelerator"
#: Paths never traced: probes and the documentation would bury the requests worth seeing.
UNTRACED_PATHS = [r"^/health/", r"^/schema"]

# A span's trace context, as captured where work is queued and handed to the span doing it.
TraceContext = otel_context.Context


class OtelTracing:
    """The tracer provider of one running service and the spans its parts make."""

    def __init__(self, provider: trace.TracerProvider, *, owned: bool = False) -> None:
        """``owned``: shut the provider down (exporting what is left) at :meth:`shutdown`."""
        self.provider = provider
        self.tracer = provider.get_tracer("accelerator", __version__)
        self._owned = owned

    @classmethod
    def exporting(cls, exporters: Sequence[str], env: Mapping[str, str]) -> OtelTracing:
        """A provider exporting to ``exporters`` (``otlp``, ``console``) in batches, off the
        event loop; each exporter reads its own ``OTEL_EXPORTER_*`` variables, the provider
        ``OTEL_TRACES_SAMPLER`` and ``OTEL_BSP_*``."""
        resource = Resource.create({SERVICE_VERSION: __version__})
        if not env.get("OTEL_SERVICE_NAME") and str(
            resource.attributes.get(SERVICE_NAME, "")
        ).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
        provider = TracerProvider(resource=resource)
        for name in exporters:
            provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
        return cls(provider, owned=True)

    def shutdown(self) -> None:
        """Export the spans still queued and stop (a provider this service built only)."""
        if self._owned and isinstance(self.provider, TracerProvider):
            self.provider.shutdown()

    # --- spans of the service's own work ---------------------------------------------------

    @contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        parents: Sequence[TraceContext] = (),
    ) -> Iterator[Span]:
        """A span around the block, current inside it. With ``parents`` (the contexts of the
        callers whose work this block does together), a child of the first, linked to the rest."""
        parent = parents[0] if parents else None
        links = [
            trace.Link(context)
            for context in (trace.get_current_span(p).get_span_context() for p in parents[1:])
            if context.is_valid
        ]
        with self.tracer.start_as_current_span(
            name, context=parent, attributes=dict(attributes or {}), links=links
        ) as span:
            yield span

    @staticmethod
    def current() -> TraceContext:
        """The caller's trace context, to hand to work done later on its behalf."""
        return otel_context.get_current()

    @staticmethod
    def failed(span: Span, description: str) -> None:
        """Mark ``span`` as ended in failure (an insurer error, a delivery refused)."""
        span.set_status(StatusCode.ERROR, description)

    # --- the API -----------------------------------------------------------------------------

    def asgi_plugin(self) -> OpenTelemetryPlugin:
        """Litestar's OpenTelemetry plugin on this provider: a server span per request."""
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

        return OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=self.provider,
                # The plugin's middleware runs before routing: a method-only name until
                # route_names (after routing) names the span by its route template.
                scope_span_details_extractor=_method_only,
                # ASGI receive/send spans per message: noise beside the request's own.
                exclude_spans=["receive", "send"],
                exclude=UNTRACED_PATHS,
            )
        )

    @staticmethod
    def route_names(app: ASGIApp) -> ASGIApp:
        """Middleware naming the request's server span ``METHOD /route/{template}`` and stamping
        the request id on it (runs after routing, where the template is known)."""

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            span = trace.get_current_span()
            template = scope.get("path_template")
            if template and span.is_recording():
                span.update_name(f"{scope.get('method', 'WS')} {template}")
                span.set_attribute("http.route", template)
                request_id = scope.get("state", {}).get("request_id")
                if request_id:
                    span.set_attribute("accelerator.request_id", request_id)
            await app(scope, receive, send)

        return middleware

    # --- outbound HTTP ---------------------------------------------------------------------

    def client_transport(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """``transport`` with a client span per request (and ``traceparent`` sent on)."""
        from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport

        wrapped: httpx.AsyncBaseTransport = AsyncOpenTelemetryTransport(
            transport, tracer_provider=self.provider
        )
        return wrapped

    # --- database statements -----------------------------------------------------------------

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A span for each statement SQLAlchemy sends through ``engine`` (call once per
        engine: open_database does)."""
        system = _system(engine.dialect.name)
        sync_engine = engine.sync_engine

        def before(
            _conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: Any
        ) -> None:
            span = self._statement_span(system, sql, _operation(sql))
            if span is not None and context is not None:
                context._accelerator_span = span

        def after(
            _conn: Any, _cursor: Any, _sql: str, _params: Any, context: Any, _many: Any
        ) -> None:
            span = getattr(context, "_accelerator_span", None)
            if span is not None:
                span.end()
                context._accelerator_span = None

        def failed(exception_context: Any) -> None:
            context = exception_context.execution_context
            span = getattr(context, "_accelerator_span", None)
            if span is not None:
                span.record_exception(exception_context.original_exception)
                span.set_status(
                    StatusCode.ERROR, type(exception_context.original_exception).__name__
                )
                span.end()
                context._accelerator_span = None

        event.listen(sync_engine, "before_cursor_execute", before)
        event.listen(sync_engine, "after_cursor_execute", after)
        event.listen(sync_engine, "handle_error", failed)

    def lookups(self, inner: Lookups, *, sqlite: bool) -> Lookups:
        """The hot-path read pool, each read a span named for its statement."""
        return _TracedLookups(inner, self, "sqlite" if sqlite else "postgresql")

    def driver_writes(self, inner: DriverWrites, *, sqlite: bool) -> DriverWrites:
        """The autocommit write pool, each statement a span named for it."""
        return _TracedWrites(inner, self, "sqlite" if sqlite else "postgresql")

    def driver(self, connection: Any, *, sqlite: bool) -> Any:
        """A driver connection (asyncpg's or aiosqlite's) whose statements are spans."""
        return _TracedDriver(connection, self, "sqlite" if sqlite else "postgresql")

    @contextmanager
    def statement(self, system: str, sql: str, name: str | None = None) -> Iterator[None]:
        """A span around one statement run in the block (none outside a trace)."""
        span = self._statement_span(system, sql, name or _statement_name(sql))
        if span is None:
            yield
            return
        try:
            yield
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(StatusCode.ERROR, type(exc).__name__)
            raise
        finally:
            span.end()

    def _statement_span(self, system: str, sql: str, name: str) -> Span | None:
        # Only inside a trace: see the module's docstring.
        if not trace.get_current_span().get_span_context().is_valid:
            return None
        return self.tracer.start_span(
            name,
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": system,
                "db.operation.name": _operation(sql),
                "db.query.text": sql,  # parameters are never recorded, only placeholders
            },
        )


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT


def _method_only(scope: Scope) -> tuple[str, dict[str, str]]:
    # Unrouted requests (404s) keep this name: a raw path would make every URL a span name.
    return str(scope.get("method", "WS")), {}


def _system(dialect: str) -> str:
    return "postgresql" if dialect.startswith("postgres") else dialect


def _operation(sql: str) -> str:
    first = sql.lstrip().split(None, 1)
    return first[0].upper() if first else ""


@functools.cache
def _names_by_sql() -> dict[str, str]:
    """Each registered statement's name, by its SQL in either database."""
    return {
        statement.compiled(dialect).sql: statement.name
        for statement in REGISTERED
        for dialect in statement.dialects
    }


def _statement_name(sql: str) -> str:
    """The registered statement's name for ``sql`` (``take_audit_heads``), else its operation."""
    return _names_by_sql().get(sql) or _operation(sql)


class _TracedLookups:
    def __init__(self, inner: Lookups, tracing: OtelTracing, system: DialectName) -> None:
        self._inner = inner
        self._tracing = tracing
        self._system: DialectName = system

    async def fetch(self, statement: Statement, **params: Any) -> list[Any]:
        sql = statement.compiled(self._system).sql
        with self._tracing.statement(self._system, sql, statement.name):
            return await self._inner.fetch(statement, **params)

    async def close(self) -> None:
        await self._inner.close()


class _TracedWrites:
    def __init__(self, inner: DriverWrites, tracing: OtelTracing, system: DialectName) -> None:
        self._inner = inner
        self._tracing = tracing
        self._system: DialectName = system

    async def fetch_one(self, statement: Statement, **params: Any) -> Any:
        sql = statement.compiled(self._system).sql
        with self._tracing.statement(self._system, sql, statement.name):
            return await self._inner.fetch_one(statement, **params)

    async def close(self) -> None:
        await self._inner.close()


class _TracedDriver:
    """A driver connection whose statement methods are spans; everything else (transactions,
    state) is the connection's own."""

    def __init__(self, connection: Any, tracing: OtelTracing, system: str) -> None:
        self._connection = connection
        self._tracing = tracing
        self._system = system

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        with self._tracing.statement(self._system, sql):
            return await self._connection.execute(sql, *args, **kwargs)

    async def executemany(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        with self._tracing.statement(self._system, sql):
            return await self._connection.executemany(sql, *args, **kwargs)

    async def execute_fetchall(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        with self._tracing.statement(self._system, sql):
            return await self._connection.execute_fetchall(sql, *args, **kwargs)

    async def fetch(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        with self._tracing.statement(self._system, sql):
            return await self._connection.fetch(sql, *args, **kwargs)

    async def fetchrow(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        with self._tracing.statement(self._system, sql):
            return await self._connection.fetchrow(sql, *args, **kwargs)

    async def fetchval(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        with self._tracing.statement(self._system, sql):
            return await self._connection.fetchval(sql, *args, **kwargs)

    async def copy_records_to_table(self, table: str, **kwargs: Any) -> Any:
        with self._tracing.statement(self._system, f"COPY {table}", f"COPY {table}"):
            return await self._connection.copy_records_to_table(table, **kwargs)
