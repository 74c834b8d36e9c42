"""An ``OTEL_*`` setting the service cannot honour stops ``serve`` in one line naming it, before
anything is migrated or started (as a bad ``ACCELERATOR_*`` setting does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_serve import (
    assert_one_line_error,
    listenable_port,
    serve,
    server_runs,
    sqlite_file,
)

# Fixtures: a port and a database path of the test's own; uvicorn never started.
__all__ = ["listenable_port", "server_runs", "sqlite_file"]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            },
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
    ],
)
def test_an_otel_setting_the_service_cannot_honour_is_one_line_before_anything_starts(
    sqlite_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    free_port: int,
    variables: dict[str, str],
    named: str,
) -> None:
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    assert_one_line_error(serve("--port", str(free_port)), named)
    assert not sqlite_file.exists()
