"""Under ``serve --workers N`` each worker is its own process: its metrics go to files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums them. Two real processes record here, as two
workers would, and the scrape sees both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from accelerator.infra import metrics
from tests.health.scrape import parse, value

#: What one worker process does: two decisions of a batch, one quote, a breaker, a snapshot.
WORKER = """
from datetime import UTC, datetime
from types import SimpleNamespace
from accelerator.infra.metrics import PROMETHEUS, Backlog, process_stopped
from schemas import BreakerState

exempt = SimpleNamespace(decision="exempt", reasons=[])  # what the count reads of a decision
PROMETHEUS.decisions([exempt, exempt])
PROMETHEUS.quote_finished("offered")
PROMETHEUS.breakers({"harbor": BreakerState.OPEN})
now = datetime.now(UTC)
PROMETHEUS.backlogs([Backlog("inbox", {"received": 4}, 4, now)], now)
if STOP:
    process_stopped()
"""


def run_worker(directory: Path, *, stop: bool) -> None:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(directory)}
    subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", f"STOP = {stop}\n{WORKER}"], env=env, check=True, timeout=120
    )


def scrape(directory: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return parse(generate_latest(registry).decode())


def test_two_worker_processes_counters_are_summed(tmp_path: Path) -> None:
    run_worker(tmp_path, stop=False)
    run_worker(tmp_path, stop=False)
    samples = scrape(tmp_path)
    name = "accelerator_coverage_decisions_total"
    assert value(samples, name, decision="exempt", reason="none") == 4
    assert value(samples, "accelerator_quote_requests_total", status="offered") == 2


def test_a_stopped_workers_breakers_and_snapshot_leave_the_scrape(tmp_path: Path) -> None:
    run_worker(tmp_path, stop=True)
    samples = scrape(tmp_path)
    # Its counts stay (they happened); its live gauges went with it.
    assert value(samples, "accelerator_quote_requests_total", status="offered") == 1
    assert not any(name == "accelerator_insurer_breaker_state" for name, _ in samples)
    assert not any(name == "accelerator_backlog_messages" for name, _ in samples)


def test_serve_makes_an_empty_directory_for_its_workers_and_removes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    directory = metrics.prepare_multiprocess_dir()
    assert directory is not None
    assert os.environ[metrics.MULTIPROC_ENV] == str(directory)
    assert list(directory.iterdir()) == []
    metrics.remove_multiprocess_dir(directory)
    assert not directory.exists()
    assert metrics.MULTIPROC_ENV not in os.environ


def test_serve_leaves_the_operators_own_directory_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    assert metrics.prepare_multiprocess_dir() is None
    assert os.environ[metrics.MULTIPROC_ENV] == str(tmp_path)
