"""Whether this process traces, decided by the standard ``OTEL_*`` variables.

Tracing is off unless a variable asks for it: ``OTEL_TRACES_EXPORTER`` naming an exporter other
than ``none``, or an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` wins over both. Off, this
module is all that runs: OpenTelemetry is not imported, nothing is wrapped, and every traced
place is a plain ``is None`` test (docs/operations.md, "Traces"). On, the OpenTelemetry side
lives in :mod:`accelerator.infra.spans`, imported only then; the rest of the service knows
only the :class:`Tracing` protocol.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx
    from litestar.plugins import PluginProtocol
    from litestar.types import ASGIApp
    from sqlalchemy.ext.asyncio import AsyncEngine

    from accelerator.infra.driver_writes import DriverWrites
    from accelerator.infra.lookups import Lookups

#: The exporters ``OTEL_TRACES_EXPORTER`` may name (OTLP over HTTP: the gRPC exporter is not
#: installed, being many times the size).
EXPORTERS = ("otlp", "console", "none")


class Tracing(Protocol):
    """What the service asks of tracing, wherever it makes spans; given to the parts that
    trace (the app, the database, the insurer clients, the workers) when tracing is on, None
    otherwise. :class:`accelerator.infra.spans.OtelTracing` does it with OpenTelemetry; OTel's
    own types (spans, contexts) are ``Any`` here, so that this module needs none of it."""

    def span(
        self, name: str, attributes: Mapping[str, Any] | None = None, *, parents: Sequence[Any] = ()
    ) -> AbstractContextManager[Any]:
        """A span around the block, current inside it; with ``parents`` (contexts from
        :meth:`current`), a child of the first and linked to the others."""
        ...

    def current(self) -> Any:
        """The caller's trace context, to hand to work done later on its behalf."""
        ...

    def failed(self, span: Any, description: str) -> None:
        """Mark ``span`` as ended in failure."""
        ...

    def asgi_plugin(self) -> PluginProtocol:
        """A server span per API request."""
        ...

    def route_names(self, app: ASGIApp) -> ASGIApp:
        """Middleware naming the request's span by its route template."""
        ...

    def client_transport(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """``transport`` with a client span per request."""
        ...

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A span per statement SQLAlchemy sends through ``engine``."""
        ...

    def lookups(self, inner: Lookups, *, sqlite: bool) -> Lookups:
        """The hot-path read pool with a span per read."""
        ...

    def driver_writes(self, inner: DriverWrites, *, sqlite: bool) -> DriverWrites:
        """The autocommit write pool with a span per statement."""
        ...

    def driver(self, connection: Any, *, sqlite: bool) -> Any:
        """A driver connection whose statements are spans."""
        ...

    def shutdown(self) -> None:
        """Export what is queued and stop (a provider the service built only)."""
        ...


class TracingConfigError(ValueError):
    """An ``OTEL_*`` variable this service cannot honour; the message names it."""


def exporters_wanted(env: Mapping[str, str]) -> tuple[str, ...]:
    """The span exporters the ``OTEL_*`` variables in ``env`` ask for; empty when tracing is off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ()
    named = tuple(
        name.strip().lower()
        for name in env.get("OTEL_TRACES_EXPORTER", "").split(",")
        if name.strip()
    )
    for name in named:
        if name not in EXPORTERS:
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} "
                f"(use one of {', '.join(EXPORTERS)})"
            )
    if not named and (
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        # An endpoint alone means OTLP, the specification's default exporter.
        named = ("otlp",)
    if "otlp" in named:
        protocol = env.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
        ).strip()
        if protocol not in ("", "http/protobuf"):
            raise TracingConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not supported; "
                "this service exports OTLP over HTTP (http/protobuf)"
            )
    return tuple(name for name in named if name != "none")


def start_tracing(env: Mapping[str, str] | None = None) -> Tracing | None:
    """A tracer provider with the exporters the environment names, or None (tracing off)."""
    env = os.environ if env is None else env
    exporters = exporters_wanted(env)
    if not exporters:
        return None
    from accelerator.infra.spans import OtelTracing  # OpenTelemetry: only when tracing

    return OtelTracing.exporting(exporters, env)
