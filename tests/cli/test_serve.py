"""`accelerator serve` on a first start: a port taken or a bad setting stops it at once, in one
line that says what to change, before anything is migrated or started; a start that goes ahead
names the insurers it will ask. The inbox worker checks its adapters the same way."""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
import uvicorn
from click.testing import CliRunner, Result

from accelerator.cli import main
from accelerator.infra.database import Database
from bench import processes

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def server_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """uvicorn is never started here: its calls are recorded instead."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **kwargs: runs.append(kwargs))
    # Nor is SIGTERM taken from pytest (serve may run in a worker thread, where it cannot be).
    monkeypatch.setattr(signal, "signal", lambda *_args: None)
    # serve sets up the service's loggers on the runner's stream: put them back afterwards.
    loggers = [logging.getLogger(n) for n in ("accelerator", "providers", "uvicorn.error")]
    saved = [(log.handlers[:], log.level, log.propagate) for log in loggers]
    yield runs
    for log, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        log.handlers[:], log.level, log.propagate = handlers, level, propagate


@pytest.fixture
def sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where serve would create its embedded database (not created yet)."""
    path = tmp_path / "first-start.db"
    monkeypatch.setenv("ACCELERATOR_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.fixture(name="free_port")
def listenable_port() -> int:
    """A port nothing listens on (uvicorn is never started, so only serve's check sees it)."""
    return processes.free_port()


def serve(*args: str) -> Result:
    return CliRunner().invoke(main, ["serve", *args])


def assert_one_line_error(result: Result, *names: str) -> None:
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ")
    for name in names:
        assert name in line


def test_a_taken_api_port_names_the_flag_before_anything_is_migrated(
    sqlite_file: Path, taken_port: int, server_runs: list[dict[str, Any]]
) -> None:
    result = serve("--port", str(taken_port))
    assert_one_line_error(result, f"127.0.0.1:{taken_port}", "--port", "make run PORT=")
    assert not sqlite_file.exists()
    assert server_runs == []


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1"])
def test_a_port_no_socket_can_have_is_refused_in_one_line(
    sqlite_file: Path, server_runs: list[dict[str, Any]], port: str
) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", port])
    assert result.exit_code == 2  # click's usage error, not a traceback from bind()
    assert "Invalid value for '--port'" in result.output
    assert not sqlite_file.exists()
    assert server_runs == []


def test_a_taken_sandbox_port_names_the_setting_before_anything_is_migrated(
    sqlite_file: Path, taken_port: int, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCELERATOR_SANDBOX_PORT", str(taken_port))
    result = serve("--port", str(free_port))
    assert_one_line_error(result, f"127.0.0.1:{taken_port}", "ACCELERATOR_SANDBOX_PORT")
    assert not sqlite_file.exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCELERATOR_PROVIDERS", '{"acme": {"base_url": "http://acme.test", "adapter": "nope"}}'),
        ("ACCELERATOR_PROVIDERS", '{"acme": {"adapter": "harbor"}}'),
        ("ACCELERATOR_PROVIDERS", '{"acme": '),
        ("ACCELERATOR_QUOTE_DEADLINE_SECONDS", "soon"),
        ("ACCELERATOR_SANDBOX_PORT", "87650"),
        ("ACCELERATOR_RANKING_WEIGHTS", '{"colour": 1}'),
        ("ACCELERATOR_RANKING_WEIGHTS", '{"cost": "nan"}'),
        ("ACCELERATOR_RANKING_WEIGHTS", '{"cost": -0.1}'),
        ("ACCELERATOR_RANKING_WEIGHTS", '{"cost": 1e308, "rating": 1e308}'),
        ("ACCELERATOR_INBOX_LEASE_SECONDS", "inf"),
        ("ACCELERATOR_RULESET_OVERRIDES", '{"US.min_per_occurrence": "a lot"}'),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_before_anything_is_migrated(
    sqlite_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    free_port: int,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert_one_line_error(serve("--port", str(free_port)), variable)
    assert not sqlite_file.exists()


async def test_the_start_names_each_configured_insurer_once(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    server_runs: list[dict[str, Any]],
    free_port: int,
) -> None:
    monkeypatch.setenv("ACCELERATOR_DATABASE_URL", database.url)
    providers = {
        "harbor": {"base_url": "https://harbor.test"},
        "summit": {"base_url": "https://summit.test", "adapter": "harbor"},
        "acorn": {"base_url": "https://acorn.test", "adapter": "acord", "enabled": False},
    }
    monkeypatch.setenv("ACCELERATOR_PROVIDERS", msgspec.json.encode(providers).decode())
    result = await anyio.to_thread.run_sync(lambda: serve("--port", str(free_port)))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for expected in (
        "insurer harbor: adapter harbor at https://harbor.test",
        "insurer summit: adapter harbor at https://summit.test",
        "insurer acorn: adapter acord at https://acorn.test (disabled: never asked)",
    ):
        assert sum(line.endswith(expected) for line in lines) == 1, result.output
    assert len(server_runs) == 1


async def test_the_sandbox_insurers_can_run_beside_a_configured_one(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    server_runs: list[dict[str, Any]],
    free_port: int,
) -> None:
    monkeypatch.setenv("ACCELERATOR_DATABASE_URL", database.url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sandbox_port = probe.getsockname()[1]
    monkeypatch.setenv("ACCELERATOR_SANDBOX_PORT", str(sandbox_port))
    monkeypatch.setenv("ACCELERATOR_SANDBOX_WITH_PROVIDERS", "true")
    # A partner's own insurer, and one that takes a sandbox insurer's id.
    providers = {
        "mine": {"base_url": "https://mine.test", "adapter": "harbor"},
        "summit": {"base_url": "https://summit.test", "adapter": "harbor"},
    }
    monkeypatch.setenv("ACCELERATOR_PROVIDERS", msgspec.json.encode(providers).decode())
    result = await anyio.to_thread.run_sync(lambda: serve("--port", str(free_port)))
    assert result.exit_code == 0, result.output
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    for expected in (
        f"insurer harbor: adapter harbor at {sandbox}/harbor",
        f"insurer meridian: adapter meridian at {sandbox}/meridian",
        f"insurer acorn: adapter acord at {sandbox}/acorn",
        "insurer summit: adapter harbor at https://summit.test",
        "insurer mine: adapter harbor at https://mine.test",
    ):
        assert sum(line.endswith(expected) for line in result.output.splitlines()) == 1, (
            result.output
        )
    # The API workers are started with both.
    started_with = msgspec.json.decode(os.environ["ACCELERATOR_PROVIDERS"])
    assert sorted(started_with) == ["acorn", "harbor", "meridian", "mine", "summit"]


@pytest.mark.postgres
def test_the_inbox_worker_names_an_unknown_adapter_in_one_line_too(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCELERATOR_DATABASE_URL", postgres_url)
    monkeypatch.setenv("ACCELERATOR_PROVIDERS", '{"acme": {"base_url": "http://a.test"}}')
    result = CliRunner().invoke(main, ["worker", "--until-idle"])
    assert_one_line_error(result, "ACCELERATOR_PROVIDERS", "'acme'")
