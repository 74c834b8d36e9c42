"""``/metrics`` and the HTTP request metrics, through Litestar's Prometheus plugin.

The plugin's middleware labels each request with its route template (``group_path``), never the
raw path, so ``/v1/quote-requests/{request_id}`` is one series, not one per request. Ours is
the plugin's middleware with its label children kept per (method, template, status): the
plugin's own looks each family and child up again on every request, which the coverage check's
benchmark could see (docs/performance.md).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Final

from litestar.exceptions import HTTPException
from litestar.plugins.prometheus import (
    PrometheusConfig,
    PrometheusController,
    PrometheusMiddleware,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Message, Receive, Scope, Send

METRICS_PATH: Final = "/metrics"
#: The HTTP families are named ``accelerator_http_requests_total`` and so on.
_PREFIX: Final = "accelerator_http"
_APP_NAME: Final = "accelerator"
#: Requests take from a fraction of a millisecond (a coverage check) to a quote deadline.
_BUCKETS: Final[list[str | float]] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
]  # fmt: skip


class RouteMetricsMiddleware(PrometheusMiddleware):
    """Litestar's Prometheus middleware (same families, labels and behaviour) with each label
    child bound once per (method, route template, status)."""

    # On the class, as the plugin keeps its families: Litestar builds a middleware per route,
    # and the families (so their children) are the process's.
    _children: ClassVar[dict[tuple[str, str, int], tuple[Any, Any, Any | None]]] = {}
    _in_progress: ClassVar[dict[tuple[str, str], Any]] = {}

    def _labels(self, method: str, template: str, status: int) -> dict[str, str | int | float]:
        return {"method": method, "path": template, "status_code": status, "app_name": _APP_NAME}

    def _finished(self, method: str, template: str, status: int) -> tuple[Any, Any, Any | None]:
        key = (method, template, status)
        children = self._children.get(key)
        if children is None:
            labels = self._labels(method, template, status)
            values = list(labels.values())
            errors = (
                self.requests_error_count(labels).labels(*values)
                if status >= HTTP_500_INTERNAL_SERVER_ERROR
                else None
            )
            children = (
                self.request_count(labels).labels(*values),
                self.request_time(labels).labels(*values),
                errors,
            )
            self._children[key] = children
        return children

    def _running(self, method: str, template: str) -> Any:
        key = (method, template)
        gauge = self._in_progress.get(key)
        if gauge is None:
            labels = self._labels(method, template, 200)
            gauge = self.requests_in_progress(labels).labels(*labels.values())
            self._in_progress[key] = gauge
        return gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]  # type: ignore[typeddict-item]  # http scopes only
        template = scope["path_template"]
        started = time.perf_counter()
        answered = {"status": 200, "seconds": 0.0}

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answered["seconds"] = time.perf_counter() - started
            await send(message)

        running = self._running(method, template)
        running.inc()
        try:
            await self.app(scope, receive, timed_send)
        except Exception as exc:
            # Refused by a middleware after this one (the API key's 401): the exception
            # handler outside answers it, so its status never passes through timed_send.
            answered["status"] = exc.status_code if isinstance(exc, HTTPException) else 500
            answered["seconds"] = time.perf_counter() - started
            raise
        finally:
            running.dec()
            count, duration, errors = self._finished(method, template, int(answered["status"]))
            if errors is not None:
                errors.inc()
            count.inc()
            duration.observe(answered["seconds"])


def prometheus_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name=_APP_NAME,
        prefix=_PREFIX,
        group_path=True,
        buckets=_BUCKETS,
        # Scrapes would otherwise be most of the requests an idle service counts.
        exclude=[f"^{METRICS_PATH}$"],
        scopes={"http"},  # type: ignore[arg-type]
        middleware_class=RouteMetricsMiddleware,
    )


class MetricsController(PrometheusController):
    """``GET /metrics``: the plugin's controller (the Prometheus text format, every worker's
    files summed when ``PROMETHEUS_MULTIPROC_DIR`` is set), kept out of the API's OpenAPI
    document: it is for scrapers, and documented in docs/operations.md."""

    path = METRICS_PATH
    include_in_schema = False


__all__ = ["METRICS_PATH", "MetricsController", "RouteMetricsMiddleware", "prometheus_config"]
